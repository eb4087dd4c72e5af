// NodeMetrics and the process sample. Render's output is read back through
// a real parser of the exposition format (check_exposition.py, on
// Debian's python3-prometheus-client), which also checks the naming
// conventions; the tests then look at the parsed samples.
#include "core/metrics/node_metrics.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "core/metrics/process_sample.h"

namespace domian::metrics {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string ReadAll(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Quoted(const std::string& text) { return "'" + text + "'"; }

// Debian's interpreter first: python3-prometheus-client installs there,
// and a python3 earlier on PATH (a virtualenv, pyenv) may lack it.
std::optional<std::string> FindPython() {
  for (const std::string candidate : {"/usr/bin/python3", "python3"}) {
    const std::string probe =
        candidate + " -c 'import prometheus_client.parser' >/dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) return candidate;
  }
  return std::nullopt;
}

struct Checked {
  int exit_code = -1;
  json parsed;
  std::string errors;
};

// `text` through check_exposition.py.
Checked Check(const std::string& text) {
  static const std::optional<std::string> python = FindPython();
  if (!python) {
    ADD_FAILURE() << "no python3 that can import prometheus_client: install "
                     "python3-prometheus-client (./scripts/deps)";
    return {};
  }
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                                    ("metrics_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "metrics.txt") << text;
  const std::string command = *python + " " + Quoted(DOMIAN_CHECK_EXPOSITION) + " < " +
                              Quoted(dir / "metrics.txt") + " > " + Quoted(dir / "out.json") +
                              " 2> " + Quoted(dir / "errors.txt");
  const int status = std::system(command.c_str());
  Checked checked;
  checked.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  checked.errors = ReadAll(dir / "errors.txt");
  if (checked.exit_code == 0) checked.parsed = json::parse(ReadAll(dir / "out.json"));
  std::filesystem::remove_all(dir);
  return checked;
}

// The family written as `name`, or null.
const json* Family(const json& parsed, const std::string& name) {
  for (const json& family : parsed["families"]) {
    if (family["name"] == name) return &family;
  }
  return nullptr;
}

// The value of the sample named `sample` whose labels include `labels`.
std::optional<double> Value(const json& parsed, const std::string& family,
                            const std::string& sample, const json& labels = json::object()) {
  const json* found = Family(parsed, family);
  if (found == nullptr) return std::nullopt;
  for (const json& s : (*found)["samples"]) {
    if (s["name"] != sample) continue;
    bool match = true;
    for (const auto& [key, value] : labels.items()) {
      match = match && s["labels"].contains(key) && s["labels"][key] == value;
    }
    if (match) return s["value"].get<double>();
  }
  return std::nullopt;
}
std::optional<double> Value(const json& parsed, const std::string& name,
                            const json& labels = json::object()) {
  return Value(parsed, name, name, labels);
}

membership::PeerView Peer(const std::string& id, PeerState state, bool left = false) {
  membership::PeerView peer;
  peer.identity.id = id;
  peer.state = state;
  peer.left = left;
  return peer;
}

class NodeMetricsTest : public ::testing::Test {
 protected:
  NodeMetrics::Sources AllSources() {
    return {.node = "hall",
            .version = "0.1.0",
            .services = {"lights", "speaker"},
            .membership =
                [this] {
                  membership::MembershipStatus status;
                  status.counters.incarnation = incarnation_;
                  status.lonely = lonely_;
                  return status;
                },
            .peers =
                [] {
                  return std::vector<membership::PeerView>{
                      Peer("kitchen", PeerState::kAlive), Peer("porch", PeerState::kAlive),
                      Peer("attic", PeerState::kSuspect), Peer("shed", PeerState::kDead),
                      Peer("garage", PeerState::kDead, /*left=*/true)};
                },
            .traffic = &traffic_,
            .service_statuses =
                [] {
                  return std::vector<services::ServiceStatus>{
                      {.name = "lights", .state = ServiceState::kRunning},
                      {.name = "speaker", .state = ServiceState::kRestarting}};
                },
            .mqtt = [this] { return mqtt_; }};
  }

  // Render, through the parser; fails the test when it does not parse.
  json Rendered(const NodeMetrics& metrics) {
    const std::string text = metrics.Render();
    Checked checked = Check(text);
    EXPECT_EQ(checked.exit_code, 0) << checked.errors << "\n--- the page:\n" << text;
    return checked.parsed;
  }

  uint64_t incarnation_ = 1'765'000'000;
  bool lonely_ = false;
  rpc::TrafficCounters traffic_;
  mqtt::MqttStatus mqtt_;
};

TEST_F(NodeMetricsTest, RenderParsesAsPrometheusTextWithEveryFamily) {
  mqtt_.configured = true;
  mqtt_.connected = true;
  mqtt_.published = 12;
  NodeMetrics metrics(AllSources());
  const json parsed = Rendered(metrics);
  for (const char* name :
       {"domian_build_info", "domian_peer_detection_seconds", "domian_failover_seconds",
        "domian_placement_move_seconds", "domian_placement_starts_total",
        "domian_placement_stops_total", "domian_placement_moves_total",
        "domian_placement_move_failures_total", "domian_placement_takeovers_total",
        "domian_plugin_restarts_total", "domian_plugin_events_total",
        "domian_call_duration_seconds", "domian_calls_failed_total", "domian_peers",
        "domian_incarnation", "domian_lonely", "domian_heartbeat_calls_total",
        "domian_heartbeat_bytes_total", "domian_state_copies_total",
        "domian_state_copy_bytes_total", "domian_services", "domian_mqtt_connected",
        "domian_mqtt_messages_published_total", "domian_mqtt_commands_total",
        "process_cpu_seconds_total", "process_resident_memory_bytes",
        "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
        "process_start_time_seconds", "process_threads"}) {
    EXPECT_NE(Family(parsed, name), nullptr) << name;
  }
  EXPECT_EQ(Value(parsed, "domian_build_info", {{"node", "hall"}, {"version", "0.1.0"}}), 1);
  // Configured services have their counters at 0 before anything happened.
  EXPECT_EQ(Value(parsed, "domian_placement_starts_total", {{"service", "speaker"}}), 0);
  EXPECT_EQ(Value(parsed, "domian_mqtt_messages_published_total"), 12);
  EXPECT_EQ(Value(parsed, "domian_mqtt_connected"), 1);
  // No health is reported before a health event says how a service is.
  EXPECT_EQ(Family(parsed, "domian_service_healthy"), nullptr);
}

TEST_F(NodeMetricsTest, TheCheckerRefusesWhatBreaksTheFormatOrTheConventions) {
  // A counter without _total, and a sample that belongs to no family.
  const Checked bad = Check(
      "# HELP domian_things things\n# TYPE domian_things counter\ndomian_things{node=\"a\"} 1\n"
      "stray 2\n");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.errors.find("does not end in _total"), std::string::npos) << bad.errors;
  EXPECT_EQ(Check("domian_x{node=\"a\" 1\n").exit_code, 1);
}

TEST_F(NodeMetricsTest, ADeadPeerIsObservedInTheDetectionHistogram) {
  NodeMetrics metrics(AllSources());
  metrics.Observe({.kind = events::Kind::kMember, .what = "dead", .node = "shed",
                   .detail = "silent for 1.6s", .seconds = 1.6});
  // Neither a goodbye nor a death without a measured silence detects anything.
  metrics.Observe({.kind = events::Kind::kMember, .what = "left", .node = "garage",
                   .seconds = 0.2});
  metrics.Observe({.kind = events::Kind::kMember, .what = "dead", .node = "attic"});
  const json parsed = Rendered(metrics);
  const std::string family = "domian_peer_detection_seconds";
  EXPECT_EQ(Value(parsed, family, family + "_count"), 1);
  EXPECT_DOUBLE_EQ(*Value(parsed, family, family + "_sum"), 1.6);
  EXPECT_EQ(Value(parsed, family, family + "_bucket", {{"le", "1.5"}}), 0);
  EXPECT_EQ(Value(parsed, family, family + "_bucket", {{"le", "1.75"}}), 1);
  EXPECT_EQ(Value(parsed, family, family + "_bucket", {{"le", "+Inf"}}), 1);
}

TEST_F(NodeMetricsTest, PeersByStateIncarnationAndLoneliness) {
  incarnation_ = 1'765'000'042;
  lonely_ = true;
  NodeMetrics metrics(AllSources());
  const json parsed = Rendered(metrics);
  EXPECT_EQ(Value(parsed, "domian_peers", {{"state", "alive"}}), 2);
  EXPECT_EQ(Value(parsed, "domian_peers", {{"state", "suspect"}}), 1);
  EXPECT_EQ(Value(parsed, "domian_peers", {{"state", "dead"}}), 1);
  EXPECT_EQ(Value(parsed, "domian_peers", {{"state", "left"}}), 1);
  EXPECT_EQ(Value(parsed, "domian_incarnation"), 1'765'000'042);
  EXPECT_EQ(Value(parsed, "domian_lonely"), 1);
}

TEST_F(NodeMetricsTest, RestartsAndHealthFollowHealthEvents) {
  NodeMetrics metrics(AllSources());
  auto health = [&](const std::string& what) {
    metrics.Observe({.kind = events::Kind::kHealth, .what = what, .node = "hall",
                     .service = "lights"});
  };
  health("starting");
  health("running");
  json parsed = Rendered(metrics);
  EXPECT_EQ(Value(parsed, "domian_service_healthy", {{"service", "lights"}}), 1);
  EXPECT_EQ(Value(parsed, "domian_plugin_restarts_total", {{"service", "lights"}}), 0);

  health("restarting");
  parsed = Rendered(metrics);
  EXPECT_EQ(Value(parsed, "domian_plugin_restarts_total", {{"service", "lights"}}), 1);
  EXPECT_EQ(Value(parsed, "domian_service_healthy", {{"service", "lights"}}), 0);

  health("running");
  health("restarting");
  health("failed");
  parsed = Rendered(metrics);
  EXPECT_EQ(Value(parsed, "domian_plugin_restarts_total", {{"service", "lights"}}), 2);
  EXPECT_EQ(Value(parsed, "domian_service_healthy", {{"service", "lights"}}), 0);

  // Stopped here: no health at all, rather than a 0 that looks like a failure.
  health("stopped");
  parsed = Rendered(metrics);
  EXPECT_EQ(Value(parsed, "domian_service_healthy", {{"service", "lights"}}), std::nullopt);
  EXPECT_EQ(Value(parsed, "domian_plugin_restarts_total", {{"service", "lights"}}), 2);
}

TEST_F(NodeMetricsTest, PlacementEventsCountPerServiceAndTimeFailoversAndMoves) {
  NodeMetrics metrics(AllSources());
  auto placement = [&](const std::string& what, const std::string& service,
                       std::optional<double> seconds = std::nullopt) {
    metrics.Observe({.kind = events::Kind::kPlacement, .what = what, .node = "hall",
                     .service = service, .seconds = seconds});
  };
  placement("started", "lights");             // listed for this node: no failover
  placement("started", "speaker", 1.9);       // in place of a dead owner
  placement("moving", "lights");
  placement("moved", "lights", 0.12);
  placement("move_failed", "speaker");
  placement("took_over", "camera");           // a plugin in the catalog, not in node.yaml
  placement("stopped", "speaker");
  const json parsed = Rendered(metrics);
  EXPECT_EQ(Value(parsed, "domian_placement_starts_total", {{"service", "lights"}}), 1);
  EXPECT_EQ(Value(parsed, "domian_placement_starts_total", {{"service", "speaker"}}), 1);
  EXPECT_EQ(Value(parsed, "domian_placement_stops_total", {{"service", "speaker"}}), 1);
  EXPECT_EQ(Value(parsed, "domian_placement_moves_total", {{"service", "lights"}}), 1);
  EXPECT_EQ(Value(parsed, "domian_placement_move_failures_total", {{"service", "speaker"}}), 1);
  EXPECT_EQ(Value(parsed, "domian_placement_takeovers_total", {{"service", "camera"}}), 1);
  const std::string failover = "domian_failover_seconds";
  EXPECT_EQ(Value(parsed, failover, failover + "_count"), 1);
  EXPECT_EQ(Value(parsed, failover, failover + "_bucket", {{"le", "2"}}), 1);
  EXPECT_EQ(Value(parsed, failover, failover + "_bucket", {{"le", "1.75"}}), 0);
  const std::string move = "domian_placement_move_seconds";
  EXPECT_EQ(Value(parsed, move, move + "_count"), 1);
  EXPECT_EQ(Value(parsed, move, move + "_bucket", {{"le", "0.1"}}), 0);
  EXPECT_EQ(Value(parsed, move, move + "_bucket", {{"le", "0.25"}}), 1);
}

TEST_F(NodeMetricsTest, PluginEventsAreCountedWithoutTheirNamesAsLabels) {
  NodeMetrics metrics(AllSources());
  metrics.Observe({.kind = events::Kind::kPlugin, .what = "button_pressed", .node = "hall",
                   .service = "lights", .data_json = R"({"button":1})"});
  metrics.Observe({.kind = events::Kind::kPlugin, .what = "anything at all", .node = "hall",
                   .service = "lights"});
  const std::string text = metrics.Render();
  EXPECT_EQ(text.find("button_pressed"), std::string::npos);
  const json parsed = Rendered(metrics);
  EXPECT_EQ(Value(parsed, "domian_plugin_events_total", {{"service", "lights"}}), 2);
}

TEST_F(NodeMetricsTest, CallLatencyPerServiceAndNamesFromCallersAreNotLabels) {
  NodeMetrics metrics(AllSources());
  metrics.ObserveCall("lights", 3ms, true);
  metrics.ObserveCall("lights", 800ms, false);
  metrics.ObserveCall("no-such-service", 1ms, false);  // a caller's word
  const json parsed = Rendered(metrics);
  const std::string family = "domian_call_duration_seconds";
  EXPECT_EQ(Value(parsed, family, family + "_count", {{"service", "lights"}}), 2);
  EXPECT_EQ(Value(parsed, family, family + "_bucket", {{"service", "lights"}, {"le", "0.0025"}}),
            0);
  EXPECT_EQ(Value(parsed, family, family + "_bucket", {{"service", "lights"}, {"le", "0.005"}}),
            1);
  EXPECT_EQ(Value(parsed, family, family + "_bucket", {{"service", "lights"}, {"le", "1"}}), 2);
  EXPECT_EQ(Value(parsed, "domian_calls_failed_total", {{"service", "lights"}}), 1);
  EXPECT_EQ(Value(parsed, family, family + "_count", {{"service", "(other)"}}), 1);
  EXPECT_EQ(Value(parsed, "domian_calls_failed_total", {{"service", "(other)"}}), 1);
  EXPECT_EQ(metrics.Render().find("no-such-service"), std::string::npos);
}

TEST_F(NodeMetricsTest, ServiceLabelsAreCapped) {
  NodeMetrics metrics(AllSources());
  for (size_t i = 0; i < kMaxServiceLabels + 10; ++i) {
    metrics.Observe({.kind = events::Kind::kPlacement, .what = "started", .node = "hall",
                     .service = "s" + std::to_string(i)});
  }
  const json parsed = Rendered(metrics);
  const json* starts = Family(parsed, "domian_placement_starts_total");
  ASSERT_NE(starts, nullptr);
  EXPECT_EQ((*starts)["samples"].size(), kMaxServiceLabels + 1);  // and (other)
  // lights and speaker were labelled at construction: 62 more fit.
  EXPECT_EQ(Value(parsed, "domian_placement_starts_total", {{"service", "(other)"}}),
            kMaxServiceLabels + 10 - (kMaxServiceLabels - 2));
}

TEST_F(NodeMetricsTest, TrafficCountersAreReadAtRenderTime) {
  NodeMetrics metrics(AllSources());
  traffic_.lists_sent = 250;
  traffic_.lists_received = 240;
  traffic_.bytes_sent = 51'200;
  traffic_.bytes_received = 49'000;
  traffic_.state_copies_sent = 3;
  traffic_.state_copy_bytes_sent = 900;
  json parsed = Rendered(metrics);
  EXPECT_EQ(Value(parsed, "domian_heartbeat_calls_total", {{"direction", "sent"}}), 250);
  EXPECT_EQ(Value(parsed, "domian_heartbeat_calls_total", {{"direction", "received"}}), 240);
  EXPECT_EQ(Value(parsed, "domian_heartbeat_bytes_total", {{"direction", "sent"}}), 51'200);
  EXPECT_EQ(Value(parsed, "domian_heartbeat_bytes_total", {{"direction", "received"}}), 49'000);
  EXPECT_EQ(Value(parsed, "domian_state_copies_total", {{"direction", "sent"}}), 3);
  EXPECT_EQ(Value(parsed, "domian_state_copy_bytes_total", {{"direction", "sent"}}), 900);
  traffic_.lists_sent += 5;
  parsed = Rendered(metrics);
  EXPECT_EQ(Value(parsed, "domian_heartbeat_calls_total", {{"direction", "sent"}}), 255);
}

TEST_F(NodeMetricsTest, ServicesByStateOnThisNode) {
  NodeMetrics metrics(AllSources());
  const json parsed = Rendered(metrics);
  EXPECT_EQ(Value(parsed, "domian_services", {{"state", "running"}}), 1);
  EXPECT_EQ(Value(parsed, "domian_services", {{"state", "restarting"}}), 1);
  EXPECT_EQ(Value(parsed, "domian_services", {{"state", "failed"}}), 0);
  EXPECT_EQ(Value(parsed, "domian_services", {{"state", "handing-over"}}), 0);
}

TEST_F(NodeMetricsTest, TheMqttFamiliesOnlyWhenTheBridgeIsConfigured) {
  NodeMetrics metrics(AllSources());
  EXPECT_EQ(Family(Rendered(metrics), "domian_mqtt_connected"), nullptr);
}

TEST_F(NodeMetricsTest, ProcessMetricsArePlausible) {
  NodeMetrics metrics(AllSources());
  const json parsed = Rendered(metrics);
  EXPECT_GT(*Value(parsed, "process_resident_memory_bytes"), 0);
  EXPECT_GE(*Value(parsed, "process_virtual_memory_bytes"),
            *Value(parsed, "process_resident_memory_bytes"));
  EXPECT_GE(*Value(parsed, "process_cpu_seconds_total"), 0);
  EXPECT_GE(*Value(parsed, "process_open_fds"), 3);  // stdin, stdout, stderr
  EXPECT_GE(*Value(parsed, "process_max_fds"), *Value(parsed, "process_open_fds"));
  EXPECT_GE(*Value(parsed, "process_threads"), 1);
  const double now = std::chrono::duration<double>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  const double started = *Value(parsed, "process_start_time_seconds");
  EXPECT_LE(started, now + 1);
  EXPECT_GT(started, now - 24 * 3600);  // this test started less than a day ago
}

TEST_F(NodeMetricsTest, WithoutProcfsTheProcessFamiliesAreLeftOut) {
  NodeMetrics::Sources sources = AllSources();
  sources.proc = std::filesystem::path(::testing::TempDir()) / "no-such-proc";
  NodeMetrics metrics(std::move(sources));
  const json parsed = Rendered(metrics);
  EXPECT_EQ(Family(parsed, "process_cpu_seconds_total"), nullptr);
  EXPECT_NE(Family(parsed, "domian_peers"), nullptr);
}

TEST_F(NodeMetricsTest, ObserveAndRenderFromManyThreads) {
  NodeMetrics metrics(AllSources());
  constexpr int kThreads = 4;
  constexpr int kEach = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics, t] {
      for (int i = 0; i < kEach; ++i) {
        metrics.Observe({.kind = events::Kind::kHealth,
                         .what = i % 2 == 0 ? "restarting" : "stopped",
                         .service = t % 2 == 0 ? "lights" : "speaker"});
        metrics.ObserveCall("lights", 1ms, true);
        if (i % 50 == 0) {
          EXPECT_FALSE(metrics.Render().empty());
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const json parsed = Rendered(metrics);
  EXPECT_EQ(Value(parsed, "domian_plugin_restarts_total", {{"service", "lights"}}),
            kThreads / 2 * kEach / 2);
  const std::string family = "domian_call_duration_seconds";
  EXPECT_EQ(Value(parsed, family, family + "_count", {{"service", "lights"}}), kThreads * kEach);
}

// ReadProcessSample on a procfs of the test's own making.
class ProcessSampleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    proc_ = std::filesystem::path(::testing::TempDir()) /
            ("process_sample_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(proc_);
    std::filesystem::create_directories(proc_ / "self" / "fd");
    for (const char* fd : {"0", "1", "2", "7"}) std::ofstream(proc_ / "self" / "fd" / fd);
    // A command name with spaces and parentheses, as a process may have.
    Write("self/stat",
          "4242 (dom (iand) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 "
          "250 50 0 0 20 0 9 0 1000 123456789 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 "
          "0 0 17 0 0 0 0 0 0\n");
    Write("self/limits",
          "Limit                     Soft Limit           Hard Limit           Units     \n"
          "Max open files            1024                 524288               files     \n");
    Write("stat", "cpu  1 2 3 4\nintr 5 6 7\nbtime 1765000000\nprocesses 99\n");
  }
  void TearDown() override { std::filesystem::remove_all(proc_); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(proc_ / name) << text;
  }

  std::filesystem::path proc_;
};

TEST_F(ProcessSampleTest, ReadsTheFieldsInPrometheusUnits) {
  const absl::StatusOr<ProcessSample> sample = ReadProcessSample(proc_);
  ASSERT_TRUE(sample.ok()) << sample.status();
  const auto ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const auto page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  EXPECT_DOUBLE_EQ(sample->cpu_seconds, 300 / ticks);
  EXPECT_DOUBLE_EQ(sample->resident_bytes, 2048 * page);
  EXPECT_DOUBLE_EQ(sample->virtual_bytes, 123456789);
  EXPECT_DOUBLE_EQ(sample->threads, 9);
  EXPECT_DOUBLE_EQ(sample->start_time_seconds, 1765000000 + 1000 / ticks);
  EXPECT_DOUBLE_EQ(sample->open_fds, 4);
  EXPECT_DOUBLE_EQ(sample->max_fds, 1024);
}

TEST_F(ProcessSampleTest, AnUnlimitedLimitIsInfinite) {
  Write("self/limits", "Max open files            unlimited            unlimited            files\n");
  const absl::StatusOr<ProcessSample> sample = ReadProcessSample(proc_);
  ASSERT_TRUE(sample.ok()) << sample.status();
  EXPECT_TRUE(std::isinf(sample->max_fds));
}

TEST_F(ProcessSampleTest, AMalformedFileIsNamed) {
  Write("self/stat", "4242 (domiand) S 1 2\n");
  absl::StatusOr<ProcessSample> sample = ReadProcessSample(proc_);
  ASSERT_FALSE(sample.ok());
  EXPECT_NE(sample.status().message().find("self/stat"), std::string::npos) << sample.status();

  SetUp();
  Write("stat", "cpu 1 2 3\n");
  sample = ReadProcessSample(proc_);
  ASSERT_FALSE(sample.ok());
  EXPECT_NE(sample.status().message().find("btime"), std::string::npos) << sample.status();
}

}  // namespace
}  // namespace domian::metrics
