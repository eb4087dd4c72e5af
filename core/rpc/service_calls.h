// ServiceCalls: the RPC face of services: where they run (GetServices),
// which plugins this node has (ListPlugins), and Invoke, which runs a
// command on this node or forwards it once to a node that runs the
// service. Plugin code and forwarded calls may take long, so Invoke runs
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
#include "core/plugins/plugin_host.h"
#include "domian/v1/domian.grpc.pb.h"

namespace domian::rpc {

// Calls running or queued at once; more are refused (RESOURCE_EXHAUSTED)
// rather than queued without bound.
inline constexpr size_t kInvokeWorkers = 4;
inline constexpr size_t kMaxQueuedInvokes = 64;
// A forwarded call's deadline: plugins talk to devices (a Hue bridge, a
// sensor read of ~750 ms), so this is generous.
inline constexpr std::chrono::seconds kForwardDeadline{15};
inline constexpr size_t kMaxArgsBytes = 1 << 20;

class ServiceCalls {
 public:
  // `plugins` may be null (a node without a plugin host).
  ServiceCalls(Membership& membership, plugins::PluginHost* plugins);
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

  // Refuses queued calls, waits for running ones, joins the workers.
  void Stop();

 private:
  grpc::Status RunInvoke(const v1::InvokeRequest& request, v1::InvokeResponse& response);
  void Work();

  Membership& membership_;
  plugins::PluginHost* plugins_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;

  std::mutex stubs_mu_;
  std::unordered_map<std::string, std::shared_ptr<v1::Domain::Stub>> stubs_;
};

}  // namespace domian::rpc
