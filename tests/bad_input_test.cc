// Hostile and broken peers against a real domiand over real gRPC: every
// bad message is refused with the right gRPC status and a log line, and
// the daemon's peer table is exactly as it was. The raw client is an
// authenticated member with a bug: it shows a certificate of the cluster
// naming the node each message claims to come from, so every message
// passes the certificate check and reaches the checks these tests are
// about (tests/security_test.cc covers the certificate check itself).
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <future>

#include "domian/v1/domian.grpc.pb.h"
#include "tests/support/cluster.h"

namespace domian::testing {
namespace {

constexpr char kMethod[] = "/domian.v1.Domain/ShareIdentityList";

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    // Slow-to-suspect timings: a refutation caused by a loaded machine
    // would change incarnations, and these tests compare them exactly.
    auto nodes = SeededDaemons(dir_.path(), {"node-b", "node-a", "node-c"}, "debug",
                               "membership:\n  suspect_after: 5s\n  dead_after: 10s\n");
    b_ = std::move(nodes[0]);
    a_ = std::move(nodes[1]);
    c_ = std::move(nodes[2]);
    for (Daemon* d : {b_.get(), a_.get(), c_.get()}) d->Start();
    ASSERT_TRUE(Eventually(
        [&] { return PeerState(*b_, "node-a") == "alive" && PeerState(*b_, "node-c") == "alive"; },
        20s))
        << b_->Log();
    before_ = Snapshot();
    ASSERT_EQ(before_.size(), 2U) << "B's table before the test";
  }

  void TearDown() override {
    if (HasFailure()) std::cerr << b_->Log();
  }

  // What B knows of its peers, minus the fields that move with time.
  std::map<std::string, std::pair<std::string, uint64_t>> Snapshot() {
    std::map<std::string, std::pair<std::string, uint64_t>> out;
    const auto peers = Ctl(b_->address(), "peers");
    if (!peers) return out;
    for (const auto& peer : *peers) {
      out[peer["id"]] = {peer["address"], peer["incarnation"].get<uint64_t>()};
    }
    return out;
  }

  // A well-formed request from "intruder", a node B has never seen, at a
  // fresh address.
  v1::ShareIdentityListRequest Valid(const std::string& id = "intruder") {
    v1::ShareIdentityListRequest request;
    v1::IdentityEntry* sender = request.mutable_sender();
    sender->set_id(id);
    sender->set_incarnation(1);
    sender->set_heartbeat(1);
    sender->set_revision(1);
    sender->set_state(v1::PEER_STATE_ALIVE);
    v1::Identity* identity = sender->mutable_identity();
    identity->set_id(id);
    identity->set_cluster("test");
    identity->set_version("0.1.0");
    identity->set_address("127.0.0.1:1");
    identity->set_protocol(1);
    return request;
  }

  // A channel to B with a certificate of the cluster naming node `id`.
  std::shared_ptr<grpc::Channel> ChannelAs(const std::string& id) {
    auto& channel = channels_[id];
    if (!channel) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per certificate
      channel = grpc::CreateCustomChannel(b_->address(), TestCredentials("test", id), args);
    }
    return channel;
  }

  std::unique_ptr<v1::Domain::Stub> StubAs(const std::string& id) {
    return v1::Domain::NewStub(ChannelAs(id));
  }

  // Sent as the node the request's sender names.
  grpc::Status Send(const v1::ShareIdentityListRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    v1::ShareIdentityListResponse response;
    return StubAs(request.sender().id())->ShareIdentityList(&context, request, &response);
  }

  // The table is intact and the daemon still answers: one listing, which
  // must be there (a failed query would pass "intruder is not listed").
  void ExpectIntact() {
    EXPECT_TRUE(b_->Running());
    const auto peers = Ctl(b_->address(), "peers");
    ASSERT_TRUE(peers.has_value()) << "B does not answer domianctl peers";
    std::map<std::string, std::pair<std::string, uint64_t>> now;
    std::map<std::string, std::string> states;
    for (const auto& peer : *peers) {
      now[peer["id"]] = {peer["address"], peer["incarnation"].get<uint64_t>()};
      states[peer["id"]] = peer.value("state", "");
    }
    EXPECT_EQ(now, before_);
    EXPECT_EQ(states["node-a"], "alive");
    EXPECT_EQ(states["node-c"], "alive");
    EXPECT_EQ(states.count("intruder"), 0U);
  }

  void ExpectLogged(const std::string& text) {
    EXPECT_TRUE(Eventually([&] { return b_->Log().find(text) != std::string::npos; }, 5s))
        << "no log line containing: " << text;
  }

  TempDir dir_{"domian-bad-input-test"};
  std::unique_ptr<Daemon> a_, b_, c_;
  std::map<std::string, std::pair<std::string, uint64_t>> before_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
};

TEST_F(BadInput, AWellFormedStrangerIsAccepted) {
  // The control case: the same request with nothing wrong is taken, so
  // the refusals below are about what each one spoils. A node new to B
  // (certified, but never seen) is a peer only once it answers a call at
  // its address; nobody answers at 127.0.0.1:1, so it is never listed
  // (tests/hostile_peers_test.cc shows one that answers being taken in).
  EXPECT_TRUE(Send(Valid()).ok());
  ExpectLogged("heartbeat to intruder (127.0.0.1:1) failed");
  EXPECT_EQ(PeerEntry(*b_, "intruder"), std::nullopt);
}

TEST_F(BadInput, WrongClusterIsRefused) {
  auto request = Valid();
  request.mutable_sender()->mutable_identity()->set_cluster("next-door");
  const grpc::Status status = Send(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  ExpectLogged("refused identity list from 127.0.0.1:1: sender: cluster 'next-door'");
  ExpectIntact();
}

TEST_F(BadInput, MalformedVersionIsRefused) {
  auto request = Valid();
  request.mutable_sender()->mutable_identity()->set_version("one point oh");
  const grpc::Status status = Send(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("not a semantic version"), std::string::npos);
  ExpectLogged("version 'one point oh' is not a semantic version");
  ExpectIntact();
}

TEST_F(BadInput, TooManyEntriesAreRefused) {
  auto request = Valid();
  for (int i = 0; i < 1025; ++i) {
    v1::IdentityEntry* row = request.add_identity_list();
    row->set_id("flood-" + std::to_string(i));
    row->set_incarnation(1);
    row->set_heartbeat(1);
  }
  const grpc::Status status = Send(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  ExpectLogged("identity list has 1025 entries, over the limit of 1024");
  ExpectIntact();
}

TEST_F(BadInput, OversizedMessageIsRefusedAndLogged) {
  auto request = Valid();
  request.mutable_sender()->mutable_identity()->add_traits(std::string(600 * 1024, 'x'));
  const grpc::Status status = Send(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  ExpectLogged("refused identity list from 127.0.0.1:1: message of ");
  ExpectLogged("bytes is over the limit of 524288");
  ExpectIntact();
}

TEST_F(BadInput, HugeMessageIsRefusedByTheTransportBeforeParsing) {
  auto request = Valid();
  request.mutable_sender()->mutable_identity()->add_traits(std::string(5 * 1024 * 1024, 'x'));
  const grpc::Status status = Send(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  ExpectIntact();
}

TEST_F(BadInput, SpoofedLivePeerIsRefused) {
  auto request = Valid("node-a");
  request.mutable_sender()->set_incarnation(uint64_t{1} << 40);  // claims to be newer, even
  const grpc::Status status = Send(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ExpectLogged("sender claims the id of live peer 'node-a' (at " + a_->address() +
               ") from 127.0.0.1:1");
  ExpectIntact();
}

TEST_F(BadInput, ClaimingTheReceiversOwnIdIsRefused) {
  const grpc::Status status = Send(Valid("node-b"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ExpectLogged("sender claims this node's id 'node-b'");
  ExpectIntact();
}

TEST_F(BadInput, CountersGoingBackwardsAreIgnored) {
  // A replayed, older message in A's name from A's own address: it may
  // not roll A's incarnation back, nor bring down C with a stale verdict.
  auto request = Valid("node-a");
  request.mutable_sender()->set_incarnation(1);
  request.mutable_sender()->mutable_identity()->set_address(a_->address());
  v1::IdentityEntry* rumour = request.add_identity_list();
  rumour->set_id("node-c");
  rumour->set_incarnation(1);
  rumour->set_heartbeat(1);
  rumour->set_state(v1::PEER_STATE_DEAD);
  EXPECT_TRUE(Send(request).ok());
  ExpectIntact();
}

TEST_F(BadInput, GarbageBytesAreRefused) {
  grpc::GenericStub generic(ChannelAs("intruder"));
  const std::string junk = "\xff\xff\xff\xff this is not a protobuf message";
  grpc::Slice slice(junk);
  grpc::ByteBuffer request(&slice, 1), response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 5s);
  std::promise<grpc::Status> done;
  generic.UnaryCall(&context, kMethod, grpc::StubOptions(), &request, &response,
                    [&](grpc::Status status) { done.set_value(status); });
  const grpc::Status status = done.get_future().get();
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  ExpectIntact();
}

TEST_F(BadInput, BadOffersAreRefused) {
  auto request = Valid();
  v1::Offer* offer = request.mutable_sender()->mutable_identity()->add_offers();
  offer->set_service("lights");
  offer->set_run("sometimes");
  const grpc::Status bad_run = Send(request);
  EXPECT_EQ(bad_run.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad_run.error_message();
  ExpectLogged("offer lights: run 'sometimes' is not a run mode");
  offer->set_run("prefer");
  offer->set_listed(true);
  offer->set_config_json("{\"x\":\"" + std::string(5000, 'x') + "\"}");
  const grpc::Status big_config = Send(request);
  EXPECT_EQ(big_config.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << big_config.error_message();
  ExpectIntact();
}

// HandOver is how a node gives a singleton to another; only a live peer
// of the same cluster may do so, and only for what can run here. Each one
// is sent with the certificate of the node its `from` names.
TEST_F(BadInput, HandOversThatCannotBeRightAreRefused) {
  auto hand_over = [&](const std::string& from, const std::string& cluster, uint64_t epoch) {
    v1::HandOverRequest request;
    request.set_service("tally");
    request.set_epoch(epoch);
    request.set_from(from);
    request.set_cluster(cluster);
    request.set_has_state(true);
    request.set_state("41");
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    v1::HandOverResponse response;
    return StubAs(from)->HandOver(&context, request, &response);
  };
  EXPECT_EQ(hand_over("node-a", "test", 0).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(hand_over("node-a", "next-door", 5).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(hand_over("intruder", "test", 5).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // From a live peer, but b has no plugin for it.
  const grpc::Status no_plugin = hand_over("node-a", "test", 5);
  EXPECT_EQ(no_plugin.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(no_plugin.error_message(), "no plugin for tally here");
  ExpectLogged("refused a hand-over of tally from intruder: 'intruder' is not a live peer");
  const auto services = Ctl(b_->address(), "services");
  ASSERT_TRUE(services);
  EXPECT_TRUE(services->empty()) << services->dump();
  ExpectIntact();
}

}  // namespace
}  // namespace domian::testing
