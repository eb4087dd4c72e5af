// ServiceCalls: the RPC face of services: where they run (GetServices),
// which plugins this node has (ListPlugins), why a service runs where it
// does (Explain), Invoke, which runs a command on this node or forwards it
// once to a node that runs the service, and HandOver between nodes (both
// the answering side and, as placement's transport, the calling side).
// Plugin code, forwarded calls and hand-overs may take long, so they run
// on a small pool of worker threads, never on the EventLoop thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "core/membership/membership.h"
#include "core/placement/placement.h"
#include "core/plugins/plugin_host.h"
#include "domian/v1/domian.grpc.pb.h"

namespace domian::rpc {

// Calls running or queued at once; more are refused (RESOURCE_EXHAUSTED)
// rather than queued without bound.
inline constexpr size_t kInvokeWorkers = 4;
inline constexpr size_t kMaxQueuedInvokes = 64;
// A forwarded call's deadline: plugins talk to devices (a Hue bridge, a
// sensor read of ~750 ms) and some calls wait for a person (pairing with
// a Hue bridge waits up to 30 s for its button), so it covers the owner's
// own wait for the plugin and a hop.
inline constexpr std::chrono::seconds kForwardDeadline = plugins::kCallDeadline + std::chrono::seconds(5);
inline constexpr size_t kMaxArgsBytes = 1 << 20;

class ServiceCalls final : public placement::HandOverTransport {
 public:
  // `plugins` may be null (a node without a plugin host).
  ServiceCalls(Membership& membership, plugins::PluginHost* plugins);
  // Where Explain, HandOver and the unrun rows of GetServices come from.
  // Before calls arrive.
  void SetPlacement(placement::Placement* placement) { placement_ = placement; }
  ~ServiceCalls();  // Stop()
  ServiceCalls(const ServiceCalls&) = delete;
  ServiceCalls& operator=(const ServiceCalls&) = delete;

  grpc::Status GetServices(const v1::GetServicesRequest& request,
                           v1::GetServicesResponse& response);
  grpc::Status ListPlugins(const v1::ListPluginsRequest& request,
                           v1::ListPluginsResponse& response);
  // `done` runs exactly once, on a worker thread (or at once when refused).
  void Invoke(const v1::InvokeRequest& request, v1::InvokeResponse* response,
              std::function<void(grpc::Status)> done);
  grpc::Status Explain(const v1::ExplainRequest& request, v1::ExplainResponse& response);
  // A peer hands a service to this node; like Invoke, on a worker.
  void HandOver(const v1::HandOverRequest& request, v1::HandOverResponse* response,
                std::function<void(grpc::Status)> done);

  // placement::HandOverTransport: asks the node at `address` to take a
  // service over (blocking, on placement's thread).
  std::string HandOver(const std::string& address,
                       const placement::HandOverRequest& request) override;

  // Queues `job` for a worker; `done` gets its status, or the refusal
  // (the node is stopping, or too many calls wait).
  void OnWorker(std::function<grpc::Status()> job, std::function<void(grpc::Status)> done);

  // Refuses queued calls, waits for running ones, joins the workers.
  void Stop();

 private:
  grpc::Status RunInvoke(const v1::InvokeRequest& request, v1::InvokeResponse& response);
  std::shared_ptr<v1::Domain::Stub> StubFor(const std::string& address);
  void Work();

  Membership& membership_;
  plugins::PluginHost* plugins_;
  placement::Placement* placement_ = nullptr;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;

  std::mutex stubs_mu_;
  std::unordered_map<std::string, std::shared_ptr<v1::Domain::Stub>> stubs_;
};

}  // namespace domian::rpc
