#include "core/rpc/event_stream.h"

#include <grpcpp/alarm.h>

#include <atomic>
#include <deque>

#include "core/rpc/convert.h"
#include "core/rpc/transport_security.h"

namespace domian::rpc {
namespace {

// One WatchEvents call. Its operations complete on the loop as tags of
// their own (arrival, each write, the alarm, the final status, and the
// call's end); it deletes itself once the call is over and none of them
// is still pending.
class WatchCall {
 public:
  static void Arm(EventLoop& loop, v1::Domain::AsyncService& service,
                  events::EventJournal& journal, trust::TrustBook& book) {
    auto* call = new WatchCall(loop, service, journal, book);
    // Told when the call ends for any reason (the client went away): a
    // stream that is idle has no write to fail. Delivered only for a call
    // that arrived.
    call->context_.AsyncNotifyWhenDone(&call->ended_op_);
    service.RequestWatchEvents(&call->context_, &call->request_, &call->writer_, loop.queue(),
                               loop.queue(), &call->arrived_op_);
  }

 private:
  struct Op final : EventLoop::Tag {
    Op(WatchCall* owner, void (WatchCall::*step)(bool)) : call(owner), on(step) {}
    void Proceed(bool ok) override { (call->*on)(ok); }
    WatchCall* const call;
    void (WatchCall::*const on)(bool);
  };

  WatchCall(EventLoop& loop, v1::Domain::AsyncService& service, events::EventJournal& journal,
            trust::TrustBook& book)
      : loop_(loop), service_(service), journal_(journal), book_(book), writer_(&context_) {}

  void Arrived(bool ok) {
    if (!ok) {  // the server is shutting down; no call, no end to wait for
      delete this;
      return;
    }
    pending_ = 1;  // the call's end
    if (!loop_.stopping()) Arm(loop_, service_, journal_, book_);
    absl::StatusOr<trust::Caller> caller = IdentifyCaller(context_, book_);
    absl::Status permitted =
        caller.ok() ? trust::Permit(*caller, trust::Rpc::kWatchEvents) : caller.status();
    if (!permitted.ok()) {
      Finish(ToGrpc(permitted));
      return;
    }
    const size_t backlog = request_.backlog();
    if (request_.follow()) {
      // The wake runs on a publisher's thread, under the journal's lock:
      // it only arms the alarm, at most once until the loop took it.
      watcher_ = journal_.Watch(backlog, [this] {
        if (!alarm_armed_.exchange(true)) {
          alarm_.Set(loop_.queue(), gpr_now(GPR_CLOCK_MONOTONIC), &woken_op_);
        }
      });
      if (!watcher_) {
        Finish(journal_.closed()
                   ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "the node is stopping")
                   : grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                  "too many event watchers on this node (" +
                                      std::to_string(journal_.watchers()) + "); try again later"));
        return;
      }
    } else {
      for (events::Event& event : journal_.Recent(backlog)) backlog_.push_back(std::move(event));
    }
    Pump();
  }

  // Writes the next event, or finishes, or waits for the next wake.
  void Pump() {
    if (writing_ || finishing_) return;
    if (done_) {
      Finish(grpc::Status::OK);
      return;
    }
    if (backlog_.empty() && watcher_) {
      for (events::Event& event : watcher_->Take(kEventsPerTake)) {
        backlog_.push_back(std::move(event));
      }
      if (backlog_.empty() && watcher_->Finished()) {
        Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the node is stopping"));
        return;
      }
    }
    if (backlog_.empty()) {
      if (!watcher_) Finish(grpc::Status::OK);  // not following: the backlog was all
      return;  // following: the alarm says when there is more
    }
    v1::NodeEvent message;
    ToProto(backlog_.front(), message);
    backlog_.pop_front();
    writing_ = true;
    ++pending_;
    writer_.Write(message, &written_op_);
  }

  void Written(bool ok) {
    writing_ = false;
    --pending_;
    if (!ok) done_ = true;  // the client is gone
    Pump();
    MaybeDelete();
  }

  void Woken(bool /*ok*/) {
    alarm_armed_ = false;
    Pump();
    MaybeDelete();
  }

  void Ended(bool /*ok*/) {
    ended_ = true;
    --pending_;
    done_ = true;
    Release();
    MaybeDelete();
  }

  void Finished(bool /*ok*/) {
    --pending_;
    MaybeDelete();
  }

  void Finish(const grpc::Status& status) {
    if (finishing_) return;
    finishing_ = true;
    Release();
    ++pending_;
    writer_.Finish(status, &finished_op_);
  }

  // No more wakes from the journal (Unwatch waits for a wake in
  // progress); an alarm already set fires at once: its deadline is now.
  void Release() {
    if (watcher_) {
      journal_.Unwatch(watcher_);
      watcher_.reset();
    }
  }

  // pending_ counts the call's end, a write and the final status; an
  // alarm is pending while alarm_armed_, which only the loop clears.
  void MaybeDelete() {
    if (!ended_ || pending_ > 0 || alarm_armed_) return;
    delete this;
  }

  EventLoop& loop_;
  v1::Domain::AsyncService& service_;
  events::EventJournal& journal_;
  trust::TrustBook& book_;
  grpc::ServerContext context_;
  v1::WatchEventsRequest request_;
  grpc::ServerAsyncWriter<v1::NodeEvent> writer_;
  Op arrived_op_{this, &WatchCall::Arrived};
  Op written_op_{this, &WatchCall::Written};
  Op woken_op_{this, &WatchCall::Woken};
  Op ended_op_{this, &WatchCall::Ended};
  Op finished_op_{this, &WatchCall::Finished};
  grpc::Alarm alarm_;
  // Set by the wake (another thread) when it arms the alarm; cleared on
  // the loop when the alarm fires.
  std::atomic<bool> alarm_armed_{false};
  std::shared_ptr<events::EventJournal::Watcher> watcher_;
  std::deque<events::Event> backlog_;  // taken, not yet written
  int pending_ = 0;
  bool writing_ = false;
  bool finishing_ = false;
  bool done_ = false;   // stop writing: the client is gone or the call ended
  bool ended_ = false;  // the call's end was delivered
};

}  // namespace

void ServeWatchEvents(EventLoop& loop, v1::Domain::AsyncService& service,
                      events::EventJournal& journal, trust::TrustBook& book) {
  WatchCall::Arm(loop, service, journal, book);
}

void ToProto(const events::Event& event, v1::NodeEvent& out) {
  out.set_seq(event.seq);
  out.set_unix_ms(event.unix_ms);
  out.set_kind(events::KindName(event.kind));
  out.set_what(event.what);
  out.set_node(event.node);
  out.set_service(event.service);
  out.set_detail(event.detail);
  out.set_data_json(event.data_json);
  if (event.seconds) out.set_seconds(*event.seconds);
  out.set_count(event.count);
}

}  // namespace domian::rpc
