// domiand's MQTT bridge end to end: a real daemon configured with an mqtt:
// section against a real mosquitto on 127.0.0.1, observed through
// `domianctl status` (--json and text) and the broker's retained
// availability; a wrong password is reported while the daemon goes on
// serving; --check-config reads the password file the daemon will.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/support/cluster.h"
#include "tests/support/mosquitto_broker.h"

namespace domian::testing {
namespace {

using ::testing::HasSubstr;

// Generous: a loaded two-core machine starting sanitizer builds.
constexpr auto kDeadline = 60s;

std::string MqttYaml(const MosquittoBroker& broker, const std::filesystem::path& password_file) {
  return "mqtt:\n"
         "  broker: " + broker.address() + "\n"
         "  username: " + MosquittoBroker::kBridgeUser + "\n"
         "  password_file: " + password_file.string() + "\n";
}

std::optional<nlohmann::json> MqttStatus(const Daemon& daemon) {
  std::optional<nlohmann::json> status = Ctl(daemon.address(), "status");
  if (!status || !status->contains("mqtt")) return std::nullopt;
  return (*status)["mqtt"];
}

std::vector<std::string> CtlArgs(const Daemon& daemon, std::vector<std::string> command) {
  std::vector<std::string> args = CtlAccess(daemon.address());
  args.insert(args.end(), command.begin(), command.end());
  return args;
}

TEST(MqttTest, StatusShowsTheBridgeConnectedAndStopSaysOffline) {
  TempDir dir("mqtt-test");
  MosquittoBroker broker(dir.path() / "broker");
  broker.Start();
  Daemon daemon(dir.path(), {.id = "kitchen",
                             .extra_yaml = MqttYaml(broker, broker.bridge_password_file())});
  daemon.Start();
  ASSERT_TRUE(Eventually(
      [&] {
        const auto mqtt = MqttStatus(daemon);
        return mqtt && (*mqtt)["connected"].get<bool>();
      },
      kDeadline))
      << daemon.Log();
  const nlohmann::json mqtt = *MqttStatus(daemon);
  EXPECT_TRUE(mqtt["configured"].get<bool>());
  EXPECT_EQ(mqtt["state"], "connected");
  EXPECT_EQ(mqtt["broker"], broker.address());
  EXPECT_EQ(mqtt["availability_topic"], "domian/test/node/kitchen/availability");
  EXPECT_EQ(mqtt["last_error"], "");
  EXPECT_EQ(mqtt["dropped"], 0);
  EXPECT_EQ(broker.Receive("domian/test/node/kitchen/availability", 10s), "online");

  const CommandResult text = RunCommand(DomianctlPath(), CtlArgs(daemon, {"status"}), 30s);
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("mqtt:      connected " + broker.address() + " for "));
  EXPECT_THAT(text.out, HasSubstr("availability on domian/test/node/kitchen/availability"));

  daemon.Signal(SIGTERM);
  ASSERT_EQ(daemon.WaitExit(kDeadline), 0) << daemon.Log();
  EXPECT_EQ(broker.Receive("domian/test/node/kitchen/availability", 10s), "offline");
}

TEST(MqttTest, WrongPasswordIsShownAndTheDaemonKeepsServing) {
  TempDir dir("mqtt-test");
  MosquittoBroker broker(dir.path() / "broker");
  broker.Start();
  const std::filesystem::path wrong = dir.path() / "wrong-password";
  {
    std::ofstream file(wrong);
    file << "not-the-password\n";
  }
  std::filesystem::permissions(wrong, std::filesystem::perms(0600));
  Daemon daemon(dir.path(), {.id = "cellar", .extra_yaml = MqttYaml(broker, wrong)});
  daemon.Start();
  ASSERT_TRUE(Eventually(
      [&] {
        const auto mqtt = MqttStatus(daemon);
        return mqtt && (*mqtt)["state"] == "retrying";
      },
      kDeadline))
      << daemon.Log();
  const nlohmann::json mqtt = *MqttStatus(daemon);
  EXPECT_FALSE(mqtt["connected"].get<bool>());
  EXPECT_THAT(mqtt["last_error"].get<std::string>(),
              HasSubstr("not authorised: wrong username or password"));
  EXPECT_GT(mqtt["retry_in_s"].get<double>(), 0);

  // Everything else answers as usual.
  EXPECT_TRUE(Ctl(daemon.address(), "peers").has_value());
  EXPECT_TRUE(Ctl(daemon.address(), "services").has_value());
  const CommandResult text = RunCommand(DomianctlPath(), CtlArgs(daemon, {"status"}), 30s);
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("mqtt:      retrying " + broker.address()));
  EXPECT_THAT(text.out, HasSubstr("not authorised: wrong username or password"));
  EXPECT_TRUE(daemon.Running());
}

TEST(MqttTest, WithoutAnMqttSectionThereIsNoBridge) {
  TempDir dir("mqtt-test");
  Daemon daemon(dir.path(), {.id = "attic"});
  daemon.Start();
  std::optional<nlohmann::json> mqtt;
  ASSERT_TRUE(Eventually([&] { return (mqtt = MqttStatus(daemon)).has_value(); }, kDeadline));
  EXPECT_FALSE((*mqtt)["configured"].get<bool>());
  EXPECT_EQ((*mqtt)["state"], "off");
  const CommandResult text = RunCommand(DomianctlPath(), CtlArgs(daemon, {"status"}), 30s);
  EXPECT_THAT(text.out, HasSubstr("mqtt:      off (no mqtt section in node.yaml)"));
}

TEST(MqttTest, CheckConfigReadsThePasswordFile) {
  TempDir dir("mqtt-test");
  const std::filesystem::path password = dir.path() / "password";
  {
    std::ofstream file(password);
    file << "secret\n";
  }
  ::chmod(password.c_str(), 0644);
  const std::filesystem::path yaml = dir.path() / "node.yaml";
  {
    std::ofstream file(yaml);
    file << "node:\n  id: hall\nmqtt:\n  broker: 127.0.0.1:1883\n  username: domian\n"
         << "  password_file: " << password.string() << "\n";
  }
  CommandResult check = RunCommand(DomiandPath(), {"--check-config", yaml.string()}, 30s);
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_THAT(check.err, HasSubstr(yaml.string() + ":6:3: mqtt.password_file: " +
                                   password.string() +
                                   ": others may read or change this password (mode 0644)"));
  ::chmod(password.c_str(), 0640);
  check = RunCommand(DomiandPath(), {"--check-config", yaml.string()}, 30s);
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_THAT(check.out, HasSubstr("configuration is valid"));
}

}  // namespace
}  // namespace domian::testing
