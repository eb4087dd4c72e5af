#include "core/rpc/service_calls.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/rpc/peer_client.h"

namespace domian::rpc {
namespace {

// Service-level failures never use UNAVAILABLE or DEADLINE_EXCEEDED:
// clients read those as "the node itself could not be reached".
grpc::Status StatusOf(domian_status status, const std::string& message) {
  switch (status) {
    case DOMIAN_ERR_INVALID_ARGUMENT: return {grpc::StatusCode::INVALID_ARGUMENT, message};
    case DOMIAN_ERR_UNKNOWN_COMMAND:
    case DOMIAN_ERR_NOT_SUPPORTED: return {grpc::StatusCode::UNIMPLEMENTED, message};
    case DOMIAN_ERR_UNAVAILABLE: return {grpc::StatusCode::FAILED_PRECONDITION, message};
    case DOMIAN_ERR_FAILED: return {grpc::StatusCode::ABORTED, message};
    default: return {grpc::StatusCode::INTERNAL, message};
  }
}

}  // namespace

ServiceCalls::ServiceCalls(Membership& membership, plugins::PluginHost* plugins)
    : membership_(membership), plugins_(plugins) {
  for (size_t i = 0; i < kInvokeWorkers; ++i) workers_.emplace_back([this] { Work(); });
}

ServiceCalls::~ServiceCalls() { Stop(); }

void ServiceCalls::Stop() {
  std::deque<std::function<void()>> refused;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    refused.swap(queue_);
  }
  cv_.notify_all();
  for (auto& job : refused) job();  // each job sees stopping_ and refuses
  for (std::thread& worker : workers_) worker.join();
}

void ServiceCalls::Work() {
  while (true) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

void ServiceCalls::Invoke(const v1::InvokeRequest& request, v1::InvokeResponse* response,
                          std::function<void(grpc::Status)> done) {
  std::unique_lock lock(mu_);
  if (stopping_) {
    lock.unlock();
    done({grpc::StatusCode::UNAVAILABLE, "the node is shutting down"});
    return;
  }
  if (queue_.size() >= kMaxQueuedInvokes) {
    lock.unlock();
    done({grpc::StatusCode::RESOURCE_EXHAUSTED, "too many calls waiting on this node"});
    return;
  }
  queue_.push_back([this, request, response, done = std::move(done)] {
    bool stopping;
    {
      std::lock_guard guard(mu_);
      stopping = stopping_;
    }
    if (stopping) {
      done({grpc::StatusCode::UNAVAILABLE, "the node is shutting down"});
      return;
    }
    done(RunInvoke(request, *response));
  });
  lock.unlock();
  cv_.notify_one();
}

grpc::Status ServiceCalls::RunInvoke(const v1::InvokeRequest& request,
                                     v1::InvokeResponse& response) {
  const std::string args = request.args_json().empty() ? "{}" : request.args_json();
  if (args.size() > kMaxArgsBytes || !nlohmann::json::accept(args)) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "the arguments are not a JSON document"};
  }
  const std::string self = membership_.Status().self.id;
  if (plugins_ != nullptr) {
    if (auto result = plugins_->Invoke(request.service(), request.command(), args)) {
      if (!result->ok()) {
        return StatusOf(result->status, request.service() + " " + request.command() + ": " +
                                            result->output);
      }
      response.set_reply_json(result->output);
      response.set_node(self);
      return grpc::Status::OK;
    }
  }
  if (request.hops() > 0) {
    return {grpc::StatusCode::NOT_FOUND, "service " + request.service() + " is not running on " +
                                             self + " any more"};
  }
  // A live peer that reports the service running, lowest id first.
  std::vector<std::pair<std::string, std::string>> candidates;  // id, address
  for (const PeerView& peer : membership_.Peers()) {
    if (peer.state != PeerState::kAlive) continue;
    for (const ServiceRecord& service : peer.identity.services) {
      if (service.name == request.service() && service.state == "running") {
        candidates.emplace_back(peer.identity.id, peer.identity.address);
      }
    }
  }
  if (candidates.empty()) {
    return {grpc::StatusCode::NOT_FOUND,
            "service " + request.service() + " is not running on any live node"};
  }
  std::sort(candidates.begin(), candidates.end());
  const auto& [node, address] = candidates.front();
  std::shared_ptr<v1::Domain::Stub> stub;
  {
    std::lock_guard lock(stubs_mu_);
    auto& slot = stubs_[address];
    if (!slot) {
      slot = v1::Domain::NewStub(grpc::CreateCustomChannel(
          address, grpc::InsecureChannelCredentials(), DomainChannelArguments()));
    }
    stub = slot;
  }
  v1::InvokeRequest forwarded = request;
  forwarded.set_hops(request.hops() + 1);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kForwardDeadline);
  const grpc::Status status = stub->Invoke(&context, forwarded, &response);
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return {grpc::StatusCode::FAILED_PRECONDITION,
            "node " + node + " (" + address + "), which runs " + request.service() +
                ", did not answer: " + status.error_message()};
  }
  return status;
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
    }
  };
  add(membership_.Status().self);
  for (const PeerView& peer : membership_.Peers()) {
    if (peer.state == PeerState::kAlive) add(peer.identity);
  }
  return grpc::Status::OK;
}

grpc::Status ServiceCalls::ListPlugins(const v1::ListPluginsRequest& /*request*/,
                                       v1::ListPluginsResponse& response) {
  if (plugins_ == nullptr) return grpc::Status::OK;
  for (const plugins::CatalogEntry& entry : plugins_->Plugins()) {
    v1::PluginEntry* out = response.add_plugins();
    out->set_path(entry.path.string());
    out->set_refusal(entry.refusal);
    if (!entry.library) continue;
    const plugins::PluginDescription& d = entry.library->description();
    out->set_name(d.name);
    out->set_version(d.version);
    out->set_description(d.description);
    out->set_placement(d.placement == plugins::Placement::kSingleton ? "singleton" : "per-node");
    for (const std::string& trait : d.traits) out->add_traits(trait);
    for (const std::string& depend : d.depends) out->add_depends(depend);
    for (const plugins::CommandDescription& command : d.commands) {
      v1::PluginCommand* c = out->add_commands();
      c->set_name(command.name);
      c->set_arguments(command.arguments);
      c->set_description(command.description);
    }
    out->set_abi(std::to_string(d.abi.major) + "." + std::to_string(d.abi.minor));
  }
  return grpc::Status::OK;
}

}  // namespace domian::rpc
