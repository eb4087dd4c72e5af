// Discovery over mDNS with real daemons: domiand processes with no seeds,
// a real avahi-daemon and D-Bus bus of the test's own, in a network
// namespace with only a loopback interface (tests/support/private_mdns.h,
// tests/mdns/README.md). Each test runs in a process of its own (CTest),
// so each gets a fresh namespace and fresh daemons.
//
// Waits are generous (a lonely node is found in ~1-1.5 s here: mDNS
// probing takes ~1 s); bench/ measures the real numbers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <signal.h>

#include <algorithm>
#include <thread>

#include "core/discovery/peer_address.h"
#include "tests/support/cluster.h"
#include "tests/support/private_mdns.h"

namespace domian::testing {
namespace {

using ::testing::HasSubstr;

constexpr auto kConverge = 30s;  // generous: discovery takes ~1.5 s here
// How long to watch for something that must not happen (a peer of
// another cluster, a hostile record's id): several discovery rounds.
constexpr auto kQuietPeriod = 5s;
// Well under the 120 s TTL of a record that was not withdrawn.
constexpr auto kGoodbye = 20s;

class Discovery : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!PrivateNetworkProblem().empty()) {
      GTEST_SKIP() << "no private network for mDNS: " << PrivateNetworkProblem();
    }
  }

  void TearDown() override {
    if (!HasFailure()) return;
    for (const auto& daemon : daemons_) {
      std::cerr << "---- " << daemon->id() << " ----\n" << daemon->Log();
    }
    std::cerr << "---- avahi-daemon ----\n" << mdns_.AvahiLog();
  }

  Daemon& Node(const std::string& id, Daemon::Options options = {}) {
    options.id = id;
    options.mdns = true;
    daemons_.push_back(std::make_unique<Daemon>(dir_.path(), options));
    return *daemons_.back();
  }

  Daemon& StartNode(const std::string& id, Daemon::Options options = {}) {
    Daemon& daemon = Node(id, std::move(options));
    daemon.Start();
    return daemon;
  }

  std::vector<Daemon*> Nodes(std::initializer_list<Daemon*> nodes) { return nodes; }

  static std::string DiscoveryField(const Daemon& daemon, const std::string& field) {
    const auto status = Ctl(daemon.address(), "status");
    if (!status || !status->contains("discovery")) return "";
    const auto& value = (*status)["discovery"][field];
    return value.is_string() ? value.get<std::string>() : value.dump();
  }

  // The browse lines of `id`'s record, as avahi-browse shows them.
  std::vector<std::vector<std::string>> RecordsOf(const std::string& id) {
    std::vector<std::vector<std::string>> records;
    for (auto& fields : mdns_.Browse()) {
      if (fields.size() == 10 && fields[9].find("\"id=" + id + "\"") != std::string::npos) {
        records.push_back(fields);
      }
    }
    return records;
  }

  TempDir dir_{"domian-discovery-test"};
  PrivateMdns mdns_{dir_.path()};
  std::vector<std::unique_ptr<Daemon>> daemons_;
};

TEST_F(Discovery, ThreeNodesWithoutSeedsFindEachOther) {
  mdns_.Start();
  Daemon& a = StartNode("node-a");
  Daemon& b = StartNode("node-b");
  Daemon& c = StartNode("node-c");
  EXPECT_TRUE(AllSeeEachOtherAlive({&a, &b, &c}, kConverge));
  for (Daemon* node : {&a, &b, &c}) {
    EXPECT_EQ(DiscoveryField(*node, "state"), "running");
    EXPECT_EQ(DiscoveryField(*node, "advertise"), "always");
    EXPECT_EQ(DiscoveryField(*node, "advertising"), "true");
    EXPECT_EQ(DiscoveryField(*node, "instance_name"), node->id());
  }
}

TEST_F(Discovery, AvahiBrowseSeesALonelyNodeWithItsTxtRecord) {
  mdns_.Start();
  MdnsCapture capture;  // what any other device would hear
  Daemon& a = StartNode("lonely-one");
  ASSERT_TRUE(Eventually([&] { return DiscoveryField(a, "advertising") == "true"; }, kConverge));
  const auto status = Ctl(a.address(), "status");
  ASSERT_TRUE(status);
  EXPECT_TRUE((*status)["lonely"].get<bool>());
  const std::string version = (*status)["version"].get<std::string>();
  const std::string port = a.address().substr(a.address().rfind(':') + 1);

  std::vector<std::vector<std::string>> records;
  ASSERT_TRUE(
      Eventually([&] { return !(records = RecordsOf("lonely-one")).empty(); }, kConverge));
  for (const auto& fields : records) {
    // =;lo;IPv4;lonely-one;_domian._tcp;local;HOST;ADDRESS;PORT;TXT
    EXPECT_EQ(fields[1], "lo");
    EXPECT_EQ(fields[3], "lonely-one");
    EXPECT_EQ(fields[4], "_domian._tcp");
    EXPECT_EQ(fields[8], port);
    // avahi-browse prints the TXT strings last to first.
    EXPECT_EQ(fields[9], "\"proto=1\" \"version=" + version +
                             "\" \"cluster=test\" \"id=lonely-one\" \"txtvers=1\"");
  }
  EXPECT_TRUE(std::any_of(records.begin(), records.end(),
                          [](const auto& fields) { return fields[7] == "127.0.0.1"; }));
  // On the wire, as every DNS-SD client reads it, txtvers comes first
  // (RFC 6763 6.7): each string is a length byte and the text.
  const auto packet = capture.PacketContaining("\x0d" "id=lonely-one", kConverge);
  ASSERT_TRUE(packet);
  const std::string txt = std::string("\x09txtvers=1") + "\x0d" "id=lonely-one" +
                          "\x0c" "cluster=test" + static_cast<char>(8 + version.size()) +
                          "version=" + version + "\x07proto=1";
  EXPECT_NE(packet->find(txt), std::string::npos);
}

TEST_F(Discovery, ANodeOfAnotherClusterIsIgnored) {
  mdns_.Start();
  Daemon& a = StartNode("node-a");
  Daemon& b = StartNode("node-b");
  Daemon& x = StartNode("node-x", {.cluster = "other"});
  EXPECT_TRUE(AllSeeEachOtherAlive({&a, &b}, kConverge));
  // x must have seen their records (and they its) by the time they met.
  EXPECT_TRUE(Eventually([&] { return a.Log().find("ignoring domain node-x") != std::string::npos; },
                         kConverge));
  std::this_thread::sleep_for(kQuietPeriod);
  EXPECT_THAT(a.Log(), HasSubstr("ignoring domain node-x of cluster 'other' seen over mDNS"));
  EXPECT_THAT(x.Log(), HasSubstr("ignoring domain node-a of cluster 'test' seen over mDNS"));
  EXPECT_EQ(PeerState(a, "node-x"), "");
  EXPECT_EQ(PeerState(b, "node-x"), "");
  const auto x_peers = Ctl(x.address(), "peers");
  ASSERT_TRUE(x_peers);
  EXPECT_TRUE(x_peers->empty()) << x_peers->dump();
  // Nobody even tried: a call across clusters is refused, and both sides
  // log a refusal ("refused identity list", "refused our identity list").
  for (Daemon* node : {&a, &b, &x}) {
    EXPECT_EQ(node->Log().find("refused identity list from"), std::string::npos) << node->id();
    EXPECT_EQ(node->Log().find("refused our identity list"), std::string::npos) << node->id();
  }
}

TEST_F(Discovery, AfterAvahiDaemonRestartsANewLonelyNodeIsStillFound) {
  mdns_.Start();
  Daemon& a = StartNode("node-a");
  Daemon& b = StartNode("node-b");
  ASSERT_TRUE(AllSeeEachOtherAlive({&a, &b}, kConverge));

  mdns_.KillAvahi();  // a crash: no goodbyes, registrations gone
  ASSERT_TRUE(Eventually([&] { return DiscoveryField(a, "state") == "connecting"; }, kConverge));
  mdns_.StartAvahi();
  // Both re-register on their own once the daemon is back.
  EXPECT_TRUE(Eventually([&] { return !RecordsOf("node-a").empty(); }, kConverge));
  EXPECT_TRUE(Eventually([&] { return !RecordsOf("node-b").empty(); }, kConverge));

  Daemon& c = StartNode("node-c");
  EXPECT_TRUE(AllSeeEachOtherAlive({&a, &b, &c}, kConverge));
  EXPECT_THAT(a.Log(), HasSubstr("avahi-daemon is available: discovering peers over mDNS"));
  // Membership, not mDNS, judges liveness: the outage killed nobody.
  EXPECT_EQ(a.Log().find("is dead"), std::string::npos);
  EXPECT_EQ(b.Log().find("is dead"), std::string::npos);
}

TEST_F(Discovery, HostileTxtRecordsDoNotDisturbTheCluster) {
  mdns_.Start();
  const uint16_t nobody = FreeLoopbackPort();
  const std::string pad(240, 'x');
  const std::vector<std::string> valid_tail = {"cluster=test", "version=1.0.0", "proto=1"};
  auto with = [&](std::vector<std::string> head) {
    head.insert(head.begin(), "txtvers=1");
    head.insert(head.end(), valid_tail.begin(), valid_tail.end());
    return head;
  };
  std::vector<std::unique_ptr<PrivateMdns::Publication>> hostile;
  // Oversized, malformed, contradictory, lying about an id.
  hostile.push_back(mdns_.Publish("oversized", nobody,
                                  with({"id=big", "a=" + pad, "b=" + pad, "c=" + pad, "d=" + pad,
                                        "e=" + pad, "f=" + pad})));
  hostile.push_back(mdns_.Publish("no-id", nobody, with({})));
  hostile.push_back(mdns_.Publish("bad-id", nobody, with({"id=../../etc/passwd"})));
  hostile.push_back(mdns_.Publish("binary", nobody, with({"id=\x01\x02\xff"})));
  hostile.push_back(mdns_.Publish("two-ids", nobody, with({"id=one", "ID=two"})));
  hostile.push_back(mdns_.Publish("no-txt", nobody, {}));
  // Well formed, but claims node-a's id at an address where nobody listens.
  hostile.push_back(mdns_.Publish("impostor", nobody, with({"id=node-a"})));

  Daemon& a = StartNode("node-a");
  Daemon& b = StartNode("node-b");
  Daemon& c = StartNode("node-c");
  EXPECT_TRUE(AllSeeEachOtherAlive({&a, &b, &c}, kConverge));
  std::this_thread::sleep_for(kQuietPeriod);
  EXPECT_TRUE(AllSeeEachOtherAlive({&a, &b, &c}, kConverge));  // still exactly these
  for (Daemon* node : {&a, &b, &c}) {
    EXPECT_TRUE(node->Running());
    const std::string log = node->Log();
    EXPECT_THAT(log, HasSubstr("ignoring mDNS record 'oversized': a TXT record of"));
    EXPECT_THAT(log, HasSubstr("ignoring mDNS record 'no-id': no id"));
    EXPECT_THAT(log, HasSubstr("ignoring mDNS record 'bad-id': invalid id '../../etc/passwd'"));
    EXPECT_THAT(log, HasSubstr("ignoring mDNS record 'binary': invalid id '\?\?\?'"));
    EXPECT_THAT(log, HasSubstr("ignoring mDNS record 'two-ids': the key 'id' is given twice"));
    EXPECT_THAT(log, HasSubstr("ignoring mDNS record 'no-txt': no usable txtvers"));
    // One line per record, not one per address family or announcement.
    EXPECT_EQ(Occurrences(log, "ignoring mDNS record 'no-id'"), 1u) << node->id();
  }
}

TEST_F(Discovery, WithNoAvahiAtAllSeedsStillWork) {
  // No bus and no avahi-daemon: D-Bus clients find nothing.
  Daemon& a = StartNode("node-a");
  Daemon& b = StartNode("node-b", {.seeds = {a.address()}});
  Daemon& c = StartNode("node-c", {.seeds = {a.address()}});
  EXPECT_TRUE(AllSeeEachOtherAlive({&a, &b, &c}, kConverge));
  std::this_thread::sleep_for(kQuietPeriod);  // several retries of the connection
  for (Daemon* node : {&a, &b, &c}) {
    EXPECT_EQ(DiscoveryField(*node, "state"), "connecting");
    EXPECT_EQ(Occurrences(node->Log(), "mDNS discovery unavailable"), 1u) << node->id();
  }
}

TEST_F(Discovery, AvahiThatAppearsLaterIsUsed) {
  // No bus yet: the daemon keeps retrying its connection to D-Bus.
  Daemon& a = StartNode("node-a");
  ASSERT_TRUE(Eventually([&] { return DiscoveryField(a, "state") == "connecting"; }, kConverge));
  mdns_.StartBus();  // a bus without avahi-daemon: Avahi's NO_FAIL wait
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(DiscoveryField(a, "state"), "connecting");
  mdns_.StartAvahi();
  EXPECT_TRUE(Eventually([&] { return DiscoveryField(a, "advertising") == "true"; }, kConverge));
  Daemon& b = StartNode("node-b");
  EXPECT_TRUE(AllSeeEachOtherAlive({&a, &b}, kConverge));
  EXPECT_EQ(Occurrences(a.Log(), "mDNS discovery unavailable"), 1u);
}

TEST_F(Discovery, ATakenInstanceNameIsReplacedAndTheNodeIsStillFound) {
  mdns_.Start();
  // Someone else holds the name node-a would register.
  auto squatter = mdns_.Publish("node-a", FreeLoopbackPort(), {"unrelated=1"});
  Daemon& a = StartNode("node-a");
  ASSERT_TRUE(Eventually([&] { return DiscoveryField(a, "advertising") == "true"; }, kConverge));
  EXPECT_EQ(DiscoveryField(a, "instance_name"), "node-a #2");
  std::vector<std::vector<std::string>> records;
  ASSERT_TRUE(Eventually([&] { return !(records = RecordsOf("node-a")).empty(); }, kConverge));
  EXPECT_EQ(records.front()[3], "node-a #2");
  Daemon& b = StartNode("node-b");
  EXPECT_TRUE(AllSeeEachOtherAlive({&a, &b}, kConverge));
}

TEST_F(Discovery, AnIpv6OnlyNodeIsFoundAtItsIpv6Address) {
  mdns_.Start();
  // node-v6 listens on [::1] only, and neither browses nor has seeds: it
  // never calls anyone, so the two meet only if node-a reaches it at the
  // IPv6 address its record resolves to (the IPv4 one refuses).
  Daemon v6(dir_.path(), {.id = "node-v6", .host = "::1"});  // mdns off
  v6.Start();
  const std::string port = v6.address().substr(v6.address().rfind(':') + 1);
  auto record = mdns_.Publish("node-v6", static_cast<uint16_t>(std::stoi(port)),
                              {"txtvers=1", "id=node-v6", "cluster=test", "version=1.0.0",
                               "proto=1"});
  Daemon& a = StartNode("node-a");
  EXPECT_TRUE(AllSeeEachOtherAlive({&a, &v6}, kConverge));
  EXPECT_THAT(a.Log(), HasSubstr("mDNS: domain node-v6 at [::1]:" + port));
}

TEST_F(Discovery, ALinkLocalAddressWithItsInterfaceIsDialable) {
  // What discovery hands over for an IPv6 link-local record,
  // "[fe80::...%interface]:port", must be an address gRPC connects to
  // (PeerClient and domianctl create their channels the same way). A
  // veth pair inside this test's namespace gives a link-local address
  // (avahi-daemon stays on lo).
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"link", "add", "dl0", "type", "veth", "peer", "name", "dl1"},
        std::vector<std::string>{"-6", "addr", "add", "fe80::d0:1/64", "dev", "dl0", "nodad"},
        std::vector<std::string>{"link", "set", "dl0", "up"},
        std::vector<std::string>{"link", "set", "dl1", "up"}}) {
    const CommandResult result = RunCommand("/usr/sbin/ip", args);
    ASSERT_EQ(result.exit_code, 0) << "ip " << args[0] << ": " << result.err;
  }
  Daemon a(dir_.path(), {.id = "node-a", .host = "::"});
  a.Start();
  const auto port =
      static_cast<uint16_t>(std::stoi(a.address().substr(a.address().rfind(':') + 1)));
  AvahiAddress address;
  ASSERT_TRUE(avahi_address_parse("fe80::d0:1", AVAHI_PROTO_INET6, &address));
  const std::string link_local =
      discovery::PeerAddress(address, static_cast<AvahiIfIndex>(if_nametoindex("dl0")), port);
  EXPECT_EQ(link_local, "[fe80::d0:1%dl0]:" + std::to_string(port));
  // Over TLS with an operator's certificate of the daemon's cluster (the
  // address is not the one the daemon was registered under).
  std::optional<nlohmann::json> status;
  EXPECT_TRUE(Eventually(
      [&] {
        const CommandResult result = RunCommand(
            DomianctlPath(), {"--credentials", OperatorCredentials("test").string(), "--node",
                              link_local, "status", "--json"});
        if (result.exit_code == 0) status = nlohmann::json::parse(result.out);
        return status.has_value();
      },
      kConverge));
  ASSERT_TRUE(status);
  EXPECT_EQ((*status)["id"], "node-a");
}

TEST_F(Discovery, LonelyModeAdvertisesOnlyWhileLonely) {
  mdns_.Start();
  Daemon& a = StartNode("node-a", {.advertise = "lonely"});
  ASSERT_TRUE(Eventually([&] { return !RecordsOf("node-a").empty(); }, kConverge));
  Daemon& b = StartNode("node-b", {.advertise = "lonely"});
  ASSERT_TRUE(AllSeeEachOtherAlive({&a, &b}, kConverge));
  // Neither is lonely now: both records are withdrawn.
  EXPECT_TRUE(Eventually([&] { return DiscoveryField(a, "advertising") == "false"; }, kConverge));
  EXPECT_TRUE(Eventually(
      [&] { return RecordsOf("node-a").empty() && RecordsOf("node-b").empty(); }, kConverge));
  // b crashes: a is lonely again and advertises again.
  b.Signal(SIGKILL);
  EXPECT_TRUE(Eventually([&] { return !RecordsOf("node-a").empty(); }, kConverge));
  EXPECT_EQ(DiscoveryField(a, "advertising"), "true");
}

TEST_F(Discovery, AStoppedNodeWithdrawsItsRecord) {
  mdns_.Start();
  Daemon& a = StartNode("node-a");
  ASSERT_TRUE(Eventually([&] { return !RecordsOf("node-a").empty(); }, kConverge));
  a.Signal(SIGTERM);
  ASSERT_EQ(a.WaitExit(kConverge), 0);
  // Gone within moments (mDNS goodbye: caches drop the record after 1 s),
  // not when its TTL (120 s for the SRV record) runs out.
  EXPECT_TRUE(Eventually([&] { return RecordsOf("node-a").empty(); }, kGoodbye));
}

}  // namespace
}  // namespace domian::testing

// The namespaces are entered before gtest (or anything) starts a thread.
int main(int argc, char** argv) {
  const std::string problem = domian::testing::EnterPrivateNetwork();
  ::testing::InitGoogleTest(&argc, argv);
  if (!problem.empty()) std::cerr << "discovery_test: " << problem << "\n";
  return RUN_ALL_TESTS();
}
