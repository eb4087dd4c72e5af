// EventLoop: one thread that drives every gRPC event of the daemon, calls
// coming in and replies to our own calls alike, from one completion queue.
//
// Why not gRPC's callback API: there, each heartbeat hops between several
// gRPC threads (poller, executor, timer), and on a small board those
// context switches are most of an idle daemon's CPU. Here one wake-up
// serves one event.
#pragma once

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <thread>

namespace domian::rpc {

class EventLoop {
 public:
  // Something waiting on the queue. Proceed runs on the loop thread; it
  // owns its lifetime (deletes itself when done).
  class Tag {
   public:
    virtual ~Tag() = default;
    // `ok` is gRPC's: false when the operation was cancelled or the
    // server is shutting down.
    virtual void Proceed(bool ok) = 0;
  };

  explicit EventLoop(std::unique_ptr<grpc::ServerCompletionQueue> queue);
  ~EventLoop();  // calls Shutdown()
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void Start();
  // Shuts the queue down from the loop thread (so no tag re-arms on a
  // queue that is going away), drains it and joins. Call after
  // grpc::Server::Shutdown() and once no new client calls are started.
  void Shutdown();

  grpc::ServerCompletionQueue* queue() { return queue_.get(); }
  // True on the loop thread once Shutdown() began: tags must not re-arm.
  bool stopping() const { return stopping_; }

 private:
  void Run();

  std::unique_ptr<grpc::ServerCompletionQueue> queue_;
  std::thread thread_;
  grpc::Alarm shutdown_alarm_;
  bool stopping_ = false;  // written and read on the loop thread only
  bool started_ = false;
  bool shut_down_ = false;
};

}  // namespace domian::rpc
