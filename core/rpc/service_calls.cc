#include "core/rpc/service_calls.h"

#include "core/common/utf8.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/model/values.h"
#include "core/rpc/peer_client.h"

namespace domian::rpc {

// One forwarded Invoke, alive until its answer (or failure) has been
// handed on; deletes itself on the EventLoop thread. It holds the call's
// place in its lane until then.
class ServiceCalls::Forward final : public EventLoop::Tag {
 public:
  Forward(ServiceCalls& owner, std::shared_ptr<v1::Domain::Stub> stub, std::string service,
          ForwardTarget target, v1::InvokeResponse* response, CallLanes::SlotRef slot, Done done)
      : owner_(owner),
        stub_(std::move(stub)),
        service_(std::move(service)),
        target_(std::move(target)),
        response_(response),
        slot_(std::move(slot)),
        done_(std::move(done)) {}

  void Start(const v1::InvokeRequest& request, std::chrono::system_clock::time_point deadline,
             grpc::CompletionQueue* queue) {
    context_.set_deadline(deadline);
    reader_ = stub_->PrepareAsyncInvoke(&context_, request, queue);
    reader_->StartCall();
    reader_->Finish(response_, &status_, this);
  }
  void Cancel() { context_.TryCancel(); }

  void Proceed(bool /*ok: always true for a unary Finish*/) override {
    owner_.ForwardEnded(this);
    if (status_.error_code() == grpc::StatusCode::UNAVAILABLE ||
        status_.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      done_({grpc::StatusCode::FAILED_PRECONDITION,
             "node " + target_.node + " (" + target_.address + "), which runs " + service_ +
                 ", did not answer: " + status_.error_message()});
    } else {
      done_(status_);
    }
    delete this;
  }

 private:
  ServiceCalls& owner_;
  std::shared_ptr<v1::Domain::Stub> stub_;
  std::string service_;
  ForwardTarget target_;
  v1::InvokeResponse* response_;
  CallLanes::SlotRef slot_;
  Done done_;
  grpc::ClientContext context_;
  grpc::Status status_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::InvokeResponse>> reader_;
};

ServiceCalls::ServiceCalls(membership::Membership& membership, services::ServiceHost* plugins,
                           EventLoop& loop)
    : membership_(membership), plugins_(plugins), loop_(loop) {}

ServiceCalls::~ServiceCalls() { Stop(); }

void ServiceCalls::Stop() {
  {
    std::lock_guard lock(forwards_mu_);
    stopping_ = true;
    // Their answers come back on the EventLoop, cancelled, before it stops.
    for (Forward* forward : forwards_) forward->Cancel();
  }
  lanes_.Stop();
}

void ServiceCalls::OnLane(const std::string& lane, const CallInfo& call, size_t bytes,
                          std::function<grpc::Status()> job, Done done) {
  lanes_.Submit(
      lane, call, bytes,
      [job = std::move(job)](const CallLanes::SlotRef& /*held until answered*/, Done answer) {
        answer(job());
      },
      std::move(done));
}

void ServiceCalls::Invoke(const CallInfo& call, const v1::InvokeRequest& request,
                          v1::InvokeResponse* response, Done done) {
  // The service name keys its lane: only names a service can have.
  if (!IsValidServiceName(request.service())) {
    done({grpc::StatusCode::INVALID_ARGUMENT, "not a service name: " + request.service()});
    return;
  }
  lanes_.Submit(
      "service " + request.service(), call, request.ByteSizeLong(),
      [this, call, request, response](CallLanes::SlotRef slot, Done answer) {
        std::optional<ForwardTarget> forward;
        const grpc::Status status = RunInvoke(request, *response, forward);
        if (!forward) {
          answer(status);
          return;
        }
        StartForward(call, request, response, *forward, std::move(slot), std::move(answer));
      },
      std::move(done));
}

void ServiceCalls::StartForward(const CallInfo& call, const v1::InvokeRequest& request,
                                v1::InvokeResponse* response, const ForwardTarget& target,
                                CallLanes::SlotRef slot, Done done) {
  v1::InvokeRequest forwarded = request;
  forwarded.set_hops(request.hops() + 1);
  // No later than the caller still waits.
  const auto deadline = std::min(std::chrono::system_clock::now() + kForwardDeadline,
                                 call.deadline);
  std::shared_ptr<v1::Domain::Stub> stub = StubFor(target.address);
  std::unique_lock lock(forwards_mu_);
  if (stopping_) {
    lock.unlock();
    done({grpc::StatusCode::UNAVAILABLE, "the node is shutting down"});
    return;
  }
  // Started under the lock, so Stop() either refuses it above or cancels it.
  auto* forward = new Forward(*this, std::move(stub), request.service(), target, response,
                              std::move(slot), std::move(done));
  forwards_.insert(forward);
  forward->Start(forwarded, deadline, loop_.queue());
}

void ServiceCalls::ForwardEnded(Forward* forward) {
  std::lock_guard lock(forwards_mu_);
  forwards_.erase(forward);
}

std::shared_ptr<v1::Domain::Stub> ServiceCalls::StubFor(const std::string& address) {
  std::lock_guard lock(stubs_mu_);
  auto& slot = stubs_[address];
  if (!slot) {
    grpc::ChannelArguments args = DomainChannelArguments();
    // A connection of their own: forwarded calls and hand-overs may take
    // tens of seconds, and must not take the streams a peer's server
    // allows one connection (server_limits.h) from its heartbeats.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    slot = v1::Domain::NewStub(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  }
  return slot;
}

grpc::Status ServiceCalls::RunInvoke(const v1::InvokeRequest& request,
                                     v1::InvokeResponse& response,
                                     std::optional<ForwardTarget>& forward) {
  const std::string args = request.args_json().empty() ? "{}" : request.args_json();
  static_assert(kMaxArgsBytes % (1 << 20) == 0, "the refusal names the limit in whole MiB");
  if (args.size() > kMaxArgsBytes) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "the arguments are " + std::to_string(args.size()) + " bytes, over the limit of " +
                std::to_string(kMaxArgsBytes) + " (" + std::to_string(kMaxArgsBytes >> 20) +
                " MiB)"};
  }
  if (!nlohmann::json::accept(args)) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "the arguments are not a JSON document"};
  }
  const std::string self = membership_.Status().self.id;
  if (plugins_ != nullptr) {
    const absl::StatusOr<std::string> result =
        plugins_->Invoke(request.service(), request.command(), args);
    if (result.ok()) {
      // Plugin text: a reply that is not UTF-8 would not even parse at the
      // caller.
      response.set_reply_json(ToValidUtf8(*result));
      response.set_node(self);
      return grpc::Status::OK;
    }
    // NOT_FOUND: it does not run here.
    if (!absl::IsNotFound(result.status())) {
      return {static_cast<grpc::StatusCode>(result.status().code()),
              request.service() + " " + request.command() + ": " +
                  std::string(result.status().message())};
    }
  }
  if (request.hops() > 0) {
    return {grpc::StatusCode::NOT_FOUND, "service " + request.service() + " is not running on " +
                                             self + " any more"};
  }
  // A live peer that reports the service running: the newest owner (the
  // highest epoch) first, then the lowest id.
  struct Candidate {
    uint64_t epoch;
    std::string id;
    std::string address;
  };
  std::vector<Candidate> candidates;
  for (const membership::PeerView& peer : membership_.Peers()) {
    if (peer.state != PeerState::kAlive) continue;
    for (const ServiceRecord& service : peer.identity.services) {
      if (service.name == request.service() && service.state == "running") {
        candidates.push_back({service.epoch, peer.identity.id, peer.identity.address});
      }
    }
  }
  if (candidates.empty()) {
    return {grpc::StatusCode::NOT_FOUND,
            "service " + request.service() + " is not running on any live node"};
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return std::pair(-static_cast<int64_t>(a.epoch), a.id) <
           std::pair(-static_cast<int64_t>(b.epoch), b.id);
  });
  forward = ForwardTarget{candidates.front().id, candidates.front().address};
  return grpc::Status::OK;
}

void ServiceCalls::GetServices(const CallInfo& call, const v1::GetServicesRequest& request,
                               v1::GetServicesResponse* response, Done done) {
  OnLane(kPlacementQueriesLane, call, request.ByteSizeLong(),
         [this, request, response] { return GetServices(request, *response); }, std::move(done));
}

void ServiceCalls::Explain(const CallInfo& call, const v1::ExplainRequest& request,
                           v1::ExplainResponse* response, Done done) {
  OnLane(kPlacementQueriesLane, call, request.ByteSizeLong(),
         [this, request, response] { return Explain(request, *response); }, std::move(done));
}

grpc::Status ServiceCalls::GetServices(const v1::GetServicesRequest& request,
                                       v1::GetServicesResponse& response) {
  auto add = [&](const Identity& identity) {
    for (const ServiceRecord& service : identity.services) {
      if (!request.name().empty() && service.name != request.name()) continue;
      v1::ServiceLocation* location = response.add_services();
      location->set_name(service.name);
      location->set_node(identity.id);
      location->set_address(identity.address);
      location->set_state(service.state);
      location->set_epoch(service.epoch);
      location->set_endpoint(service.endpoint);
      location->set_detail(service.detail);
    }
  };
  add(membership_.Status().self);
  for (const membership::PeerView& peer : membership_.Peers()) {
    if (peer.state == PeerState::kAlive) add(peer.identity);
  }
  if (placement_ != nullptr) {
    for (const placement::Unrun& unrun : placement_->UnrunServices()) {
      if (!request.name().empty() && unrun.service != request.name()) continue;
      v1::ServiceLocation* location = response.add_services();
      location->set_name(unrun.service);
      location->set_node(unrun.node);
      location->set_state(unrun.state);
    }
  }
  return grpc::Status::OK;
}

grpc::Status ServiceCalls::Explain(const v1::ExplainRequest& request,
                                   v1::ExplainResponse& response) {
  if (placement_ == nullptr) return {grpc::StatusCode::UNIMPLEMENTED, "no placement here"};
  if (!IsValidServiceName(request.service())) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "not a service name: " + request.service()};
  }
  const placement::Explanation explanation = placement_->Explain(request.service());
  response.set_service(explanation.service);
  response.set_placement(explanation.placement);
  response.set_wanted(explanation.wanted);
  response.set_state(explanation.state);
  response.set_detail(explanation.detail);
  for (const std::string& node : explanation.chosen) response.add_chosen(node);
  for (const placement::Claim& claim : explanation.running) {
    v1::ServiceLocation* location = response.add_running();
    location->set_name(explanation.service);
    location->set_node(claim.node);
    location->set_address(claim.address);
    location->set_state(claim.state);
    location->set_epoch(claim.epoch);
    location->set_endpoint(claim.endpoint);
  }
  for (const placement::Verdict& verdict : explanation.verdicts) {
    v1::Verdict* out = response.add_verdicts();
    out->set_node(verdict.node);
    out->set_candidate(verdict.candidate);
    out->set_reason(verdict.reason);
  }
  for (const std::string& depend : explanation.depends) response.add_depends(depend);
  return grpc::Status::OK;
}

void ServiceCalls::HandOver(const CallInfo& call, const v1::HandOverRequest& request,
                            v1::HandOverResponse* response, Done done) {
  if (placement_ == nullptr) {
    done({grpc::StatusCode::UNIMPLEMENTED, "no placement here"});
    return;
  }
  static_assert(services::kMaxStateBytes <= placement::kMaxHandOverStateBytes,
                "a state a plugin can save must be one that can be handed over");
  // Refused here, before a worker or placement sees it; placement checks
  // the rest (above all, that the sender itself confirms the move).
  std::string malformed;
  if (!IsValidServiceName(request.service())) {
    malformed = "service is not a service name";
  } else if (!IsValidNodeId(request.from())) {
    malformed = "from is not a node id";
  } else if (request.epoch() == 0 || request.epoch() > kMaxEpoch) {
    malformed = "epoch " + std::to_string(request.epoch()) + " is out of range (1 to " +
                std::to_string(kMaxEpoch) + ")";
  } else if (request.config_json().size() > kMaxArgsBytes) {
    malformed = "config_json is " + std::to_string(request.config_json().size()) +
                " bytes, over the limit of " + std::to_string(kMaxArgsBytes);
  }
  if (!malformed.empty()) {
    // The names may be anything here: not logged.
    spdlog::warn("refused a malformed hand-over: {}", malformed);
    done({grpc::StatusCode::INVALID_ARGUMENT, "malformed hand-over: " + malformed});
    return;
  }
  if (request.state().size() > placement::kMaxHandOverStateBytes) {
    const std::string why = "its state is " + std::to_string(request.state().size()) +
                            " bytes, over the limit of " +
                            std::to_string(placement::kMaxHandOverStateBytes);
    spdlog::warn("refused a hand-over of {} from {}: {}", request.service(), request.from(), why);
    done({grpc::StatusCode::RESOURCE_EXHAUSTED, why});
    return;
  }
  OnLane(kHandOverLane, call, request.ByteSizeLong(),
      [this, request, response] {
        placement::HandOverRequest in;
        in.service = request.service();
        in.epoch = request.epoch();
        in.from = request.from();
        in.cluster = request.cluster();
        if (request.has_state()) in.state = request.state();
        in.config_json = request.config_json();
        int code = 0;
        const std::string problem = placement_->AcceptHandOver(in, code);
        if (!problem.empty()) {
          spdlog::warn("refused a hand-over of {} from {}: {}", in.service, in.from, problem);
          return grpc::Status(static_cast<grpc::StatusCode>(code), problem);
        }
        response->set_node(membership_.Status().self.id);
        response->set_state("running");
        return grpc::Status::OK;
      },
      std::move(done));
}

std::string ServiceCalls::HandOver(const std::string& address,
                                   const placement::HandOverRequest& request) {
  v1::HandOverRequest out;
  out.set_service(request.service);
  out.set_epoch(request.epoch);
  out.set_from(request.from);
  out.set_cluster(request.cluster);
  out.set_has_state(request.state.has_value());
  if (request.state) out.set_state(*request.state);
  out.set_config_json(request.config_json);
  v1::HandOverResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + placement::kHandOverDeadline);
  const grpc::Status status = StubFor(address)->HandOver(&context, out, &response);
  if (status.ok()) return "";
  return status.error_message().empty() ? "gRPC code " + std::to_string(status.error_code())
                                        : status.error_message();
}

grpc::Status ServiceCalls::ListPlugins(const v1::ListPluginsRequest& /*request*/,
                                       v1::ListPluginsResponse& response) {
  if (plugins_ == nullptr) return grpc::Status::OK;
  for (const services::CatalogEntry& entry : plugins_->Plugins()) {
    v1::PluginEntry* out = response.add_plugins();
    // File names and plugin text may hold any bytes; a reply that is not
    // UTF-8 would not parse in domianctl.
    out->set_path(ToValidUtf8(entry.path.string()));
    out->set_refusal(ToValidUtf8(entry.refusal));
    if (!entry.library) continue;
    const services::PluginDescription& d = entry.library->description();
    out->set_name(ToValidUtf8(d.name));
    out->set_version(ToValidUtf8(d.version));
    out->set_description(ToValidUtf8(d.description));
    out->set_placement(d.placement == services::Placement::kSingleton ? "singleton" : "per-node");
    for (const std::string& trait : d.traits) out->add_traits(trait);
    for (const std::string& depend : d.depends) out->add_depends(depend);
    for (const services::CommandDescription& command : d.commands) {
      v1::PluginCommand* c = out->add_commands();
      c->set_name(ToValidUtf8(command.name));
      c->set_arguments(ToValidUtf8(command.arguments));
      c->set_description(ToValidUtf8(command.description));
    }
    out->set_abi(std::to_string(d.abi.major) + "." + std::to_string(d.abi.minor));
  }
  return grpc::Status::OK;
}

}  // namespace domian::rpc
