// Randomised robustness of the decode + validate + merge path: random
// bytes and randomly spoiled identity lists go through the same
// FromProto -> PeerTable::Merge path as the daemon's, with fixed seeds so
// any failure replays exactly. Run under ASan/UBSan by ./scripts/test.
//
// Invariants checked after every message:
//  - a refused message leaves the table exactly as it was;
//  - no peer's counters ever go backwards while it stays in the table;
//  - our own incarnation never goes backwards;
//  - no counter in the table, ours included, ever passes kMaxCounter;
//  - the table never exceeds its cap.
#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "core/membership/peer_table.h"
#include "core/rpc/convert.h"

namespace domian::rpc {
namespace {

constexpr int kMessages = 4000;
constexpr uint32_t kSeeds[] = {1, 2, 3, 42, 2026};

Identity MakeIdentity(const std::string& id, int port) {
  return Identity{id, "home", "0.1.0", "127.0.0.1:" + std::to_string(port), {}, {}, {},
                  kProtocolVersion};
}

using Snapshot = std::map<std::string, std::tuple<Counters, PeerState, Identity, bool>>;

Snapshot Take(const membership::PeerTable& table) {
  Snapshot out;
  for (const membership::PeerView& peer : table.Peers()) {
    out[peer.identity.id] = {peer.counters, peer.state, peer.identity, peer.left};
  }
  return out;
}

class MergeProperty : public ::testing::TestWithParam<uint32_t> {
 protected:
  void SetUp() override {
    random_.seed(GetParam());
    for (int i = 0; i < 6; ++i) {
      senders_.push_back(std::make_unique<membership::PeerTable>(
          MakeIdentity("n" + std::to_string(i), 7000 + i), 1 + static_cast<uint64_t>(i), clock_,
          config::MembershipTimings{}));
    }
  }

  uint64_t Pick(uint64_t below) {
    return std::uniform_int_distribution<uint64_t>(0, below - 1)(random_);
  }

  // Spoils a well-formed message in one of many ways (or not at all).
  void Spoil(v1::ShareIdentityListRequest& request) {
    auto* rows = request.mutable_identity_list();
    switch (Pick(13)) {
      case 0:
        request.mutable_sender()->set_incarnation(Pick(4));
        break;
      case 1:
        request.mutable_sender()->set_heartbeat(Pick(1000));
        break;
      case 2:
        if (!rows->empty()) rows->Mutable(static_cast<int>(Pick(static_cast<uint64_t>(rows->size()))))->set_state(
            static_cast<v1::PeerState>(Pick(6)));
        break;
      case 3:
        if (!rows->empty()) rows->Mutable(static_cast<int>(Pick(static_cast<uint64_t>(rows->size()))))->clear_identity();
        break;
      case 4:
        if (!rows->empty()) *rows->Add() = rows->Get(0);  // duplicate row
        break;
      case 5:
        request.mutable_sender()->mutable_identity()->set_version(Pick(2) ? "1.2" : "9.9.9");
        break;
      case 6:
        request.mutable_sender()->mutable_identity()->set_address(Pick(2) ? "x" : "127.0.0.1:1");
        break;
      case 7:
        if (!rows->empty()) {
          auto* row = rows->Mutable(static_cast<int>(Pick(static_cast<uint64_t>(rows->size()))));
          row->set_incarnation(row->incarnation() + Pick(3));
          row->set_heartbeat(Pick(2) ? 0 : row->heartbeat() + Pick(50));
          row->set_leaving(Pick(4) == 0);
        }
        break;
      case 8:
        request.mutable_sender()->mutable_identity()->set_cluster(Pick(2) ? "home" : "away");
        break;
      case 9: {
        auto* row = rows->Add();
        row->set_id("ghost-" + std::to_string(Pick(50)));
        row->set_incarnation(Pick(3));
        row->set_heartbeat(Pick(10));
        row->set_revision(Pick(2));
        if (Pick(2)) *row->mutable_identity() = ToProto(MakeIdentity(row->id(), 9000));
        break;
      }
      case 10:
        request.mutable_sender()->set_id(Pick(2) ? "target" : "n" + std::to_string(Pick(6)));
        break;
      case 11: {
        // Counters at or near the top of the range, ours or anybody's.
        const uint64_t huge = UINT64_MAX - Pick(3);
        v1::IdentityEntry* row = rows->empty() || Pick(3) == 0
                                     ? request.mutable_sender()
                                     : rows->Mutable(static_cast<int>(Pick(static_cast<uint64_t>(rows->size()))));
        if (Pick(2)) {
          row->set_incarnation(Pick(2) ? huge : kMaxCounter + Pick(2));
        } else {
          row->set_heartbeat(huge);
        }
        if (Pick(2) && !rows->empty()) rows->Mutable(0)->set_id("target");
        break;
      }
      default:
        break;  // well formed
    }
  }

  FakeClock clock_;
  std::mt19937 random_;
  std::vector<std::unique_ptr<membership::PeerTable>> senders_;
};

TEST_P(MergeProperty, InvariantsHoldForSpoiledMessages) {
  membership::PeerTable target(MakeIdentity("target", 6999), 100, clock_,
                               config::MembershipTimings{});
  std::map<std::string, Counters> highest;  // per peer, while it stays in the table
  uint64_t incarnation = target.self_counters().incarnation;
  int refused = 0, merged = 0;
  for (int i = 0; i < kMessages; ++i) {
    membership::PeerTable& sender = *senders_[Pick(senders_.size())];
    if (Pick(3) == 0) {
      clock_.Advance(std::chrono::milliseconds(Pick(400)));
      sender.Tick();
      target.Tick();
    }
    // Senders also gossip among themselves so lists carry second-hand rows.
    membership::PeerTable& other = *senders_[Pick(senders_.size())];
    if (&other != &sender) {
      other.Merge(sender.MessageFor(other.self().id), membership::MessageOrigin::Request());
      sender.Merge(other.MessageFor(sender.self().id),
                   membership::MessageOrigin::Reply(other.self().address));
    }
    v1::ShareIdentityListRequest request;
    ToProto(sender.MessageFor(Pick(2) ? "target" : ""), request);
    Spoil(request);

    const Snapshot before = Take(target);
    // As a request (a claim), or as the reply to a call the target made
    // to the sender's address (its own word, unless spoiled).
    const membership::MessageOrigin origin = Pick(2) ? membership::MessageOrigin::Request()
                                         : membership::MessageOrigin::Reply(sender.self().address);
    const membership::MergeOutcome outcome = target.Merge(FromProto(request), origin);
    const Snapshot after = Take(target);
    if (!outcome.status.ok()) {
      ++refused;
      ASSERT_EQ(before, after) << "message " << i << " was refused but changed the table: "
                               << StatusMessage(outcome.status);
    } else {
      ++merged;
    }
    for (const auto& [id, entry] : after) {
      const Counters counters = std::get<0>(entry);
      if (auto it = highest.find(id); it != highest.end()) {
        ASSERT_GE(counters, it->second) << "counters of " << id << " went back at message " << i;
      }
      highest[id] = counters;
    }
    std::erase_if(highest, [&](const auto& entry) { return !after.contains(entry.first); });
    ASSERT_GE(target.self_counters().incarnation, incarnation);
    incarnation = target.self_counters().incarnation;
    ASSERT_LE(incarnation, kMaxCounter);
    ASSERT_LE(target.self_counters().heartbeat, kMaxCounter);
    for (const auto& [id, entry] : after) {
      ASSERT_LE(std::get<0>(entry).incarnation, kMaxCounter) << id;
      ASSERT_LE(std::get<0>(entry).heartbeat, kMaxCounter) << id;
    }
    ASSERT_LE(target.size(), membership::PeerTable::kMaxPeers);
  }
  // The spoiling must exercise both paths, or the test proves little.
  EXPECT_GT(refused, kMessages / 20);
  EXPECT_GT(merged, kMessages / 4);
}

TEST_P(MergeProperty, RandomBytesNeverCrashTheDecoder) {
  membership::PeerTable target(MakeIdentity("target", 6999), 100, clock_,
                               config::MembershipTimings{});
  // A list with rows for every sender, so mutations hit every field kind.
  for (auto& other : senders_) {
    senders_[0]->Merge(other->MessageFor(""),
                       membership::MessageOrigin::Reply(other->self().address));
  }
  v1::ShareIdentityListRequest valid;
  ToProto(senders_[0]->MessageFor(""), valid);
  const std::string seed_bytes = valid.SerializeAsString();
  constexpr int kMutants = 20000;
  // Mutants with broken UTF-8 are expected; keep protobuf from logging each.
  google::protobuf::LogSilencer quiet;
  int parsed = 0;
  for (int i = 0; i < kMutants; ++i) {
    std::string bytes = seed_bytes;
    // Flip, drop or insert a byte or two of a valid message.
    for (uint64_t n = 1 + Pick(2); n > 0 && !bytes.empty(); --n) {
      const size_t at = Pick(bytes.size());
      switch (Pick(3)) {
        case 0:
          bytes[at] = static_cast<char>(Pick(256));
          break;
        case 1:
          bytes.erase(at, 1);
          break;
        default:
          bytes.insert(at, 1, static_cast<char>(Pick(256)));
      }
    }
    v1::ShareIdentityListRequest request;
    if (!request.ParseFromString(bytes)) continue;
    ++parsed;
    const Snapshot before = Take(target);
    const membership::MergeOutcome outcome =
        target.Merge(FromProto(request),
                     Pick(2) ? membership::MessageOrigin::Request()
                             : membership::MessageOrigin::Reply(senders_[0]->self().address));
    if (!outcome.status.ok()) {
      ASSERT_EQ(before, Take(target));
    }
  }
  // Most mutants fail to parse; enough must parse to reach the merge.
  EXPECT_GT(parsed, kMutants / 50);
}

INSTANTIATE_TEST_SUITE_P(Seeds, MergeProperty, ::testing::ValuesIn(kSeeds));

}  // namespace
}  // namespace domian::rpc
