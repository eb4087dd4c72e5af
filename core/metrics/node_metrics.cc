#include "core/metrics/node_metrics.h"

#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <iterator>
#include <optional>
#include <utility>

#include "core/metrics/process_sample.h"
#include "core/model/identity.h"
#include "core/model/service_state.h"
#include "core/model/values.h"

namespace domian::metrics {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;
using Label = prometheus::ClientMetric::Label;

constexpr char kNodeLabel[] = "node";
constexpr char kServiceLabel[] = "service";

// The states domian_services counts, in the order they are listed.
constexpr ServiceState kServiceStates[] = {ServiceState::kStarting,   ServiceState::kRunning,
                                           ServiceState::kRestarting, ServiceState::kHandingOver,
                                           ServiceState::kFailed,     ServiceState::kStopped};

// The duration an event measured, when it is one a histogram can take.
std::optional<double> Seconds(const events::Event& event) {
  if (!event.seconds || !std::isfinite(*event.seconds) || *event.seconds < 0) return std::nullopt;
  return event.seconds;
}

// Families read at render time are built by hand: prometheus-cpp 1.0 has
// no metric whose value is asked for when collected, and copying each
// value into a registry's metric before every Collect would only add a
// second copy that can drift.
MetricFamily& Begin(std::vector<MetricFamily>& out, std::string name, std::string help,
                    MetricType type) {
  out.push_back({.name = std::move(name), .help = std::move(help), .type = type, .metric = {}});
  return out.back();
}

// A sample of `family`; `node` (empty for process_*) first among its labels.
void Sample(MetricFamily& family, const std::string& node, double value,
            std::vector<Label> labels = {}) {
  prometheus::ClientMetric metric;
  if (!node.empty()) metric.label.push_back({kNodeLabel, node});
  for (Label& label : labels) metric.label.push_back(std::move(label));
  if (family.type == MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
}

double Flag(bool value) { return value ? 1 : 0; }

// A family of one sample, from a table.
struct Row {
  const char* name;
  const char* help;
  MetricType type;
  double value;
};

}  // namespace

NodeMetrics::NodeMetrics(Sources sources)
    : sources_(std::move(sources)),
      detection_(prometheus::BuildHistogram()
                     .Name("domian_peer_detection_seconds")
                     .Help("How long a peer was silent before this node declared it dead")
                     .Labels({{kNodeLabel, sources_.node}})
                     .Register(registry_)
                     .Add({}, kDetectionBuckets)),
      failover_(prometheus::BuildHistogram()
                    .Name("domian_failover_seconds")
                    .Help("From the last word of a dead owner to this node starting its "
                          "service in its place")
                    .Labels({{kNodeLabel, sources_.node}})
                    .Register(registry_)
                    .Add({}, kDetectionBuckets)),
      move_duration_(prometheus::BuildHistogram()
                         .Name("domian_placement_move_seconds")
                         .Help("A planned move of a service from this node: from its stop here "
                               "to running on the new node")
                         .Labels({{kNodeLabel, sources_.node}})
                         .Register(registry_)
                         .Add({}, kMoveBuckets)),
      starts_(prometheus::BuildCounter()
                  .Name("domian_placement_starts_total")
                  .Help("Services placement started on this node")
                  .Labels({{kNodeLabel, sources_.node}})
                  .Register(registry_)),
      stops_(prometheus::BuildCounter()
                 .Name("domian_placement_stops_total")
                 .Help("Services placement stopped on this node")
                 .Labels({{kNodeLabel, sources_.node}})
                 .Register(registry_)),
      moves_(prometheus::BuildCounter()
                 .Name("domian_placement_moves_total")
                 .Help("Services moved from this node to a better one")
                 .Labels({{kNodeLabel, sources_.node}})
                 .Register(registry_)),
      move_failures_(prometheus::BuildCounter()
                         .Name("domian_placement_move_failures_total")
                         .Help("Moves from this node the other node did not take")
                         .Labels({{kNodeLabel, sources_.node}})
                         .Register(registry_)),
      takeovers_(prometheus::BuildCounter()
                     .Name("domian_placement_takeovers_total")
                     .Help("Services this node took over, with their state, from a node "
                           "handing them over")
                     .Labels({{kNodeLabel, sources_.node}})
                     .Register(registry_)),
      restarts_(prometheus::BuildCounter()
                    .Name("domian_plugin_restarts_total")
                    .Help("Restarts of a service's plugin host on this node after it crashed, "
                          "hung or missed its liveness deadline")
                    .Labels({{kNodeLabel, sources_.node}})
                    .Register(registry_)),
      healthy_(prometheus::BuildGauge()
                   .Name("domian_service_healthy")
                   .Help("1 while a service's plugin runs healthy on this node, 0 while it "
                         "starts, restarts or has failed; absent when it does not run here")
                   .Labels({{kNodeLabel, sources_.node}})
                   .Register(registry_)),
      plugin_events_(prometheus::BuildCounter()
                         .Name("domian_plugin_events_total")
                         .Help("Events a service's plugin emitted on this node")
                         .Labels({{kNodeLabel, sources_.node}})
                         .Register(registry_)),
      call_duration_(prometheus::BuildHistogram()
                         .Name("domian_call_duration_seconds")
                         .Help("Calls to a service that entered at this node, from arrival to "
                               "answer (forwarded ones include the hop to the owner)")
                         .Labels({{kNodeLabel, sources_.node}})
                         .Register(registry_)),
      calls_failed_(prometheus::BuildCounter()
                        .Name("domian_calls_failed_total")
                        .Help("Calls to a service that entered at this node and were answered "
                              "with an error")
                        .Labels({{kNodeLabel, sources_.node}})
                        .Register(registry_)) {
  prometheus::BuildGauge()
      .Name("domian_build_info")
      .Help("Always 1: the version of domiand this node runs")
      .Labels({{kNodeLabel, sources_.node}})
      .Register(registry_)
      .Add({{"version", sources_.version}})
      .Set(1);
  absl::MutexLock lock(&mu_);
  for (const std::string& service : sources_.services) LabelFor(service);
}

const std::string& NodeMetrics::LabelFor(const std::string& name) {
  if (const auto found = series_.find(name); found != series_.end()) return found->first;
  if (IsValidServiceName(name) && series_.size() < kMaxServiceLabels) return MakeSeries(name);
  if (const auto other = series_.find(kOtherService); other != series_.end()) return other->first;
  return MakeSeries(kOtherService);
}

NodeMetrics::ServiceSeries& NodeMetrics::SeriesFor(const std::string& name) {
  return series_.at(LabelFor(name));
}

const std::string& NodeMetrics::MakeSeries(const std::string& label) {
  const prometheus::Labels labels = {{kServiceLabel, label}};
  return series_
      .emplace(label, ServiceSeries{.starts = &starts_.Add(labels),
                                    .stops = &stops_.Add(labels),
                                    .moves = &moves_.Add(labels),
                                    .move_failures = &move_failures_.Add(labels),
                                    .takeovers = &takeovers_.Add(labels),
                                    .restarts = &restarts_.Add(labels),
                                    .plugin_events = &plugin_events_.Add(labels),
                                    .calls_failed = &calls_failed_.Add(labels),
                                    .call_duration = &call_duration_.Add(labels, kCallBuckets)})
      .first->first;
}

void NodeMetrics::Observe(const events::Event& event) {
  switch (event.kind) {
    case events::Kind::kMember:
      // Only a peer found dead carries its silence; one that said goodbye
      // is `left`, which detected nothing.
      if (event.what == "dead") {
        if (const std::optional<double> seconds = Seconds(event)) detection_.Observe(*seconds);
      }
      return;
    case events::Kind::kPlacement:
      ObservePlacement(event);
      return;
    case events::Kind::kHealth:
      ObserveHealth(event);
      return;
    case events::Kind::kPlugin: {
      if (event.service.empty()) return;
      absl::MutexLock lock(&mu_);
      SeriesFor(event.service).plugin_events->Increment();
      return;
    }
    case events::Kind::kLost:
      return;
  }
}

void NodeMetrics::ObservePlacement(const events::Event& event) {
  if (event.service.empty()) return;
  const std::optional<double> seconds = Seconds(event);
  absl::MutexLock lock(&mu_);
  ServiceSeries& series = SeriesFor(event.service);
  if (event.what == "started") {
    series.starts->Increment();
    // A start measures something only when it replaces a dead owner.
    if (seconds) failover_.Observe(*seconds);
  } else if (event.what == "stopped") {
    series.stops->Increment();
  } else if (event.what == "moved") {
    series.moves->Increment();
    if (seconds) move_duration_.Observe(*seconds);
  } else if (event.what == "move_failed") {
    series.move_failures->Increment();
  } else if (event.what == "took_over") {
    series.takeovers->Increment();
  }
  // "moving" is counted by how it ends (moved, move_failed).
}

void NodeMetrics::ObserveHealth(const events::Event& event) {
  if (event.service.empty()) return;
  const ServiceState state = ParseServiceState(event.what);
  absl::MutexLock lock(&mu_);
  const std::string& label = LabelFor(event.service);
  if (state == ServiceState::kRestarting) series_.at(label).restarts->Increment();
  // Health is one service's: (other) would mix several.
  if (label == kOtherService) return;
  const auto gauge = healthy_now_.find(label);
  switch (state) {
    case ServiceState::kRunning:
    case ServiceState::kStarting:
    case ServiceState::kRestarting:
    case ServiceState::kFailed: {
      prometheus::Gauge* healthy = gauge != healthy_now_.end() ? gauge->second : nullptr;
      if (healthy == nullptr) {
        healthy = &healthy_.Add({{kServiceLabel, label}});
        healthy_now_.emplace(label, healthy);
      }
      healthy->Set(Flag(state == ServiceState::kRunning));
      return;
    }
    case ServiceState::kHandingOver:
    case ServiceState::kStopped:
      // Not running here: no health to report (a 0 would look like a
      // failure on every node but the owner).
      if (gauge != healthy_now_.end()) {
        healthy_.Remove(gauge->second);
        healthy_now_.erase(gauge);
      }
      return;
    case ServiceState::kUnknown:
      return;
  }
}

void NodeMetrics::ObserveCall(const std::string& service, std::chrono::nanoseconds took, bool ok) {
  ServiceSeries* series = nullptr;
  {
    absl::MutexLock lock(&mu_);
    // A caller names the service: only a name this node already labels
    // gets a series of its own.
    const auto found = series_.find(service);
    series = found != series_.end() ? &found->second : &SeriesFor(kOtherService);
  }
  // The series outlive every call: they are never removed.
  series->call_duration->Observe(std::chrono::duration<double>(took).count());
  if (!ok) series->calls_failed->Increment();
}

std::string NodeMetrics::Render() const {
  std::vector<MetricFamily> families = registry_.Collect();
  std::vector<MetricFamily> now = ReadNow();
  families.insert(families.end(), std::make_move_iterator(now.begin()),
                  std::make_move_iterator(now.end()));
  return prometheus::TextSerializer().Serialize(families);
}

std::vector<MetricFamily> NodeMetrics::ReadNow() const {
  std::vector<MetricFamily> out;
  ReadMembership(out);
  ReadTraffic(out);
  ReadServices(out);
  ReadMqtt(out);
  ReadProcess(out);
  return out;
}

void NodeMetrics::ReadMembership(std::vector<MetricFamily>& out) const {
  const std::string& node = sources_.node;
  if (sources_.peers) {
    size_t alive = 0, suspect = 0, dead = 0, left = 0;
    for (const membership::PeerView& peer : sources_.peers()) {
      if (peer.left) {
        ++left;
        continue;
      }
      switch (peer.state) {
        case PeerState::kAlive:
          ++alive;
          break;
        case PeerState::kSuspect:
          ++suspect;
          break;
        case PeerState::kDead:
          ++dead;
          break;
      }
    }
    MetricFamily& peers =
        Begin(out, "domian_peers",
              "Peers this node knows, by state (left: said goodbye; dead: stopped answering)",
              MetricType::Gauge);
    Sample(peers, node, static_cast<double>(alive), {{"state", "alive"}});
    Sample(peers, node, static_cast<double>(suspect), {{"state", "suspect"}});
    Sample(peers, node, static_cast<double>(dead), {{"state", "dead"}});
    Sample(peers, node, static_cast<double>(left), {{"state", "left"}});
  }
  if (sources_.membership) {
    const membership::MembershipStatus status = sources_.membership();
    Sample(Begin(out, "domian_incarnation",
                 "This node's incarnation: set at each start, grown to refute a rumour of its "
                 "death",
                 MetricType::Gauge),
           node, static_cast<double>(status.counters.incarnation));
    Sample(
        Begin(out, "domian_lonely", "1 while this node hears from no live peer", MetricType::Gauge),
        node, Flag(status.lonely));
  }
}

void NodeMetrics::ReadTraffic(std::vector<MetricFamily>& out) const {
  if (sources_.traffic == nullptr) return;
  const rpc::TrafficCounters& traffic = *sources_.traffic;
  const std::string& node = sources_.node;
  auto count = [](const std::atomic<uint64_t>& value) { return static_cast<double>(value.load()); };
  MetricFamily& calls = Begin(out, "domian_heartbeat_calls_total",
                              "Identity list exchanges (heartbeats): sent, made by this node; "
                              "received, made by peers",
                              MetricType::Counter);
  Sample(calls, node, count(traffic.lists_sent), {{"direction", "sent"}});
  Sample(calls, node, count(traffic.lists_received), {{"direction", "received"}});
  MetricFamily& bytes =
      Begin(out, "domian_heartbeat_bytes_total",
            "Bytes of identity lists this node sent and received", MetricType::Counter);
  Sample(bytes, node, count(traffic.bytes_sent), {{"direction", "sent"}});
  Sample(bytes, node, count(traffic.bytes_received), {{"direction", "received"}});
  Sample(Begin(out, "domian_state_copies_total",
               "Copies of services' states this node sent to peers", MetricType::Counter),
         node, count(traffic.state_copies_sent), {{"direction", "sent"}});
  Sample(Begin(out, "domian_state_copy_bytes_total",
               "Bytes of services' states this node sent to peers", MetricType::Counter),
         node, count(traffic.state_copy_bytes_sent), {{"direction", "sent"}});
}

void NodeMetrics::ReadServices(std::vector<MetricFamily>& out) const {
  if (!sources_.service_statuses) return;
  std::map<ServiceState, size_t> by_state;
  for (const services::ServiceStatus& status : sources_.service_statuses()) {
    ++by_state[status.state];
  }
  MetricFamily& family =
      Begin(out, "domian_services", "Services this node's service host knows, by state",
            MetricType::Gauge);
  for (const ServiceState state : kServiceStates) {
    Sample(family, sources_.node, static_cast<double>(by_state[state]),
           {{"state", std::string(ServiceStateName(state))}});
  }
}

void NodeMetrics::ReadMqtt(std::vector<MetricFamily>& out) const {
  if (!sources_.mqtt) return;
  const mqtt::MqttStatus status = sources_.mqtt();
  if (!status.configured) return;
  auto n = [](uint64_t value) { return static_cast<double>(value); };
  const Row rows[] = {
      {"domian_mqtt_connected", "1 while the MQTT bridge is connected to its broker",
       MetricType::Gauge, Flag(status.connected)},
      {"domian_mqtt_connection_attempts_total", "Connection attempts to the MQTT broker",
       MetricType::Counter, n(status.attempts)},
      {"domian_mqtt_connections_total", "Successful connections to the MQTT broker",
       MetricType::Counter, n(status.connects)},
      {"domian_mqtt_messages_published_total",
       "MQTT messages the broker took (QoS 1) or that were sent (QoS 0)", MetricType::Counter,
       n(status.published)},
      {"domian_mqtt_messages_dropped_total",
       "MQTT messages that never left: queue full, too big, or lost", MetricType::Counter,
       n(status.dropped)},
      {"domian_mqtt_messages_queued", "MQTT messages waiting to be sent", MetricType::Gauge,
       n(status.queued)},
      {"domian_mqtt_incoming_dropped_total", "MQTT messages from the broker refused for their size",
       MetricType::Counter, n(status.incoming_dropped)},
      {"domian_mqtt_entities", "Home Assistant entities this node publishes", MetricType::Gauge,
       n(status.entities)},
      {"domian_mqtt_commands_total", "Home Assistant commands queued for a service",
       MetricType::Counter, n(status.commands)},
      {"domian_mqtt_commands_failed_total",
       "Home Assistant commands refused (a bad payload) or failed in the service",
       MetricType::Counter, n(status.commands_failed)},
      {"domian_mqtt_commands_dropped_total",
       "Home Assistant commands for no command, or beyond the queue's bound", MetricType::Counter,
       n(status.commands_dropped)},
  };
  for (const Row& row : rows) {
    Sample(Begin(out, row.name, row.help, row.type), sources_.node, row.value);
  }
}

void NodeMetrics::ReadProcess(std::vector<MetricFamily>& out) const {
  if (sources_.proc.empty()) return;
  const absl::StatusOr<ProcessSample> sample = ReadProcessSample(sources_.proc);
  if (!sample.ok()) {
    if (!process_error_logged_.exchange(true)) {
      spdlog::warn("metrics: no process_* metrics: {}", StatusMessage(sample.status()));
    }
    return;
  }
  // The names and meanings every Prometheus client library gives them.
  const Row rows[] = {
      {"process_cpu_seconds_total", "Total user and system CPU time spent in seconds",
       MetricType::Counter, sample->cpu_seconds},
      {"process_resident_memory_bytes", "Resident memory size in bytes", MetricType::Gauge,
       sample->resident_bytes},
      {"process_virtual_memory_bytes", "Virtual memory size in bytes", MetricType::Gauge,
       sample->virtual_bytes},
      {"process_open_fds", "Number of open file descriptors", MetricType::Gauge, sample->open_fds},
      {"process_max_fds", "Maximum number of open file descriptors", MetricType::Gauge,
       sample->max_fds},
      {"process_start_time_seconds", "Start time of the process since unix epoch in seconds",
       MetricType::Gauge, sample->start_time_seconds},
      {"process_threads", "Number of OS threads in the process", MetricType::Gauge,
       sample->threads},
  };
  for (const Row& row : rows) Sample(Begin(out, row.name, row.help, row.type), "", row.value);
}

}  // namespace domian::metrics
