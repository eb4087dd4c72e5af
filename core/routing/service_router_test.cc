// ServiceRouter without gRPC: a cluster view the test writes and a fake
// RemoteNodes that records what was forwarded and answers as the test
// says. No service host: every call is for a service that runs elsewhere.
#include "core/routing/service_router.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>

namespace domian::routing {
namespace {

using namespace std::chrono_literals;

class FakeCluster final : public placement::ClusterSource {
 public:
  placement::ClusterView View() const override { return view; }
  bool Confirm(const std::string&, std::chrono::milliseconds) override { return false; }

  // `node` runs `service` under `epoch`, as its identity says.
  void Runs(const std::string& node, const std::string& service, uint64_t epoch,
            PeerState state = PeerState::kAlive, const std::string& as = "running") {
    membership::PeerView peer;
    peer.identity.id = node;
    peer.identity.address = "127.0.0.1:" + std::to_string(7400 + view.peers.size());
    peer.identity.services.push_back({service, as, "", epoch});
    peer.state = state;
    view.peers.push_back(std::move(peer));
  }

  placement::ClusterView view{.self = {.id = "here", .address = "127.0.0.1:7399"}};
};

class FakeRemote final : public RemoteNodes {
 public:
  absl::Status Invoke(const std::string& address, const ServiceCall& call, Deadline deadline,
                      ReplyDone done) override {
    if (stopping) return absl::UnavailableError("the node is shutting down");
    std::lock_guard lock(mu);
    calls.push_back({address, call, deadline});
    if (before_answer) before_answer();
    done(answer);
    return absl::OkStatus();
  }
  absl::Status HandOver(const std::string&, const placement::HandOverRequest&,
                        Deadline) override {
    return absl::UnimplementedError("not in this test");
  }
  void CancelCalls() override { stopping = true; }

  struct Call {
    std::string address;
    ServiceCall call;
    Deadline deadline;
  };
  std::mutex mu;
  std::vector<Call> calls;
  absl::StatusOr<ServiceReply> answer = ServiceReply{R"({"ok":true})", "owner"};
  std::function<void()> before_answer;  // the owner's time, on the test's clock
  std::atomic<bool> stopping{false};
};

class ServiceRouterTest : public ::testing::Test {
 protected:
  absl::StatusOr<ServiceReply> Call(ServiceCall call,
                                    Deadline deadline = Deadline::max()) {
    std::promise<absl::StatusOr<ServiceReply>> answered;
    router_.Invoke({.caller = "127.0.0.9", .deadline = deadline}, std::move(call),
                   [&answered](absl::StatusOr<ServiceReply> reply) {
                     answered.set_value(std::move(reply));
                   });
    auto future = answered.get_future();
    if (future.wait_for(30s) != std::future_status::ready) {
      return absl::DeadlineExceededError("the router never answered");
    }
    return future.get();
  }

  // What the router's call observer was told.
  struct Told {
    std::string service;
    std::chrono::nanoseconds took;
    bool ok;
  };
  std::vector<Told> Observed() {
    std::lock_guard lock(observed_mu_);
    return observed_;
  }

  FakeCluster cluster_;
  FakeRemote remote_;
  FakeClock clock_;
  std::mutex observed_mu_;
  std::vector<Told> observed_;
  ServiceRouter router_{cluster_, nullptr, remote_,
                        [this](const std::string& service, std::chrono::nanoseconds took,
                               bool ok) {
                          std::lock_guard lock(observed_mu_);
                          observed_.push_back({service, took, ok});
                        },
                        clock_};
};

TEST_F(ServiceRouterTest, ACallGoesOnceToTheNewestOwner) {
  cluster_.Runs("b", "lights", 3);
  cluster_.Runs("c", "lights", 5);
  cluster_.Runs("a", "lights", 5);
  cluster_.Runs("d", "lights", 9, PeerState::kDead);
  cluster_.Runs("e", "lights", 7, PeerState::kAlive, "starting");
  const auto reply = Call({"lights", "set", R"({"on":true})", 0});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->node, "owner");
  ASSERT_EQ(remote_.calls.size(), 1U);
  // The highest epoch among live nodes that run it, then the lowest id.
  EXPECT_EQ(remote_.calls[0].address, cluster_.view.peers[2].identity.address);
  EXPECT_EQ(remote_.calls[0].call.hops, 1U) << "forwarded once";
  EXPECT_EQ(remote_.calls[0].call.args_json, R"({"on":true})");
  EXPECT_LE(remote_.calls[0].deadline, std::chrono::system_clock::now() + kForwardDeadline);
}

TEST_F(ServiceRouterTest, EveryAnsweredCallIsToldWithItsServiceDurationAndOutcome) {
  cluster_.Runs("b", "lights", 3);
  remote_.before_answer = [this] { clock_.Advance(40ms); };
  ASSERT_TRUE(Call({"lights", "set", "{}", 0}).ok());
  EXPECT_FALSE(Call({"speaker", "say", "{}", 0}).ok());  // runs nowhere
  const std::vector<Told> told = Observed();
  ASSERT_EQ(told.size(), 2U);
  EXPECT_EQ(told[0].service, "lights");
  EXPECT_EQ(told[0].took, 40ms);
  EXPECT_TRUE(told[0].ok);
  EXPECT_EQ(told[1].service, "speaker");
  EXPECT_EQ(told[1].took, 0ms);
  EXPECT_FALSE(told[1].ok);
}

TEST_F(ServiceRouterTest, AForwardedCallIsNeverForwardedAgain) {
  cluster_.Runs("b", "lights", 3);
  const auto reply = Call({"lights", "set", "{}", 1});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(reply.status().message(), "service lights is not running on here any more");
  EXPECT_TRUE(remote_.calls.empty());
}

TEST_F(ServiceRouterTest, NoLiveOwnerIsNotFound) {
  cluster_.Runs("d", "lights", 9, PeerState::kDead);
  const auto reply = Call({"lights", "set", "{}", 0});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(reply.status().message(), "service lights is not running on any live node");
}

TEST_F(ServiceRouterTest, AnOwnerThatDoesNotAnswerIsAFailedPreconditionNamingIt) {
  cluster_.Runs("b", "lights", 3);
  const std::string address = cluster_.view.peers[0].identity.address;
  for (absl::Status silence :
       {absl::UnavailableError("connection refused"), absl::DeadlineExceededError("late")}) {
    remote_.answer = silence;
    const auto reply = Call({"lights", "set", "{}", 0});
    EXPECT_EQ(reply.status().code(), absl::StatusCode::kFailedPrecondition) << silence;
    EXPECT_EQ(reply.status().message(), "node b (" + address + "), which runs lights, did not "
                                        "answer: " + std::string(silence.message()));
  }
  // The owner's own refusal is passed on as it is.
  remote_.answer = absl::InvalidArgumentError("lights set: no such light");
  EXPECT_EQ(Call({"lights", "set", "{}", 0}).status(),
            absl::InvalidArgumentError("lights set: no such light"));
}

TEST_F(ServiceRouterTest, WhileStoppingACallThatCannotStartSaysSo) {
  cluster_.Runs("b", "lights", 3);
  remote_.stopping = true;
  EXPECT_EQ(Call({"lights", "set", "{}", 0}).status(),
            absl::UnavailableError("the node is shutting down"));
}

TEST_F(ServiceRouterTest, BadNamesAndArgumentsAreRefusedBeforeAnyNodeSeesThem) {
  cluster_.Runs("b", "lights", 3);
  EXPECT_EQ(Call({"Lights!", "set", "{}", 0}).status(),
            absl::InvalidArgumentError("not a service name: Lights!"));
  EXPECT_EQ(Call({"lights", "set", "{not json", 0}).status(),
            absl::InvalidArgumentError("the arguments are not a JSON document"));
  const auto big = Call({"lights", "set", std::string(kMaxArgsBytes + 1, ' '), 0});
  EXPECT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(big.status().message().find("over the limit of 1048576 (1 MiB)"),
            absl::string_view::npos)
      << big.status();
  EXPECT_TRUE(remote_.calls.empty());
  // Empty arguments are an empty object.
  ASSERT_TRUE(Call({"lights", "set", "", 0}).ok());
  EXPECT_EQ(remote_.calls.back().call.args_json, "{}");
}

}  // namespace
}  // namespace domian::routing
