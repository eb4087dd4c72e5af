#include "core/routing/service_router.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/common/utf8.h"
#include "core/model/service_state.h"
#include "core/model/values.h"

namespace domian::routing {
namespace {

// What is wrong with a call's arguments, before any plugin or peer sees
// them.
absl::Status CheckArguments(const std::string& args) {
  static_assert(kMaxArgsBytes % (1 << 20) == 0, "the refusal names the limit in whole MiB");
  if (args.size() > kMaxArgsBytes) {
    return absl::InvalidArgumentError(
        "the arguments are " + std::to_string(args.size()) + " bytes, over the limit of " +
        std::to_string(kMaxArgsBytes) + " (" + std::to_string(kMaxArgsBytes >> 20) + " MiB)");
  }
  if (!nlohmann::json::accept(args)) {
    return absl::InvalidArgumentError("the arguments are not a JSON document");
  }
  return absl::OkStatus();
}

}  // namespace

ServiceRouter::ServiceRouter(placement::ClusterSource& cluster, services::ServiceHost* local,
                             RemoteNodes& remote, CallObserver on_call, const Clock& clock)
    : cluster_(cluster),
      local_(local),
      remote_(remote),
      on_call_(std::move(on_call)),
      clock_(clock) {}

ServiceRouter::~ServiceRouter() { Stop(); }

void ServiceRouter::Stop() {
  // Forwarded calls come back cancelled and release their lane slots.
  remote_.CancelCalls();
  lanes_.Stop();
}

void ServiceRouter::Invoke(const CallInfo& call, ServiceCall request, ReplyDone done) {
  // The service name keys its lane: only names a service can have.
  if (!IsValidServiceName(request.service)) {
    done(absl::InvalidArgumentError("not a service name: " + request.service));
    return;
  }
  if (request.args_json.empty()) request.args_json = "{}";
  if (on_call_) {
    // Copies, not `this`: a forwarded call may be answered on another
    // thread as the router stops.
    done = [done = std::move(done), on_call = on_call_, &clock = clock_,
            service = request.service,
            began = clock_.Now()](absl::StatusOr<ServiceReply> answer) {
      on_call(service, clock.Now() - began, answer.ok());
      done(std::move(answer));
    };
  }
  const std::string lane = "service " + request.service;
  const size_t bytes = request.service.size() + request.command.size() + request.args_json.size();
  // The lane answers a refusal (a bound, a deadline) with a status only;
  // the job answers with the reply through `reply`.
  auto reply = std::make_shared<ReplyDone>(std::move(done));
  lanes_.Submit(
      lane, call, bytes,
      [this, call, request = std::move(request), reply](CallLanes::SlotRef slot,
                                                        CallLanes::Done /*unused*/) {
        if (absl::Status bad = CheckArguments(request.args_json); !bad.ok()) {
          (*reply)(std::move(bad));
          return;
        }
        if (auto here = RunHere(request)) {
          (*reply)(std::move(*here));
          return;
        }
        if (request.hops > 0) {
          (*reply)(absl::NotFoundError("service " + request.service + " is not running on " +
                                       cluster_.SelfId() + " any more"));
          return;
        }
        absl::StatusOr<Owner> owner = OwnerOf(request.service);
        if (!owner.ok()) {
          (*reply)(owner.status());
          return;
        }
        ServiceCall forwarded = request;
        ++forwarded.hops;
        // No later than the caller still waits.
        const Deadline deadline =
            std::min(std::chrono::system_clock::now() + kForwardDeadline, call.deadline);
        // The slot travels with the answer: the lane counts the call
        // until the owner answered.
        const absl::Status started = remote_.Invoke(
            owner->address, forwarded, deadline,
            [slot, reply, owner = *owner, service = request.service](
                absl::StatusOr<ServiceReply> answer) {
              if (absl::IsUnavailable(answer.status()) ||
                  absl::IsDeadlineExceeded(answer.status())) {
                (*reply)(absl::FailedPreconditionError(
                    "node " + owner.node + " (" + owner.address + "), which runs " + service +
                    ", did not answer: " + StatusMessage(answer.status())));
                return;
              }
              (*reply)(std::move(answer));
            });
        // Not started (this node is stopping): said as it is, not as the
        // owner's silence.
        if (!started.ok()) (*reply)(started);
      },
      [reply](absl::Status refused) { (*reply)(std::move(refused)); });
}

std::optional<absl::StatusOr<ServiceReply>> ServiceRouter::RunHere(const ServiceCall& request) {
  if (local_ == nullptr) return std::nullopt;
  absl::StatusOr<std::string> reply =
      local_->Invoke(request.service, request.command, request.args_json);
  // NOT_FOUND is the service host's "it does not run here"; a plugin's
  // own failures never map to it (services::StatusFromPlugin).
  if (absl::IsNotFound(reply.status())) return std::nullopt;
  if (!reply.ok()) {
    return absl::Status(reply.status().code(), request.service + " " + request.command + ": " +
                                                   StatusMessage(reply.status()));
  }
  // Plugin text: a reply that is not UTF-8 would not even parse at the
  // caller.
  return ServiceReply{ToValidUtf8(*reply), cluster_.SelfId()};
}

absl::StatusOr<ServiceRouter::Owner> ServiceRouter::OwnerOf(const std::string& service) const {
  struct Candidate {
    uint64_t epoch;
    std::string id;
    std::string address;
  };
  std::vector<Candidate> candidates;
  for (const membership::PeerView& peer : cluster_.View().peers) {
    if (peer.state != PeerState::kAlive) continue;
    for (const ServiceRecord& record : peer.identity.services) {
      if (record.name == service && ParseServiceState(record.state) == ServiceState::kRunning) {
        candidates.push_back({record.epoch, peer.identity.id, peer.identity.address});
      }
    }
  }
  if (candidates.empty()) {
    return absl::NotFoundError("service " + service + " is not running on any live node");
  }
  const auto newest = std::min_element(
      candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
        return a.epoch != b.epoch ? a.epoch > b.epoch : a.id < b.id;
      });
  return Owner{newest->id, newest->address};
}

void ServiceRouter::Query(const CallInfo& call, size_t bytes, std::function<absl::Status()> job,
                          Done done) {
  RunInLane(kPlacementQueriesLane, call, bytes, std::move(job), std::move(done));
}

void ServiceRouter::AcceptHandOver(const CallInfo& call, size_t bytes,
                                   std::function<absl::Status()> job, Done done) {
  RunInLane(kHandOverLane, call, bytes, std::move(job), std::move(done));
}

void ServiceRouter::StateCall(const CallInfo& call, size_t bytes,
                              std::function<absl::Status()> job, Done done) {
  RunInLane(kStateCopiesLane, call, bytes, std::move(job), std::move(done));
}

void ServiceRouter::RunInLane(const std::string& lane, const CallInfo& call, size_t bytes,
                              std::function<absl::Status()> job, Done done) {
  lanes_.Submit(
      lane, call, bytes,
      [job = std::move(job)](const CallLanes::SlotRef& /*held until answered*/,
                             CallLanes::Done answer) { answer(job()); },
      std::move(done));
}

std::vector<ServiceLocation> ServiceRouter::Locations(const std::string& name) const {
  std::vector<ServiceLocation> out;
  auto add = [&](const Identity& identity) {
    for (const ServiceRecord& record : identity.services) {
      if (!name.empty() && record.name != name) continue;
      out.push_back({record.name, identity.id, identity.address, record.state, record.epoch,
                     record.endpoint, record.detail});
    }
  };
  const placement::ClusterView view = cluster_.View();
  add(view.self);
  for (const membership::PeerView& peer : view.peers) {
    if (peer.state == PeerState::kAlive) add(peer.identity);
  }
  return out;
}

absl::Status ServiceRouter::HandOver(const std::string& address,
                                     const placement::HandOverRequest& request) {
  return remote_.HandOver(address, request,
                          std::chrono::system_clock::now() + placement::kHandOverDeadline);
}

}  // namespace domian::routing
