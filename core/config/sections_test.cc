// Tests for each section's own checks, with the exact position and
// wording of every issue: node, discovery, plugins, services (and the
// plugin's settings as JSON), placement, log, and how the membership
// timings must relate.
#include "core/config/node_config.h"

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/config/internal/test_util.h"

namespace domian::config {
namespace {

using testing::ElementsAre;
using testing::HasSubstr;
using testing::IsEmpty;
using test_util::Issues;
using test_util::ParseValid;

// ---------------------------------------------------------------------------
// Bad values.

TEST(BadValueTest, NodeId) {
  EXPECT_THAT(Issues("node:\n  id: kitchen pi\n"),
              ElementsAre("node.yaml:2:3: node.id: invalid node id 'kitchen "
                          "pi': expected 1 to 64 letters, digits, '.', '_' or "
                          "'-'"));
  EXPECT_THAT(Issues("node:\n  id: ''\n"),
              ElementsAre(HasSubstr("node.id: invalid node id ''")));
  EXPECT_THAT(Issues("node:\n  id: " + std::string(65, 'a') + "\n"),
              ElementsAre(HasSubstr("node.id: invalid node id")));
}

TEST(BadValueTest, ClusterName) {
  EXPECT_THAT(Issues("node:\n  cluster: Home\n"),
              ElementsAre("node.yaml:2:3: node.cluster: invalid cluster name "
                          "'Home': expected 1 to 63 lowercase letters, digits "
                          "or '-', not starting with '-'"));
  EXPECT_THAT(Issues("node:\n  cluster: -home\n"),
              ElementsAre(HasSubstr("invalid cluster name '-home'")));
}

TEST(BadValueTest, Listen) {
  EXPECT_THAT(Issues("node:\n  listen: 0.0.0.0\n"),
              ElementsAre("node.yaml:2:3: node.listen: invalid address "
                          "'0.0.0.0': expected host:port with a port from 0 "
                          "to 65535, like 0.0.0.0:7420 or [::]:7420"));
  EXPECT_THAT(Issues("node:\n  listen: 0.0.0.0:65536\n"),
              ElementsAre(HasSubstr("invalid address '0.0.0.0:65536'")));
}

TEST(BadValueTest, AdvertiseRejectsPortZeroAndUnspecifiedHosts) {
  EXPECT_THAT(Issues("node:\n  advertise: 192.168.1.20:0\n"),
              ElementsAre("node.yaml:2:3: node.advertise: invalid address "
                          "'192.168.1.20:0': peers cannot connect to port 0 "
                          "(it is only allowed in node.listen)"));
  EXPECT_THAT(Issues("node:\n  advertise: 0.0.0.0:7420\n"),
              ElementsAre("node.yaml:2:3: node.advertise: invalid address "
                          "'0.0.0.0:7420': peers cannot connect to an "
                          "unspecified address; give one this node is "
                          "reachable at"));
  EXPECT_THAT(Issues("node:\n  advertise: '[::]:7420'\n"),
              ElementsAre(HasSubstr("unspecified address")));
  EXPECT_THAT(Issues("node:\n  advertise: '[0:0::0]:7420'\n"),
              ElementsAre(HasSubstr("unspecified address")));
  EXPECT_THAT(Issues("node:\n  advertise: kitchen\n"),
              ElementsAre("node.yaml:2:3: node.advertise: invalid address "
                          "'kitchen': expected host:port, like "
                          "192.168.1.20:7420"));
}

TEST(BadValueTest, Traits) {
  EXPECT_THAT(Issues("node:\n  traits: [speaker, 'not ok', speaker]\n"),
              ElementsAre("node.yaml:2:21: node.traits[1]: invalid trait "
                          "'not ok': expected 1 to 64 letters, digits, '.', "
                          "'_' or '-'",
                          "node.yaml:2:31: node.traits[2]: duplicate trait "
                          "'speaker' (also node.traits[0])"));
}

TEST(BadValueTest, Seeds) {
  EXPECT_THAT(Issues("discovery:\n  seeds:\n    - 10.0.0.1:7420\n"
                     "    - 10.0.0.2\n    - 10.0.0.3:0\n"),
              ElementsAre("node.yaml:4:7: discovery.seeds[1]: invalid seed "
                          "address '10.0.0.2': expected host:port, like "
                          "192.168.1.10:7420 or [fd00::10]:7420",
                          "node.yaml:5:7: discovery.seeds[2]: invalid seed "
                          "address '10.0.0.3:0': port 0 cannot be connected "
                          "to; give the port the seed listens on"));
}

TEST(BadValueTest, Mdns) {
  EXPECT_THAT(Issues("discovery:\n  mdns: yes\n"),
              ElementsAre("node.yaml:2:3: discovery.mdns: invalid value 'yes': "
                          "expected true or false"));
  EXPECT_THAT(Issues("discovery:\n  mdns: [true]\n"),
              ElementsAre("node.yaml:2:3: discovery.mdns: expected true or "
                          "false, found a list"));
  EXPECT_TRUE(ParseValid("discovery:\n  mdns: True\n").mdns);
}

TEST(BadValueTest, Advertise) {
  EXPECT_THAT(Issues("discovery:\n  mdns: false\n  advertise: sometimes\n"),
              ElementsAre("node.yaml:3:3: discovery.advertise: invalid value "
                          "'sometimes': expected lonely (advertise only while "
                          "no peer is alive) or always"));
  EXPECT_THAT(Issues("discovery:\n  advertize: lonely\n"),
              ElementsAre("node.yaml:2:3: discovery.advertize: unknown key "
                          "'advertize' (did you mean 'advertise'?)"));
}

TEST(NodeConfigTest, ServicesCarryTheirIsolationAndConfigAsJson) {
  const NodeConfig config = ParseValid(R"(plugins:
  dirs: [/opt/plugins]
services:
  lights:
    config:
      bridge: 192.168.1.2
      port: 80
      ratio: 0.5
      secure: false
      quoted: "80"
      none: ~
      list: [1, two, "3"]
      nested: {a: {b: 'c"d'}}
  speaker:
    isolation: inline
  camera:
)");
  EXPECT_EQ(config.plugin_dirs, std::vector<std::filesystem::path>{"/opt/plugins"});
  ASSERT_EQ(config.services.size(), 3u);
  EXPECT_EQ(config.services[0].name, "lights");
  EXPECT_EQ(config.services[0].isolation, Isolation::kProcess);
  EXPECT_EQ(config.services[0].line, 4);
  EXPECT_EQ(config.services[0].config_json,
            R"({"bridge":"192.168.1.2","port":80,"ratio":0.5,"secure":false,"quoted":"80",)"
            R"("none":null,"list":[1,"two","3"],"nested":{"a":{"b":"c\"d"}}})");
  EXPECT_EQ(config.services[1].name, "speaker");
  EXPECT_EQ(config.services[1].isolation, Isolation::kInline);
  EXPECT_EQ(config.services[1].config_json, "{}");
  EXPECT_EQ(config.services[2].name, "camera");
}

TEST(NodeConfigTest, PluginSettingsKeepTheValueOfEveryNumber) {
  // Numbers reach the plugin as a JSON parser reads the digits written:
  // integers stay exact (up to 2^64 - 1), a fraction or an exponent makes
  // a double. What is not a JSON number stays text.
  const NodeConfig config = ParseValid(R"(services:
  lights:
    config: {thousand: 1e3, neg: -0.25, max: 18446744073709551615, huge: 1e300,
             octal: 007, hex: 0x10, yes: yes, bell: "a\bb", tiny: 1e-400}
)");
  ASSERT_EQ(config.services.size(), 1u);
  EXPECT_EQ(config.services[0].config_json,
            R"({"thousand":1000.0,"neg":-0.25,"max":18446744073709551615,"huge":1e+300,)"
            R"("octal":"007","hex":"0x10","yes":"yes","bell":"a\bb","tiny":0.0})");
}

TEST(BadValueTest, PluginSettingsJsonCannotCarry) {
  EXPECT_THAT(Issues("services:\n  lights:\n    config:\n      level: 1e400\n"),
              ElementsAre("node.yaml:4:14: services.lights.config.level: invalid number "
                          "'1e400': out of the range a plugin can read (a 64-bit double); "
                          "quote it to pass it as text"));
  EXPECT_THAT(Issues("services:\n  lights:\n    config:\n      rooms: [hall, 'k\xffz']\n"),
              ElementsAre("node.yaml:4:21: services.lights.config.rooms[1]: invalid UTF-8 in "
                          "'k\xef\xbf\xbdz': plugins receive their settings as UTF-8 JSON; "
                          "save the file as UTF-8"));
  EXPECT_THAT(Issues("services:\n  lights:\n    config: {\xfe: 1}\n"),
              ElementsAre(HasSubstr("node.yaml:3:14: services.lights.config.\xfe: invalid UTF-8")));
}

TEST(BadValueTest, PluginsAndServices) {
  EXPECT_THAT(Issues("plugins:\n  dirs: [relative/path]\n"),
              ElementsAre("node.yaml:2:10: plugins.dirs[0]: invalid folder "
                          "'relative/path': expected an absolute path"));
  EXPECT_THAT(Issues("services:\n  Lights: {}\n"),
              ElementsAre("node.yaml:2:3: services.Lights: invalid service name "
                          "'Lights': expected 1 to 63 of a-z, 0-9, '_' or '-'"));
  EXPECT_THAT(Issues("services:\n  lights:\n    isolation: jail\n"),
              ElementsAre("node.yaml:3:5: services.lights.isolation: invalid "
                          "isolation 'jail': expected process (its own plugin host "
                          "process, the default) or inline (inside domiand)"));
  EXPECT_THAT(Issues("services:\n  lights:\n    config: [1]\n"),
              ElementsAre("node.yaml:3:5: services.lights.config: expected a map "
                          "of the plugin's settings, found a list"));
  EXPECT_THAT(Issues("services:\n  lights:\n    confg: {}\n"),
              ElementsAre("node.yaml:3:5: services.lights.confg: unknown key "
                          "'confg' (did you mean 'config'?)"));
}

TEST(NodeConfigTest, ServicesCarryTheirRunModeAndWeight) {
  const NodeConfig config = ParseValid(R"(services:
  lights: {run: always, weight: 10}
  speaker: {run: never}
  camera: {weight: -3}
placement:
  migrate_after: 30s
  settle: 0ms
  failed_hold: 5m
)");
  ASSERT_EQ(config.services.size(), 3u);
  EXPECT_EQ(config.services[0].run, RunMode::kAlways);
  EXPECT_EQ(config.services[0].weight, 10);
  EXPECT_EQ(config.services[1].run, RunMode::kNever);
  // Listing a service without a run mode says "here, please".
  EXPECT_EQ(config.services[2].run, RunMode::kPrefer);
  EXPECT_EQ(config.services[2].weight, -3);
  EXPECT_EQ(config.placement.migrate_after, std::chrono::seconds(30));
  EXPECT_EQ(config.placement.settle, Millis::zero());
  EXPECT_EQ(config.placement.failed_hold, std::chrono::minutes(5));
  // Defaults.
  const NodeConfig defaults = ParseValid("");
  EXPECT_EQ(defaults.placement.migrate_after, std::chrono::seconds(10));
  EXPECT_EQ(defaults.placement.settle, std::chrono::seconds(2));
  EXPECT_EQ(defaults.placement.failed_hold, std::chrono::minutes(10));
}

TEST(BadValueTest, RunModeWeightAndPlacementTimings) {
  EXPECT_THAT(Issues("services:\n  lights:\n    run: sometimes\n"),
              ElementsAre("node.yaml:3:5: services.lights.run: invalid run mode "
                          "'sometimes': expected always, prefer, allow or never"));
  EXPECT_THAT(Issues("services:\n  lights:\n    weight: 1.5\n"),
              ElementsAre("node.yaml:3:5: services.lights.weight: invalid weight '1.5': "
                          "expected a whole number from -1000000 to 1000000"));
  EXPECT_THAT(Issues("services:\n  lights:\n    weight: 99999999\n"),
              ElementsAre("node.yaml:3:5: services.lights.weight: invalid weight "
                          "'99999999': expected a whole number from -1000000 to 1000000"));
  EXPECT_THAT(Issues("placement:\n  migrate_after: soon\n"),
              ElementsAre("node.yaml:2:3: placement.migrate_after: invalid duration 'soon': "
                          "expected a number with a unit ms, s, m or h, like 1500ms or 1.5s"));
  EXPECT_THAT(Issues("placement:\n  failed_hold: 0s\n"),
              ElementsAre("node.yaml:2:3: placement.failed_hold: failed_hold must be longer "
                          "than 0ms"));
  EXPECT_THAT(Issues("placement:\n  migrate_afer: 1s\n"),
              ElementsAre("node.yaml:2:3: placement.migrate_afer: unknown key "
                          "'migrate_afer' (did you mean 'migrate_after'?)"));
}

TEST(BadValueTest, StateDir) {
  EXPECT_THAT(Issues("node:\n  state_dir: ''\n"),
              ElementsAre("node.yaml:2:3: node.state_dir: expected a "
                          "directory path, found an empty string"));
}

TEST(BadValueTest, Durations) {
  EXPECT_THAT(
      Issues("membership:\n  heartbeat_interval: 200\n  rpc_timeout: -1s\n"
             "  seed_retry: 1 s\n"),
      ElementsAre("node.yaml:2:3: membership.heartbeat_interval: invalid "
                  "duration '200': expected a number with a unit ms, s, m "
                  "or h, like 1500ms or 1.5s",
                  HasSubstr("membership.rpc_timeout: invalid duration '-1s'"),
                  HasSubstr("membership.seed_retry: invalid duration '1 s'")));
}

TEST(BadValueTest, Fanout) {
  for (const char* bad : {"0", "65", "-1", "3.5", "three", "0x3", "3 "}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(
        Issues(std::string("membership:\n  fanout: '") + bad + "'\n"),
        ElementsAre("node.yaml:2:3: membership.fanout: invalid fanout '" +
                    std::string(bad) +
                    "': expected a whole number from 1 to 64"));
  }
}

TEST(BadValueTest, LogLevel) {
  EXPECT_THAT(Issues("log:\n  level: verbose\n"),
              ElementsAre("node.yaml:2:3: log.level: invalid log level "
                          "'verbose': expected one of trace, debug, info, "
                          "warn, error, critical, off"));
  EXPECT_THAT(Issues("log:\n  level: INFO\n"),
              ElementsAre(HasSubstr("invalid log level 'INFO'")));
}


// ---------------------------------------------------------------------------
// Cross-field checks.

TEST(CrossFieldTest, HeartbeatAtLeastTenMilliseconds) {
  EXPECT_THAT(Issues("membership:\n  heartbeat_interval: 5ms\n"
                     "  suspect_after: 20ms\n  dead_after: 40ms\n"
                     "  rpc_timeout: 10ms\n"),
              ElementsAre("node.yaml:2:3: membership.heartbeat_interval: "
                          "heartbeat_interval (5ms) must be at least 10ms"));
  EXPECT_THAT(Issues("membership:\n  heartbeat_interval: 10ms\n"
                     "  suspect_after: 20ms\n  dead_after: 40ms\n"
                     "  rpc_timeout: 10ms\n"),
              IsEmpty());
}

TEST(CrossFieldTest, SuspectAfterLongerThanHeartbeat) {
  EXPECT_THAT(Issues("membership:\n  heartbeat_interval: 500ms\n"
                     "  suspect_after: 500ms\n"),
              ElementsAre("node.yaml:3:3: membership.suspect_after: "
                          "suspect_after (500ms) must be longer than "
                          "heartbeat_interval (500ms)"));
}

TEST(CrossFieldTest, DeadAfterLongerThanSuspectAfter) {
  EXPECT_THAT(Issues("membership:\n  suspect_after: 1s\n  dead_after: 1s\n"
                     "  rpc_timeout: 200ms\n"),
              ElementsAre("node.yaml:3:3: membership.dead_after: dead_after "
                          "(1s) must be longer than suspect_after (1s)"));
}

TEST(CrossFieldTest, RpcTimeoutPositiveAndWithinDeadAfter) {
  EXPECT_THAT(Issues("membership:\n  rpc_timeout: 0ms\n"),
              ElementsAre("node.yaml:2:3: membership.rpc_timeout: "
                          "rpc_timeout (0ms) must be longer than 0ms"));
  EXPECT_THAT(Issues("membership:\n  dead_after: 2s\n  rpc_timeout: 2.5s\n"),
              ElementsAre("node.yaml:3:3: membership.rpc_timeout: "
                          "rpc_timeout (2.5s) must be no longer than "
                          "dead_after (2s)"));
  // Equal is fine.
  EXPECT_THAT(Issues("membership:\n  dead_after: 2s\n  rpc_timeout: 2s\n"),
              IsEmpty());
}

TEST(CrossFieldTest, ForgetAfterAtLeastDeadAfter) {
  EXPECT_THAT(Issues("membership:\n  dead_after: 2s\n  forget_after: 1s\n"),
              ElementsAre("node.yaml:3:3: membership.forget_after: "
                          "forget_after (1s) must be at least as long as "
                          "dead_after (2s)"));
  EXPECT_THAT(Issues("membership:\n  dead_after: 2s\n  forget_after: 2s\n"),
              IsEmpty());
}

TEST(CrossFieldTest, RetryPeriodsMustBePositive) {
  EXPECT_THAT(Issues("membership:\n  seed_retry: 0s\n"
                     "  reconnect_interval: 0ms\n  leave_timeout: 0ms\n"),
              ElementsAre("node.yaml:2:3: membership.seed_retry: seed_retry "
                          "(0ms) must be longer than 0ms",
                          "node.yaml:3:3: membership.reconnect_interval: "
                          "reconnect_interval (0ms) must be longer than 0ms"));
}

TEST(CrossFieldTest, ReportedOnTheKeyThatComesLaterInTheFile) {
  // Written in the reverse order: heartbeat_interval is the later key.
  EXPECT_THAT(Issues("membership:\n  suspect_after: 300ms\n"
                     "  heartbeat_interval: 400ms\n"),
              ElementsAre("node.yaml:3:3: membership.heartbeat_interval: "
                          "suspect_after (300ms) must be longer than "
                          "heartbeat_interval (400ms)"));
}

TEST(CrossFieldTest, DefaultOnOneSideIsNamedAndTheWrittenKeyIsBlamed) {
  // suspect_after is not written: its default conflicts with the
  // heartbeat the person set, so the heartbeat's line is reported.
  EXPECT_THAT(Issues("membership:\n  heartbeat_interval: 1s\n"),
              ElementsAre("node.yaml:2:3: membership.heartbeat_interval: "
                          "suspect_after (600ms, the default) must be longer "
                          "than heartbeat_interval (1s)"));
  EXPECT_THAT(Issues("membership:\n  rpc_timeout: 5s\n"),
              ElementsAre("node.yaml:2:3: membership.rpc_timeout: rpc_timeout "
                          "(5s) must be no longer than dead_after (1.2s, the "
                          "default)"));
}

TEST(CrossFieldTest, InvalidValuesAreNotComparedAgain) {
  // The bad suspect_after is reported once, not also as out of order.
  EXPECT_THAT(Issues("membership:\n  heartbeat_interval: 1s\n"
                     "  suspect_after: soon\n  dead_after: 3s\n"),
              ElementsAre(HasSubstr("membership.suspect_after: invalid "
                                    "duration 'soon'")));
}

TEST(CrossFieldTest, SeveralViolationsAreAllReported) {
  EXPECT_THAT(Issues("membership:\n  heartbeat_interval: 1s\n"
                     "  suspect_after: 900ms\n  dead_after: 800ms\n"
                     "  forget_after: 700ms\n"),
              ElementsAre(HasSubstr(":3:3: membership.suspect_after:"),
                          HasSubstr(":4:3: membership.dead_after:"),
                          HasSubstr(":5:3: membership.forget_after:")));
}

// ---------------------------------------------------------------------------
// mqtt: the bridge to a broker (and Home Assistant).

TEST(MqttSectionTest, AbsentOrEmptyMeansNoBridge) {
  EXPECT_FALSE(ParseValid("log:\n  level: info\n").mqtt.has_value());
  EXPECT_FALSE(ParseValid("mqtt:\n").mqtt.has_value());
}

TEST(MqttSectionTest, EveryKey) {
  const NodeConfig config = ParseValid(
      "mqtt:\n"
      "  broker: ha.local:8883\n"
      "  username: domian\n"
      "  password_file: /etc/domian/mqtt-password\n"
      "  tls: true\n"
      "  ca_file: /etc/domian/mqtt-ca.pem\n"
      "  discovery_prefix: ha-test\n");
  ASSERT_TRUE(config.mqtt.has_value());
  EXPECT_EQ(config.mqtt->broker, "ha.local:8883");
  EXPECT_EQ(config.mqtt->username, "domian");
  EXPECT_EQ(config.mqtt->password_file, "/etc/domian/mqtt-password");
  EXPECT_EQ(config.mqtt->password_file_position.line, 4);
  EXPECT_EQ(config.mqtt->password_file_position.column, 3);
  EXPECT_TRUE(config.mqtt->tls);
  EXPECT_EQ(config.mqtt->ca_file, "/etc/domian/mqtt-ca.pem");
  EXPECT_EQ(config.mqtt->discovery_prefix, "ha-test");
}

TEST(MqttSectionTest, Defaults) {
  const NodeConfig config = ParseValid("mqtt:\n  broker: 192.168.1.5:1883\n");
  ASSERT_TRUE(config.mqtt.has_value());
  EXPECT_EQ(config.mqtt->username, "");
  EXPECT_TRUE(config.mqtt->password_file.empty());
  EXPECT_FALSE(config.mqtt->tls);
  EXPECT_TRUE(config.mqtt->ca_file.empty());
  EXPECT_EQ(config.mqtt->discovery_prefix, "homeassistant");
}

TEST(MqttSectionTest, BrokerIsRequired) {
  EXPECT_THAT(Issues("mqtt:\n  username: domian\n"),
              ElementsAre("node.yaml:1:1: mqtt.broker: required: the broker's host:port, like "
                          "192.168.1.5:1883 (leave the mqtt section out to turn the bridge "
                          "off)"));
}

TEST(MqttSectionTest, BadBroker) {
  EXPECT_THAT(Issues("mqtt:\n  broker: ha.local\n"),
              ElementsAre("node.yaml:2:3: mqtt.broker: invalid address 'ha.local': expected "
                          "host:port, like 192.168.1.5:1883 (8883 for TLS)"));
  EXPECT_THAT(Issues("mqtt:\n  broker: ha.local:0\n"),
              ElementsAre(HasSubstr("mqtt.broker: invalid address 'ha.local:0': port 0")));
  EXPECT_THAT(Issues("mqtt:\n  broker: 0.0.0.0:1883\n"),
              ElementsAre(HasSubstr("mqtt.broker: invalid address '0.0.0.0:1883': an "
                                    "unspecified address")));
  // Reported once, not also as missing.
  EXPECT_THAT(Issues("mqtt:\n  broker: [a, b]\n"),
              ElementsAre(HasSubstr("node.yaml:2:3: mqtt.broker: expected host:port")));
}

TEST(MqttSectionTest, BadUsername) {
  EXPECT_THAT(Issues("mqtt:\n  broker: h:1883\n  username: \"a\\tb\"\n"),
              ElementsAre("node.yaml:3:3: mqtt.username: invalid user name 'a\\tb': expected "
                          "1 to 256 bytes of printable UTF-8 text"));
  EXPECT_THAT(Issues("mqtt:\n  broker: h:1883\n  username: ''\n"),
              ElementsAre(HasSubstr("mqtt.username: invalid user name ''")));
}

TEST(MqttSectionTest, PathsMustBeAbsolute) {
  EXPECT_THAT(Issues("mqtt:\n  broker: h:1883\n  username: u\n  password_file: secret\n"),
              ElementsAre("node.yaml:4:3: mqtt.password_file: invalid file 'secret': "
                          "expected an absolute path"));
  EXPECT_THAT(Issues("mqtt:\n  broker: h:8883\n  tls: true\n  ca_file: ca.pem\n"),
              ElementsAre("node.yaml:4:3: mqtt.ca_file: invalid file 'ca.pem': expected an "
                          "absolute path"));
}

TEST(MqttSectionTest, Tls) {
  EXPECT_THAT(Issues("mqtt:\n  broker: h:8883\n  tls: yes\n"),
              ElementsAre("node.yaml:3:3: mqtt.tls: invalid value 'yes': expected true or "
                          "false"));
  EXPECT_THAT(Issues("mqtt:\n  broker: h:8883\n  ca_file: /ca.pem\n"),
              ElementsAre("node.yaml:3:3: mqtt.ca_file: ca_file is used only with tls: true "
                          "(tls is false by default)"));
  EXPECT_THAT(Issues("mqtt:\n  broker: h:8883\n  tls: false\n  ca_file: /ca.pem\n"),
              ElementsAre("node.yaml:4:3: mqtt.ca_file: ca_file is used only with tls: true"));
}

TEST(MqttSectionTest, PasswordNeedsUsername) {
  EXPECT_THAT(Issues("mqtt:\n  broker: h:1883\n  password_file: /etc/p\n"),
              ElementsAre("node.yaml:3:3: mqtt.password_file: password_file needs a username "
                          "(MQTT sends a password only with one)"));
}

TEST(MqttSectionTest, DiscoveryPrefixIsOneTopicLevel) {
  for (const char* bad : {"home/assistant", "ha+", "'#'", "$SYS", "\"ha\\tx\"", "''"}) {
    EXPECT_THAT(Issues(std::string("mqtt:\n  broker: h:1883\n  discovery_prefix: ") + bad + "\n"),
                ElementsAre(HasSubstr("node.yaml:3:3: mqtt.discovery_prefix: invalid discovery "
                                      "prefix")))
        << bad;
  }
  EXPECT_THAT(Issues("mqtt:\n  broker: h:1883\n  discovery_prefix: " + std::string(65, 'a') +
                     "\n"),
              ElementsAre(HasSubstr("expected one MQTT topic level of 1 to 64 bytes, without "
                                    "'/', '+' or '#', not starting with '$' (Home Assistant's "
                                    "default is homeassistant)")));
  // Unquoted, # starts a comment.
  EXPECT_THAT(Issues("mqtt:\n  broker: h:1883\n  discovery_prefix: #\n"),
              ElementsAre("node.yaml:3:3: mqtt.discovery_prefix: expected a topic level, found "
                          "an empty value"));
}

TEST(MqttSectionTest, UnknownKeyIsSuggested) {
  EXPECT_THAT(Issues("mqtt:\n  broker: h:1883\n  usrname: u\n"),
              ElementsAre(HasSubstr("node.yaml:3:3: mqtt.usrname: unknown key 'usrname'")));
}

// http: the dashboard's and /metrics' server.

TEST(HttpSectionTest, DefaultsAreThisMachineOnlyAndThePackagedPages) {
  const NodeConfig config = ParseValid("http:\n");
  EXPECT_TRUE(config.http.enabled);
  EXPECT_EQ(config.http.listen, "127.0.0.1:8380");
  EXPECT_EQ(config.http.static_dir, "/usr/share/domian/dashboard");
  EXPECT_THAT(config.http.allowed_hosts, testing::IsEmpty());
}

TEST(HttpSectionTest, EveryKey) {
  const NodeConfig config = ParseValid(
      "http:\n"
      "  enabled: false\n"
      "  listen: 0.0.0.0:0\n"
      "  static_dir: /opt/dashboard\n"
      "  allowed_hosts: [Pi1.local, dashboard.home.arpa]\n");
  EXPECT_FALSE(config.http.enabled);
  EXPECT_EQ(config.http.listen, "0.0.0.0:0");
  EXPECT_EQ(config.http.static_dir, "/opt/dashboard");
  EXPECT_EQ(config.http.static_dir_position.line, 4);
  EXPECT_THAT(config.http.allowed_hosts, ElementsAre("pi1.local", "dashboard.home.arpa"));
}

TEST(HttpSectionTest, ListenIsAnIpv4AddressAndPort) {
  EXPECT_THAT(Issues("http:\n  listen: \"[::]:8380\"\n"),
              ElementsAre("node.yaml:2:3: http.listen: invalid address '[::]:8380': expected an "
                          "IPv4 address and port, like 127.0.0.1:8380 (this machine only) or "
                          "0.0.0.0:8380 (every interface); port 0 picks any free port. Debian "
                          "12's CivetWeb has no IPv6"));
  for (const char* bad : {"localhost:8380", "127.0.0.1", "127.0.0.1:65536", "pi1.local:80"}) {
    EXPECT_THAT(Issues(std::string("http:\n  listen: ") + bad + "\n"),
                ElementsAre(HasSubstr("node.yaml:2:3: http.listen: invalid address")))
        << bad;
  }
}

TEST(HttpSectionTest, BadValues) {
  EXPECT_THAT(Issues("http:\n  enabled: on\n"),
              ElementsAre("node.yaml:2:3: http.enabled: invalid value 'on': expected true or "
                          "false"));
  EXPECT_THAT(Issues("http:\n  static_dir: dashboard\n"),
              ElementsAre("node.yaml:2:3: http.static_dir: invalid folder 'dashboard': expected "
                          "an absolute path"));
  EXPECT_THAT(Issues("http:\n  allowed_hosts: ['*.local', 'pi1.local:8380', pi1.local, "
                     "PI1.local, -x.local]\n"),
              ElementsAre(HasSubstr("node.yaml:2:19: http.allowed_hosts[0]: invalid host name "
                                    "'*.local'"),
                          HasSubstr("http.allowed_hosts[1]: invalid host name 'pi1.local:8380'"),
                          "node.yaml:2:59: http.allowed_hosts[3]: duplicate host name "
                          "'PI1.local' (also http.allowed_hosts[2])",
                          HasSubstr("http.allowed_hosts[4]: invalid host name '-x.local'")));
}

}  // namespace
}  // namespace domian::config
