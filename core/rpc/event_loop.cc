// The completion-queue loop.
#include "core/rpc/event_loop.h"

namespace domian::rpc {
namespace {

// Sentinel tag of the shutdown alarm.
class StopTag final : public EventLoop::Tag {
 public:
  StopTag(grpc::ServerCompletionQueue* queue, bool* stopping)
      : queue_(queue), stopping_(stopping) {}
  void Proceed(bool /*ok*/) override {
    *stopping_ = true;
    queue_->Shutdown();
    delete this;
  }

 private:
  grpc::ServerCompletionQueue* queue_;
  bool* stopping_;
};

}  // namespace

EventLoop::EventLoop(std::unique_ptr<grpc::ServerCompletionQueue> queue)
    : queue_(std::move(queue)) {}

EventLoop::~EventLoop() { Shutdown(); }

void EventLoop::Start() {
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void EventLoop::Run() {
  void* tag = nullptr;
  bool ok = false;
  while (queue_->Next(&tag, &ok)) static_cast<Tag*>(tag)->Proceed(ok);
}

void EventLoop::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (!started_) {
    // Nothing ever ran: shut down and drain here.
    queue_->Shutdown();
    Run();
    return;
  }
  shutdown_alarm_.Set(queue_.get(), gpr_now(GPR_CLOCK_MONOTONIC),
                      new StopTag(queue_.get(), &stopping_));
  thread_.join();
}

}  // namespace domian::rpc
