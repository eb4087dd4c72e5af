// NodeMetrics: this node in Prometheus' text exposition format, for
// /metrics (the node's HTTP server calls Render). The owner of the
// metrics subsystem; it holds the prometheus::Registry, and nothing else
// in the core knows Prometheus.
//
// Two kinds of metrics:
//  - counted as things happen: Observe() takes every event the node
//    publishes (member, placement, health, plugin: see
//    core/events/event_journal.h), ObserveCall() every service call the
//    router answers. They live in the registry.
//  - read when rendered: peers by state, the incarnation, loneliness,
//    heartbeat and state copy traffic, services by state, the MQTT bridge,
//    the process (procfs) and the build. Render asks their owners through
//    Sources, so nothing is copied between scrapes and nothing can drift.
// docs/architecture.md ("Metrics") lists every family.
//
// Every domian_ family carries this node's id as the label `node`;
// process_* carry none, as in every Prometheus client. Label values are
// bounded by this node, never by a caller: `service` takes the names of
// this node's configured services and of those its own parts report
// (placement, its service host: plugins in its catalog), at most
// kMaxServiceLabels of them; a call for any other service is counted as
// service="(other)", which no service can be named.
//
// Threads: every method may be called from any thread. Observe and
// ObserveCall run on their callers' threads (a publisher's, possibly
// under its lock; a lane's): they take mu_ for a lookup and touch atomic
// counters, never waiting for a scrape. Render reads the sources (each
// safe from any thread) and procfs without holding mu_. Render reads the
// node's parts: it must not be called after the node stopped them.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/events/event_journal.h"
#include "core/membership/membership.h"
#include "core/mqtt/mqtt_status.h"
#include "core/rpc/traffic.h"
#include "core/services/service_host.h"

namespace domian::metrics {

// Distinct `service` label values: a household has a handful of services,
// bounded by node.yaml and the plugin folders anyway; the cap keeps a
// mistake from growing the exposition without end.
inline constexpr size_t kMaxServiceLabels = 64;
// The `service` label of what no label of its own may be given.
inline constexpr char kOtherService[] = "(other)";

// Histogram buckets, in seconds.
// Failure detection: dead_after is 1.2 s by default (stretched beyond 16
// nodes), plus up to a heartbeat; a failover adds a placement round.
inline const std::vector<double> kDetectionBuckets = {0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75,
                                                      2,    2.5, 3,    5, 10,   30,  60};
// A planned move: stop, hand-over of the state, start there (~0.1 s).
inline const std::vector<double> kMoveBuckets = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
// A call to a service: a plugin answering from memory (~1 ms), a sensor
// read (~750 ms), a hop to the owner, up to a Hue bridge's 30 s pairing.
inline const std::vector<double> kCallBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                 0.25,  0.5,    1,     2.5,  5,     10,   30};

class NodeMetrics {
 public:
  // What Render reads. Each function is called on the rendering thread
  // and must be safe from any thread; one left unset leaves its families
  // out.
  struct Sources {
    std::string node;     // this node's id: the `node` label
    std::string version;  // domiand's, for domian_build_info
    // The services node.yaml lists: labelled from the start, so their
    // counters exist at 0 before anything happens.
    std::vector<std::string> services;
    std::function<membership::MembershipStatus()> membership;
    std::function<std::vector<membership::PeerView>()> peers;
    const rpc::TrafficCounters* traffic = nullptr;
    std::function<std::vector<services::ServiceStatus>()> service_statuses;
    // Only when node.yaml has mqtt: (the families are left out otherwise).
    std::function<mqtt::MqttStatus()> mqtt;
    std::filesystem::path proc = "/proc";  // procfs, for process_*
  };

  explicit NodeMetrics(Sources sources);
  NodeMetrics(const NodeMetrics&) = delete;
  NodeMetrics& operator=(const NodeMetrics&) = delete;

  // Counts what `event` says happened (see the .cc for which events move
  // which family). Cheap; never blocks on a scrape.
  void Observe(const events::Event& event) ABSL_LOCKS_EXCLUDED(mu_);
  // A call for `service` answered after `took`, successfully or not
  // (routing::ServiceRouter's observer).
  void ObserveCall(const std::string& service, std::chrono::nanoseconds took, bool ok)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Every family in the text exposition format (version 0.0.4), as
  // /metrics serves it (Content-Type: text/plain; version=0.0.4).
  std::string Render() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // One service's event-driven series; they live as long as the registry.
  struct ServiceSeries {
    prometheus::Counter* starts;
    prometheus::Counter* stops;
    prometheus::Counter* moves;
    prometheus::Counter* move_failures;
    prometheus::Counter* takeovers;
    prometheus::Counter* restarts;
    prometheus::Counter* plugin_events;
    prometheus::Counter* calls_failed;
    prometheus::Histogram* call_duration;
  };

  // The `service` label `name` is counted under (a key of series_): its
  // own, its series made on first sight while fewer than
  // kMaxServiceLabels are; (other) for an invalid name or past that.
  const std::string& LabelFor(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ServiceSeries& SeriesFor(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds `label`'s series; returns its key.
  const std::string& MakeSeries(const std::string& label) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ObservePlacement(const events::Event& event) ABSL_LOCKS_EXCLUDED(mu_);
  void ObserveHealth(const events::Event& event) ABSL_LOCKS_EXCLUDED(mu_);

  // The families read at render time, in exposition order.
  std::vector<prometheus::MetricFamily> ReadNow() const;
  void ReadMembership(std::vector<prometheus::MetricFamily>& out) const;
  void ReadTraffic(std::vector<prometheus::MetricFamily>& out) const;
  void ReadServices(std::vector<prometheus::MetricFamily>& out) const;
  void ReadMqtt(std::vector<prometheus::MetricFamily>& out) const;
  void ReadProcess(std::vector<prometheus::MetricFamily>& out) const;

  const Sources sources_;
  prometheus::Registry registry_;
  // Families of the registry (owned by it), with `node` as constant label.
  prometheus::Histogram& detection_;
  prometheus::Histogram& failover_;
  prometheus::Histogram& move_duration_;
  prometheus::Family<prometheus::Counter>& starts_;
  prometheus::Family<prometheus::Counter>& stops_;
  prometheus::Family<prometheus::Counter>& moves_;
  prometheus::Family<prometheus::Counter>& move_failures_;
  prometheus::Family<prometheus::Counter>& takeovers_;
  prometheus::Family<prometheus::Counter>& restarts_;
  prometheus::Family<prometheus::Gauge>& healthy_;
  prometheus::Family<prometheus::Counter>& plugin_events_;
  prometheus::Family<prometheus::Histogram>& call_duration_;
  prometheus::Family<prometheus::Counter>& calls_failed_;

  absl::Mutex mu_;
  std::map<std::string, ServiceSeries> series_ ABSL_GUARDED_BY(mu_);  // by label
  // The services with a plugin instance here, by label: 1 running, 0
  // starting, restarting or failed; none once stopped or handed over.
  std::map<std::string, prometheus::Gauge*> healthy_now_ ABSL_GUARDED_BY(mu_);
  // A failed read of procfs is logged once, not at every scrape.
  mutable std::atomic<bool> process_error_logged_{false};
};

}  // namespace domian::metrics
