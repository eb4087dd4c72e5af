// Well-formed but hostile messages against real domiand processes: what a
// member with a bug can send with a gRPC client built only from
// proto/domian/v1 and a certificate of the cluster (the raw stub below),
// and what it can gossip. None of it may split the cluster, rewrite a member, slow failure
// detection or make placement act on a lie. Each case is one item of the
// hostile-peer work; the hand-over and load cases live in
// hostile_handover_test.cc and hostile_load_test.cc.
//
// Waits are generous (a crash is declared dead in ~1.2-1.5 s here);
// bench/ measures detection with junk rows injected.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "core/common/durable_file.h"
#include "domian/v1/domian.grpc.pb.h"
#include "tests/support/cluster.h"

namespace domian::testing {
namespace {

constexpr auto kConverge = 20s;
constexpr auto kDetect = 20s;  // generous: detection takes ~1.5 s at these timings
// How long a lie is given to do harm before the cluster is checked.
constexpr auto kAftermath = 3s;
constexpr uint64_t kCeiling = uint64_t{1} << 62;  // kMaxCounter

const std::filesystem::path kTestPlugins = DOMIAN_TEST_PLUGIN_DIR;

// A client of the Domain service with nothing of domian's own behind it.
// Over mutual TLS it is a member with a bug, not a stranger: each message
// goes with a certificate of the cluster naming the node its sender
// claims to be, so it passes the certificate check and meets the checks
// on what it says (a stranger without one is refused before that, see
// tests/security_test.cc).
class RawPeer {
 public:
  explicit RawPeer(std::string address) : address_(std::move(address)) {}

  grpc::Status Share(const v1::ShareIdentityListRequest& request,
                     v1::ShareIdentityListResponse* response = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    v1::ShareIdentityListResponse ignored;
    return StubAs(request.sender().id())
        .ShareIdentityList(&context, request, response ? response : &ignored);
  }

 private:
  v1::Domain::Stub& StubAs(const std::string& id) {
    auto& stub = stubs_[id];
    if (!stub) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per certificate
      stub = v1::Domain::NewStub(
          grpc::CreateCustomChannel(address_, TestCredentials("test", id), args));
    }
    return *stub;
  }

  std::string address_;
  std::map<std::string, std::unique_ptr<v1::Domain::Stub>> stubs_;
};

// A row with an identity at `address`.
v1::IdentityEntry Row(const std::string& id, uint64_t incarnation, uint64_t heartbeat,
                      const std::string& address) {
  v1::IdentityEntry row;
  row.set_id(id);
  row.set_incarnation(incarnation);
  row.set_heartbeat(heartbeat);
  row.set_revision(1);
  row.set_state(v1::PEER_STATE_ALIVE);
  v1::Identity* identity = row.mutable_identity();
  identity->set_id(id);
  identity->set_cluster("test");
  identity->set_version("0.1.0");
  identity->set_address(address);
  identity->set_protocol(1);
  return row;
}

// A request from a node nobody has met, that answers nowhere (nothing
// listens at 127.0.0.1:1).
v1::ShareIdentityListRequest FromStranger(const std::string& id = "intruder") {
  v1::ShareIdentityListRequest request;
  *request.mutable_sender() = Row(id, 1, 1, "127.0.0.1:1");
  return request;
}

class HostilePeers : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!HasFailure()) return;
    for (const auto& daemon : daemons_) {
      std::cerr << "---- " << daemon->id() << " ----\n" << daemon->Log();
    }
  }

  // node-a (the seed), node-b and node-c at the default timings, all
  // alive to each other.
  void StartThree(const std::string& extra_yaml = "") {
    auto nodes = SeededDaemons(dir_.path(), {"node-a", "node-b", "node-c"}, "debug", extra_yaml);
    for (auto& node : nodes) {
      node->Start();
      daemons_.push_back(std::move(node));
    }
    ASSERT_TRUE(AllSeeEachOtherAlive(All(), kConverge));
    for (Daemon* daemon : All()) real_[daemon->id()] = daemon->address();
  }

  std::vector<Daemon*> All() {
    std::vector<Daemon*> all;
    for (auto& daemon : daemons_) {
      if (daemon->Running()) all.push_back(daemon.get());
    }
    return all;
  }
  Daemon& Node(const std::string& id) {
    for (auto& daemon : daemons_) {
      if (daemon->id() == id) return *daemon;
    }
    throw std::runtime_error("no daemon " + id);
  }

  uint64_t IncarnationSeenBy(const Daemon& observer, const std::string& id) {
    const auto entry = PeerEntry(observer, id);
    return entry ? (*entry)["incarnation"].get<uint64_t>() : 0;
  }

  // No split: every running daemon sees every other alive at its real
  // address, and nobody else; no incarnation has wrapped or reached the
  // ceiling; no member's list was refused.
  void ExpectWhole() {
    const auto all = All();
    EXPECT_TRUE(AllSeeEachOtherAlive(all, kConverge));
    for (const Daemon* observer : all) {
      const auto peers = Ctl(observer->address(), "peers");
      ASSERT_TRUE(peers) << observer->id();
      EXPECT_EQ(peers->size(), all.size() - 1) << observer->id() << ": " << peers->dump();
      for (const auto& peer : *peers) {
        const std::string id = peer["id"];
        ASSERT_TRUE(real_.contains(id)) << observer->id() << " lists " << id;
        EXPECT_EQ(peer["address"], real_.at(id)) << observer->id() << " on " << id;
        EXPECT_GT(peer["incarnation"].get<uint64_t>(), 1'600'000'000u) << id;
        EXPECT_LT(peer["incarnation"].get<uint64_t>(), kCeiling) << id;
      }
      // No member's list was refused, in either direction.
      const std::string log = observer->Log();
      for (const auto& [id, address] : real_) {
        EXPECT_EQ(Occurrences(log, "refused identity list from " + address), 0u)
            << observer->id() << " refused " << id;
      }
      EXPECT_EQ(Occurrences(log, "refused our identity list"), 0u) << observer->id();
    }
  }

  TempDir dir_{"domian-hostile-peers-test"};
  std::vector<std::unique_ptr<Daemon>> daemons_;
  std::map<std::string, std::string> real_;  // id -> its real address
};

// Item 2: a relayed row for a live node with incarnation 2^64-1 made that
// node refute with +1, which wrapped to 0; a stranger's own row with
// counters of 2^64-1 was accepted.
TEST_F(HostilePeers, CountersAtTheTopOfTheRangeNeverWrapAnIncarnation) {
  StartThree();
  Daemon& a = Node("node-a");
  Daemon& b = Node("node-b");
  const uint64_t a_before = IncarnationSeenBy(b, "node-a");
  RawPeer raw(b.address());
  for (const uint64_t lie : {UINT64_MAX, UINT64_MAX - 1, kCeiling, a_before + (uint64_t{1} << 33)}) {
    auto request = FromStranger();
    *request.add_identity_list() = Row("node-a", lie, 1, a.address());
    const grpc::Status status = raw.Share(request);
    EXPECT_TRUE(status.ok()) << "one bad row costs that row: " << status.error_message();
  }
  // The stranger's own counters at the top: the whole message is refused.
  auto own = FromStranger();
  own.mutable_sender()->set_incarnation(UINT64_MAX);
  own.mutable_sender()->set_heartbeat(UINT64_MAX);
  const grpc::Status refused = raw.Share(own);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << refused.error_message();
  EXPECT_NE(refused.error_message().find("out of range"), std::string::npos);

  std::this_thread::sleep_for(kAftermath);
  ExpectWhole();
  EXPECT_TRUE(Eventually([&] { return b.Log().find("ignored 1 row(s) of the identity list from "
                                                   "127.0.0.1:1") != std::string::npos; },
                         5s));
  // a's incarnation grew by refutations at most, never to the ceiling.
  const uint64_t a_after = IncarnationSeenBy(b, "node-a");
  EXPECT_GE(a_after, a_before);
  EXPECT_LT(a_after - a_before, 1000u);
}

// Item 2, on disk: an incarnation file poisoned with the ceiling used to
// wrap again on the next start.
TEST_F(HostilePeers, APoisonedIncarnationFileIsRecoveredAtStart) {
  StartThree();
  Daemon& c = Node("node-c");
  c.Signal(SIGKILL);
  ASSERT_TRUE(c.WaitExit(10s));
  const std::filesystem::path file = dir_.path() / "node-c" / "state" / "incarnation";
  ASSERT_TRUE(std::filesystem::exists(file)) << file;
  // One below the top: the next start would take the top itself, and the
  // first refutation after it would wrap. Written whole, as the daemon
  // writes it (a file without its header beside a previous copy would
  // be read as damage, and the previous copy used).
  ASSERT_TRUE(WriteDurable(file, std::to_string(UINT64_MAX - 1) + "\n", 0640).ok());
  c.Start();
  EXPECT_TRUE(Eventually([&] { return c.Log().find("not an incarnation this node can use") !=
                                      std::string::npos; },
                         10s));
  ExpectWhole();
}

// Item 5: a relayed row for a live node, with its incarnation + 1 and
// another address, was adopted; peers dialled the new address and refused
// the real node as a spoofer. Host names from gossip were resolved.
TEST_F(HostilePeers, RelayedRowsNeverRewriteAThirdParty) {
  StartThree();
  Daemon& b = Node("node-b");
  Daemon& c = Node("node-c");
  const uint64_t c_incarnation = IncarnationSeenBy(b, "node-c");
  const uint16_t trap_port = FreeLoopbackPort();
  RawPeer raw(b.address());
  for (int i = 0; i < 5; ++i) {
    auto request = FromStranger();
    v1::IdentityEntry rewrite =
        Row("node-c", c_incarnation + 1, 1, "127.0.0.1:" + std::to_string(trap_port));
    rewrite.set_revision(1000);
    rewrite.mutable_identity()->add_traits("w1");
    *request.add_identity_list() = rewrite;
    // And a stranger by host name, which must not be looked up.
    *request.add_identity_list() = Row("by-name", 1, 1, "attacker.invalid:7420");
    ASSERT_TRUE(raw.Share(request).ok());
    std::this_thread::sleep_for(200ms);
  }
  std::this_thread::sleep_for(kAftermath);
  ExpectWhole();
  const auto c_seen = PeerEntry(b, "node-c");
  ASSERT_TRUE(c_seen);
  EXPECT_TRUE((*c_seen)["traits"].empty()) << c_seen->dump();
  EXPECT_EQ(b.Log().find("claims the id of live peer 'node-c'"), std::string::npos);
  EXPECT_EQ(c.Log().find("refused our identity list"), std::string::npos);
  EXPECT_NE(b.Log().find("by-name: not calling attacker.invalid:7420: not an IP address"),
            std::string::npos);
}

// Item 6: 1000 fake peers in one 66 KB message were all listed alive, and
// pacing then took a real crash 141 s instead of 1.5 s to detect.
TEST_F(HostilePeers, AThousandFakePeersAreNotListedAndDetectionIsUnchanged) {
  StartThree();
  auto junk = FromStranger();
  for (int i = 0; i < 1000; ++i) {
    *junk.add_identity_list() =
        Row("fake-" + std::to_string(i), 1, 1, "127.0.0.1:" + std::to_string(20000 + i));
  }
  // Keep sending it to every node, as an attacker would, until the end.
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  std::thread flood([&] {
    std::vector<RawPeer> raws;
    for (const auto& [id, address] : real_) raws.emplace_back(address);
    while (!stop) {
      for (RawPeer& raw : raws) {
        if (raw.Share(junk).ok()) ++sent;
      }
      std::this_thread::sleep_for(200ms);
    }
  });
  std::this_thread::sleep_for(kAftermath);
  for (Daemon* daemon : All()) {
    const auto peers = Ctl(daemon->address(), "peers");
    ASSERT_TRUE(peers);
    EXPECT_EQ(peers->size(), 2u) << daemon->id();
  }
  Daemon& c = Node("node-c");
  const auto killed = std::chrono::steady_clock::now();
  c.Signal(SIGKILL);
  const bool detected = Eventually(
      [&] { return PeerState(Node("node-a"), "node-c") == "dead" &&
                   PeerState(Node("node-b"), "node-c") == "dead"; },
      kDetect);
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed);
  stop = true;
  flood.join();
  EXPECT_TRUE(detected) << "not detected within " << kDetect.count() << " s";
  std::cout << "crash detected in " << took.count() << " ms with junk flowing (" << sent
            << " junk messages accepted)\n";
  EXPECT_GT(sent, 0);
}

// Item 7: a forged `leaving` from a real id and address string marked that
// node left.
TEST_F(HostilePeers, AForgedGoodbyeDoesNotMarkANodeLeft) {
  StartThree();
  Daemon& c = Node("node-c");
  for (const char* observer : {"node-a", "node-b"}) {
    Daemon& o = Node(observer);
    v1::ShareIdentityListRequest forged;
    *forged.mutable_sender() =
        Row("node-c", IncarnationSeenBy(o, "node-c"), 1'000'000, c.address());
    forged.mutable_sender()->set_leaving(true);
    forged.mutable_sender()->set_revision(1'000'000);
    EXPECT_TRUE(RawPeer(o.address()).Share(forged).ok());
    // And relayed by a stranger.
    auto relayed = FromStranger();
    v1::IdentityEntry row = Row("node-c", IncarnationSeenBy(o, "node-c"), 1'000'000, c.address());
    row.set_leaving(true);
    *relayed.add_identity_list() = row;
    EXPECT_TRUE(RawPeer(o.address()).Share(relayed).ok());
  }
  std::this_thread::sleep_for(kAftermath);
  ExpectWhole();
  for (const char* observer : {"node-a", "node-b"}) {
    EXPECT_EQ(Node(observer).Log().find("peer node-c (" + c.address() + ") left"),
              std::string::npos)
        << observer;
  }
}

// Item 7: a fake member offering a service with run: always and the top
// weight received it, state and all, and answered calls for it.
TEST_F(HostilePeers, AMemberThatNeverAnswersGetsNothingPlaced) {
  const std::filesystem::path plugins = dir_.path() / "plugins";
  MakePluginFolder(plugins, kTestPlugins, {"tally"});
  StartThree("plugins:\n  dirs: [" + plugins.string() +
             "]\nplacement:\n  migrate_after: 1s\nservices:\n  tally: {run: prefer}\n");
  std::string owner;
  ASSERT_TRUE(Eventually(
      [&] {
        const auto owners = ServiceOwners(Node("node-a"), "tally");
        if (owners.size() != 1 || owners.begin()->first == kUnreachable) return false;
        owner = owners.begin()->first;
        return true;
      },
      kConverge));
  for (int i = 0; i < 5; ++i) ASSERT_EQ(CallService(Node("node-a"), "tally", "inc").exit_code, 0);
  auto offer = FromStranger("squatter");
  v1::Offer* o = offer.mutable_sender()->mutable_identity()->add_offers();
  o->set_service("tally");
  o->set_run("always");
  o->set_weight(1000000);
  o->set_listed(true);
  o->set_has_plugin(true);
  o->set_placement("singleton");
  o->set_config_json(R"({"relay": "/tmp/attacker"})");
  for (int i = 0; i < 15; ++i) {  // longer than migrate_after
    for (const auto& [id, address] : real_) EXPECT_TRUE(RawPeer(address).Share(offer).ok());
    std::this_thread::sleep_for(200ms);
  }
  std::this_thread::sleep_for(kAftermath);
  ExpectWhole();
  for (Daemon* observer : All()) {
    EXPECT_EQ(ServiceOwners(*observer, "tally"), (std::map<std::string, uint64_t>{{owner, 1}}))
        << observer->id();
    EXPECT_EQ(observer->Log().find("learned of peer squatter"), std::string::npos);
    EXPECT_EQ(observer->Log().find("moving service tally"), std::string::npos);
  }
  const CommandResult count = CallService(Node("node-b"), "tally", "get");
  ASSERT_EQ(count.exit_code, 0) << count.err;
  EXPECT_NE(count.out.find("\"value\":5"), std::string::npos) << count.out;
}

// Item 10: a node restarted with only a dead seed stayed lonely, while the
// others, who saw it leave, never called it again: two owners of every
// singleton, for good.
TEST_F(HostilePeers, ANodeThatLeftRejoinsThroughThePeersItRemembers) {
  StartThree();
  Daemon& a = Node("node-a");
  Daemon& c = Node("node-c");
  // Long enough for c to have written down its peers (every 5 s).
  std::this_thread::sleep_for(6s);
  c.Signal(SIGTERM);
  ASSERT_EQ(c.WaitExit(20s), 0);
  a.Signal(SIGKILL);  // c's only seed
  ASSERT_TRUE(a.WaitExit(10s));
  ASSERT_TRUE(Eventually([&] { return PeerState(Node("node-b"), "node-c") == "dead"; }, kDetect));
  c.Start();
  EXPECT_TRUE(Eventually(
      [&] {
        return PeerState(Node("node-b"), "node-c") == "alive" &&
               PeerState(c, "node-b") == "alive";
      },
      kConverge))
      << "c stayed lonely";
}

}  // namespace
}  // namespace domian::testing
