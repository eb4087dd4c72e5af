// MqttBridge against a real mosquitto on 127.0.0.1 (no mocks): the
// connection and availability, refusals and the backoff, a broker restart,
// the last will of a process killed outright, Home Assistant's status, and
// the bounds on what goes out and comes in.
//
// Run with `--bridge-child PORT PASSWORD_FILE TOPIC`, the binary is instead
// a process that runs one bridge until it is killed (the last-will test).
#include "core/mqtt/mqtt_bridge.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <boost/process.hpp>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/support/cluster.h"
#include "tests/support/die_with_parent.h"
#include "tests/support/mosquitto_broker.h"

namespace domian::mqtt {
namespace {

using namespace std::chrono_literals;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using domian::testing::Eventually;
using domian::testing::MosquittoBroker;
using domian::testing::TempDir;

// Generous: a loaded two-core machine, and backoffs of a few seconds.
constexpr auto kDeadline = 60s;

MqttBridge::Options BridgeOptions(const MosquittoBroker& broker, const std::string& name) {
  MqttBridge::Options options;
  options.host = "127.0.0.1";
  options.port = broker.port();
  options.username = MosquittoBroker::kBridgeUser;
  options.password_file = broker.bridge_password_file();
  options.client_id = "domian-test-" + name + "-" + std::to_string(::getpid());
  options.availability_topic = AvailabilityTopic("test", name);
  return options;
}

bool Connected(const MqttBridge& bridge) { return bridge.Status().connected; }

// The spdlog lines logged while it lives.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(text_)) {
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  std::string Text() {
    spdlog::default_logger()->flush();
    return text_.str();
  }

 private:
  std::ostringstream text_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

class MqttBridgeTest : public ::testing::Test {
 protected:
  MqttBridgeTest() : dir_("mqtt-bridge-test"), broker_(dir_.path() / "broker") {}

  TempDir dir_;
  MosquittoBroker broker_;
  SteadyClock clock_;
};

TEST_F(MqttBridgeTest, ConnectsAndPublishesOnlineRetained) {
  broker_.Start();
  MqttBridge bridge(BridgeOptions(broker_, "kitchen"), clock_);
  ASSERT_TRUE(bridge.Start().ok());
  ASSERT_TRUE(Eventually([&] { return Connected(bridge); }, kDeadline)) << broker_.Log();
  EXPECT_EQ(broker_.Receive(AvailabilityTopic("test", "kitchen"), 10s), "online");

  ASSERT_TRUE(bridge.Publish("domian/test/probe", "hello", true, 1));
  EXPECT_EQ(broker_.Receive("domian/test/probe", 10s), "hello");
  const MqttStatus status = bridge.Status();
  EXPECT_EQ(status.state, "connected");
  EXPECT_EQ(status.broker, broker_.address());
  EXPECT_EQ(status.availability_topic, "domian/test/node/kitchen/availability");
  EXPECT_EQ(status.last_error, "");
  EXPECT_EQ(status.connects, 1u);
  EXPECT_TRUE(Eventually([&] { return bridge.Status().published >= 2; }, kDeadline))
      << "online and the probe";
  EXPECT_EQ(bridge.Status().dropped, 0u);
}

TEST_F(MqttBridgeTest, CleanStopPublishesOffline) {
  broker_.Start();
  MqttBridge bridge(BridgeOptions(broker_, "hall"), clock_);
  ASSERT_TRUE(bridge.Start().ok());
  ASSERT_TRUE(Eventually([&] { return Connected(bridge); }, kDeadline));
  ASSERT_EQ(broker_.Receive(AvailabilityTopic("test", "hall"), 10s), "online");
  bridge.Stop();
  EXPECT_EQ(bridge.Status().state, "off");
  // Retained, and published by the bridge itself before its DISCONNECT.
  EXPECT_EQ(broker_.Receive(AvailabilityTopic("test", "hall"), 10s), "offline");
  EXPECT_THAT(broker_.Log(), HasSubstr("disconnected"));
}

TEST_F(MqttBridgeTest, BrokerDownIsConnectionRefused) {
  // Nothing listens at the broker's port yet.
  MqttBridge bridge(BridgeOptions(broker_, "attic"), clock_);
  ASSERT_TRUE(bridge.Start().ok());
  ASSERT_TRUE(Eventually([&] { return bridge.Status().state == "retrying"; }, kDeadline));
  EXPECT_EQ(bridge.Status().last_error,
            "connection refused: no broker listening at " + broker_.address());
  EXPECT_FALSE(bridge.Status().connected);
  // It comes up: the next attempt (within the backoff) connects.
  broker_.Start();
  ASSERT_TRUE(Eventually([&] { return Connected(bridge); }, kDeadline));
  EXPECT_EQ(broker_.Receive(AvailabilityTopic("test", "attic"), 10s), "online");
  // The last problem stays visible, with how long ago it was.
  EXPECT_THAT(bridge.Status().last_error, HasSubstr("connection refused"));
}

TEST_F(MqttBridgeTest, WrongPasswordIsNotAuthorisedAndBacksOff) {
  broker_.Start();
  const std::filesystem::path wrong = dir_.path() / "wrong-password";
  {
    std::ofstream file(wrong);
    file << "not-the-password\n";
  }
  std::filesystem::permissions(wrong, std::filesystem::perms(0600));
  MqttBridge::Options options = BridgeOptions(broker_, "cellar");
  options.password_file = wrong;
  // The backoff is on the injected clock: each attempt waits for the test.
  FakeClock clock;
  MqttBridge bridge(options, clock);
  ASSERT_TRUE(bridge.Start().ok());
  auto attempt_failed = [&](uint64_t attempts) {
    return Eventually(
        [&] {
          const MqttStatus status = bridge.Status();
          return status.state == "retrying" && status.attempts == attempts;
        },
        kDeadline);
  };
  ASSERT_TRUE(attempt_failed(1)) << broker_.Log();
  MqttStatus status = bridge.Status();
  EXPECT_EQ(status.last_error,
            "not authorised: wrong username or password (mqtt.username, mqtt.password_file)");
  EXPECT_FALSE(status.connected);
  EXPECT_DOUBLE_EQ(status.retry_in_seconds, 1.0);
  // 1 s doubling, up to 30 s.
  const std::vector<double> next_delays = {2, 4, 8, 16, 30, 30};
  for (size_t i = 0; i < next_delays.size(); ++i) {
    clock.Advance(std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(bridge.Status().retry_in_seconds)));
    ASSERT_TRUE(attempt_failed(i + 2)) << "attempt " << i + 2;
    EXPECT_DOUBLE_EQ(bridge.Status().retry_in_seconds, next_delays[i]) << "after attempt " << i + 2;
  }
  EXPECT_EQ(bridge.Status().connects, 0u);
  // Never the broker's `online` from this node.
  EXPECT_EQ(broker_.Receive(AvailabilityTopic("test", "cellar"), 1s), std::nullopt);
}

TEST_F(MqttBridgeTest, UnreadablePasswordFileLeavesTheBridgeOff) {
  MqttBridge::Options options = BridgeOptions(broker_, "shed");
  options.password_file = dir_.path() / "missing";
  MqttBridge bridge(options, clock_);
  const absl::Status started = bridge.Start();
  EXPECT_FALSE(started.ok());
  const MqttStatus status = bridge.Status();
  EXPECT_EQ(status.state, "failed");
  EXPECT_EQ(status.last_error,
            "mqtt.password_file: " + (dir_.path() / "missing").string() + " does not exist");
  // Nothing piles up behind a bridge that is off.
  EXPECT_FALSE(bridge.Publish("domian/test/x", "y", false, 0));
  EXPECT_EQ(bridge.Status().dropped, 1u);
  EXPECT_EQ(bridge.Status().queued, 0u);
  bridge.Stop();  // nothing to stop; must not crash
}

TEST_F(MqttBridgeTest, ReconnectsAfterABrokerRestartAndPublishesOnlineAgain) {
  broker_.Start();
  MqttBridge bridge(BridgeOptions(broker_, "garage"), clock_);
  ASSERT_TRUE(bridge.Start().ok());
  ASSERT_TRUE(Eventually([&] { return Connected(bridge); }, kDeadline));
  ASSERT_EQ(broker_.Receive(AvailabilityTopic("test", "garage"), 10s), "online");

  broker_.Stop();
  ASSERT_TRUE(Eventually([&] { return !Connected(bridge); }, kDeadline));
  EXPECT_THAT(bridge.Status().last_error,
              AnyOf(HasSubstr("connection lost"), HasSubstr("connection refused")));
  broker_.Start();  // without persistence: it remembers no retained message
  ASSERT_TRUE(Eventually([&] { return Connected(bridge); }, kDeadline)) << broker_.Log();
  EXPECT_EQ(bridge.Status().connects, 2u);
  EXPECT_EQ(broker_.Receive(AvailabilityTopic("test", "garage"), 10s), "online");
}

TEST_F(MqttBridgeTest, LastWillSaysOfflineWhenTheProcessIsKilled) {
  broker_.Start();
  const std::string topic = AvailabilityTopic("test", "porch");
  namespace bp = boost::process;
  bp::child child(bp::exe("/proc/self/exe"),
                  bp::args({"--bridge-child", std::to_string(broker_.port()),
                            broker_.bridge_password_file().string(), topic}),
                  bp::std_out > bp::null, bp::std_err > (dir_.path() / "child.log").string(),
                  bp::std_in < bp::null, domian::testing::DieWithParent{});
  ASSERT_TRUE(Eventually([&] { return broker_.Receive(topic, 1s) == "online"; }, kDeadline))
      << broker_.Log();
  ::kill(child.id(), SIGKILL);  // no goodbye: the socket just closes
  child.wait();
  EXPECT_TRUE(Eventually([&] { return broker_.Receive(topic, 1s) == "offline"; }, kDeadline))
      << broker_.Log();
}

TEST_F(MqttBridgeTest, HomeAssistantOnlineCallsTheHook) {
  broker_.Start();
  std::atomic<int> announced{0};
  MqttBridge::Options options = BridgeOptions(broker_, "study");
  options.home_assistant_online = [&announced] { ++announced; };
  MqttBridge bridge(options, clock_);
  ASSERT_TRUE(bridge.Start().ok());
  ASSERT_TRUE(Eventually([&] { return Connected(bridge); }, kDeadline));
  // `offline` is not a reason to publish anything.
  ASSERT_TRUE(broker_.Publish("homeassistant/status", "offline"));
  // The subscription may still be on its way: announce until heard.
  EXPECT_TRUE(Eventually(
      [&] {
        broker_.Publish("homeassistant/status", "online");
        return Eventually([&] { return announced > 0; }, 2s);
      },
      kDeadline));
}

TEST_F(MqttBridgeTest, DiscoveryPrefixIsTheOneListenedTo) {
  broker_.Start();
  std::atomic<int> announced{0};
  MqttBridge::Options options = BridgeOptions(broker_, "loft");
  options.discovery_prefix = "ha-test";
  options.home_assistant_online = [&announced] { ++announced; };
  MqttBridge bridge(options, clock_);
  ASSERT_TRUE(bridge.Start().ok());
  ASSERT_TRUE(Eventually([&] { return Connected(bridge); }, kDeadline));
  EXPECT_TRUE(Eventually(
      [&] {
        broker_.Publish("homeassistant/status", "online");  // another prefix: ignored
        broker_.Publish("ha-test/status", "online");
        return Eventually([&] { return announced > 0; }, 2s);
      },
      kDeadline));
}

TEST_F(MqttBridgeTest, OversizedIncomingPayloadIsDroppedAndLogged) {
  broker_.Start();
  std::atomic<int> announced{0};
  MqttBridge::Options options = BridgeOptions(broker_, "pantry");
  options.home_assistant_online = [&announced] { ++announced; };
  MqttBridge bridge(options, clock_);
  LogCapture log;
  ASSERT_TRUE(bridge.Start().ok());
  ASSERT_TRUE(Eventually([&] { return Connected(bridge); }, kDeadline));
  const std::string huge = "online" + std::string(kMaxIncomingPayloadBytes, ' ');
  EXPECT_TRUE(Eventually(
      [&] {
        broker_.Publish("homeassistant/status", huge);
        return Eventually([&] { return bridge.Status().incoming_dropped > 0; }, 2s);
      },
      kDeadline));
  EXPECT_EQ(announced, 0);
  EXPECT_THAT(log.Text(), HasSubstr("bytes on 'homeassistant/status': more than 65536 bytes"));
  // Still listening.
  EXPECT_TRUE(Eventually(
      [&] {
        broker_.Publish("homeassistant/status", "online");
        return Eventually([&] { return announced > 0; }, 2s);
      },
      kDeadline));
  EXPECT_TRUE(Connected(bridge));
}

TEST_F(MqttBridgeTest, QueueIsBoundedWhileTheBrokerIsAwayAndSentOnConnection) {
  // No broker yet: everything waits in the queue.
  MqttBridge bridge(BridgeOptions(broker_, "office"), clock_);
  ASSERT_TRUE(bridge.Start().ok());
  for (size_t i = 0; i < kMaxQueuedMessages; ++i) {
    ASSERT_TRUE(bridge.Publish("domian/test/queued", std::to_string(i), true, 1)) << i;
  }
  EXPECT_FALSE(bridge.Publish("domian/test/queued", "one too many", true, 1));
  MqttStatus status = bridge.Status();
  EXPECT_EQ(status.queued, kMaxQueuedMessages);
  EXPECT_EQ(status.dropped, 1u);
  // Refused outright, counted too.
  EXPECT_FALSE(bridge.Publish("domian/+/wildcard", "x", false, 0));
  EXPECT_FALSE(bridge.Publish("", "x", false, 0));
  EXPECT_FALSE(bridge.Publish("domian/test/qos2", "x", false, 2));
  EXPECT_FALSE(bridge.Publish("domian/test/big", std::string(kMaxPublishBytes + 1, 'x'), false, 0));
  EXPECT_EQ(bridge.Status().dropped, 5u);

  broker_.Start();
  ASSERT_TRUE(Eventually([&] { return bridge.Status().queued == 0; }, kDeadline));
  // In order: the last one queued is the one retained.
  EXPECT_TRUE(Eventually(
      [&] {
        return broker_.Receive("domian/test/queued", 2s) ==
               std::to_string(kMaxQueuedMessages - 1);
      },
      kDeadline));
  EXPECT_TRUE(Eventually(
      [&] { return bridge.Status().published >= kMaxQueuedMessages + 1; }, kDeadline));
  EXPECT_EQ(bridge.Status().dropped, 5u);
}

class MqttBridgeTlsTest : public ::testing::Test {
 protected:
  MqttBridgeTlsTest() : dir_("mqtt-bridge-tls-test"), broker_(dir_.path() / "broker", true) {}

  MqttBridge::Options TlsOptions(const std::string& name) {
    MqttBridge::Options options = BridgeOptions(broker_, name);
    // The name the broker's certificate is for.
    options.host = "localhost";
    options.port = broker_.tls_port();
    options.tls = true;
    options.ca_file = broker_.ca_file();
    return options;
  }

  TempDir dir_;
  MosquittoBroker broker_;
  SteadyClock clock_;
};

TEST_F(MqttBridgeTlsTest, ConnectsToABrokerOfTheGivenCa) {
  broker_.Start();
  MqttBridge bridge(TlsOptions("vault"), clock_);
  ASSERT_TRUE(bridge.Start().ok());
  ASSERT_TRUE(Eventually([&] { return Connected(bridge); }, kDeadline)) << broker_.Log();
  EXPECT_TRUE(bridge.Status().tls);
  EXPECT_EQ(broker_.Receive(AvailabilityTopic("test", "vault"), 10s), "online");
}

TEST_F(MqttBridgeTlsTest, RefusesABrokerOfAnotherCa) {
  broker_.Start();
  MqttBridge::Options options = TlsOptions("moat");
  options.ca_file = MosquittoBroker::MakeCa(dir_.path() / "other", "other-ca");
  MqttBridge bridge(options, clock_);
  ASSERT_TRUE(bridge.Start().ok());
  ASSERT_TRUE(Eventually([&] { return bridge.Status().state == "retrying"; }, kDeadline));
  EXPECT_THAT(bridge.Status().last_error,
              HasSubstr("TLS failed with localhost:" + std::to_string(broker_.tls_port()) +
                        ": its certificate is not of the CA trusted"));
  EXPECT_EQ(bridge.Status().connects, 0u);
}

// --bridge-child PORT PASSWORD_FILE TOPIC: one bridge until SIGKILL.
int RunBridgeChild(char** argv) {
  MqttBridge::Options options;
  options.host = "127.0.0.1";
  options.port = static_cast<uint16_t>(std::stoi(argv[2]));
  options.username = MosquittoBroker::kBridgeUser;
  options.password_file = argv[3];
  options.availability_topic = argv[4];
  options.client_id = "domian-test-child-" + std::to_string(::getpid());
  SteadyClock clock;
  MqttBridge bridge(options, clock);
  if (!bridge.Start().ok()) return 1;
  while (true) ::pause();
}

}  // namespace
}  // namespace domian::mqtt

int main(int argc, char** argv) {
  if (argc == 5 && std::strcmp(argv[1], "--bridge-child") == 0) {
    return domian::mqtt::RunBridgeChild(argv);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
