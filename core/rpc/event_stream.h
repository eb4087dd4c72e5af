// WatchEvents, served on the EventLoop: one server stream per watcher,
// fed by that watcher's queue in the EventJournal.
//
// The loop thread never waits for a watcher: one write is in flight at a
// time, and while it is (a client that does not read holds it there, by
// HTTP/2 flow control), new events pile up in the journal's bounded queue
// for that watcher, which drops the oldest. A publisher on another thread
// wakes the stream with a grpc::Alarm, so the events come back to the loop.
#pragma once

#include "core/events/event_journal.h"
#include "core/rpc/event_loop.h"
#include "core/trust/trust_book.h"
#include "domian/v1/domian.grpc.pb.h"

namespace domian::rpc {

// Events taken from the watcher's queue at a time: one per write, so a
// burst is sent one message per loop turn and heartbeats interleave.
inline constexpr size_t kEventsPerTake = 1;

// Waits for the next WatchEvents call (and, once it came, for the one
// after). Call from NodeService::Serve.
void ServeWatchEvents(EventLoop& loop, v1::Domain::AsyncService& service,
                      events::EventJournal& journal, trust::TrustBook& book);

// The wire form of an event.
void ToProto(const events::Event& event, v1::NodeEvent& out);

}  // namespace domian::rpc
