// Validation of received identity lists, field by field.
#include "core/membership/wire_limits.h"

#include <gtest/gtest.h>

#include <functional>

#include "core/model/values.h"

namespace domian::membership {
namespace {

using absl::StatusCode;

IdentityEntry Row(const std::string& id) {
  IdentityEntry row;
  row.id = id;
  row.counters = {1, 1};
  row.revision = 1;
  row.identity = Identity{id, "home", "1.0.0", "127.0.0.1:7420", {}, {}, {}, kProtocolVersion};
  return row;
}

IdentityListMessage Message() {
  IdentityListMessage message;
  message.sender = Row("sender");
  message.identity_list = {Row("x"), Row("y")};
  message.identity_list[1].identity.reset();  // a digest row
  return message;
}

TEST(ValidateIdentityList, AcceptsAWellFormedMessage) {
  EXPECT_TRUE(ValidateIdentityList(Message(), "home", WireLimits{}).ok());
}

TEST(ValidateIdentityList, AcceptsAServiceBeingHandedOver) {
  auto message = Message();
  message.sender.identity->services = {{"s", "handing-over", "", 4, "", "node-b", 5}};
  EXPECT_TRUE(ValidateIdentityList(message, "home", WireLimits{}).ok());
}

TEST(ValidateIdentityList, NamesTheOffendingRowAndField) {
  auto message = Message();
  message.identity_list[0].identity->address = "nowhere";
  const auto refusal = ValidateIdentityList(message, "home", WireLimits{});
  ASSERT_FALSE(refusal.ok());
  EXPECT_EQ(refusal.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(StatusMessage(refusal).find("identity_list[0]"), std::string::npos)
      << StatusMessage(refusal);
  EXPECT_NE(StatusMessage(refusal).find("'nowhere'"), std::string::npos) << StatusMessage(refusal);
}

TEST(ValidateIdentityList, RefusesEachKindOfBadRow) {
  struct Case {
    const char* name;
    void (*spoil)(IdentityListMessage&);
    StatusCode kind;
  };
  const Case cases[] = {
      {"no sender identity", [](auto& m) { m.sender.identity.reset(); },
       StatusCode::kInvalidArgument},
      {"identity id differs", [](auto& m) { m.identity_list[0].identity->id = "z"; },
       StatusCode::kInvalidArgument},
      {"wrong cluster", [](auto& m) { m.sender.identity->cluster = "other"; },
       StatusCode::kFailedPrecondition},
      {"bad version", [](auto& m) { m.identity_list[0].identity->version = "1.x"; },
       StatusCode::kInvalidArgument},
      {"no protocol", [](auto& m) { m.sender.identity->protocol = 0; },
       StatusCode::kInvalidArgument},
      {"identity with revision 0", [](auto& m) { m.identity_list[0].revision = 0; },
       StatusCode::kInvalidArgument},
      {"empty id", [](auto& m) { m.identity_list[1].id = ""; }, StatusCode::kInvalidArgument},
      {"sender repeated in list", [](auto& m) { m.identity_list[1].id = "sender"; },
       StatusCode::kInvalidArgument},
      {"too many traits", [](auto& m) { m.sender.identity->traits.assign(65, "t"); },
       StatusCode::kResourceExhausted},
      {"long trait", [](auto& m) { m.sender.identity->traits = {std::string(257, 't')}; },
       StatusCode::kInvalidArgument},
      {"nameless service",
       [](auto& m) { m.sender.identity->services = {{"", "running", "", 1}}; },
       StatusCode::kInvalidArgument},
      {"hand-over to no node id",
       [](auto& m) {
         m.sender.identity->services = {{"s", "handing-over", "", 1, "", "b c\n", 2}};
       },
       StatusCode::kInvalidArgument},
  };
  for (const Case& c : cases) {
    auto message = Message();
    c.spoil(message);
    const auto refusal = ValidateIdentityList(message, "home", WireLimits{});
    ASSERT_FALSE(refusal.ok()) << c.name;
    EXPECT_EQ(refusal.code(), c.kind) << c.name << ": " << StatusMessage(refusal);
  }
}

TEST(ValidateIdentityList, ChecksEveryOffer) {
  const Offer good{.service = "lights", .run = "prefer", .weight = 10, .listed = true,
                   .has_plugin = true, .placement = "singleton", .traits = {"hue"},
                   .depends = {"net"}, .gave_up = false, .config_json = "{}"};
  auto with = [&](const std::function<void(Offer&)>& spoil) {
    auto message = Message();
    Offer offer = good;
    spoil(offer);
    message.sender.identity->offers = {offer};
    return ValidateIdentityList(message, "home", WireLimits{});
  };
  EXPECT_TRUE(with([](Offer&) {}).ok());
  EXPECT_TRUE(with([](Offer& o) {
                o.gave_up = true;
                o.gave_up_detail = BoundedDetail(std::string(300, 'x'));
              }).ok());
  struct Case {
    std::function<void(Offer&)> spoil;
    StatusCode kind;
    const char* says;
  };
  const std::vector<Case> cases = {
      {[](Offer& o) { o.service = "Lights"; }, StatusCode::kInvalidArgument, "not a valid service"},
      {[](Offer& o) { o.run = "often"; }, StatusCode::kInvalidArgument, "is not a run mode"},
      {[](Offer& o) { o.weight = kMaxWeight + 1; }, StatusCode::kInvalidArgument, "out of range"},
      {[](Offer& o) { o.placement = "everywhere"; }, StatusCode::kInvalidArgument, "placement"},
      {[](Offer& o) { o.has_plugin = false; }, StatusCode::kInvalidArgument, "has_plugin"},
      {[](Offer& o) { o.depends = {"Bad Name"}; }, StatusCode::kInvalidArgument, "dependency"},
      {[](Offer& o) { o.listed = false; }, StatusCode::kInvalidArgument, "not listed"},
      {[](Offer& o) { o.config_json = std::string(5000, ' '); }, StatusCode::kResourceExhausted,
       "config is 5000 bytes"},
      {[](Offer& o) { o.traits.assign(65, "t"); }, StatusCode::kResourceExhausted, "traits"},
      {[](Offer& o) {
         o.gave_up = true;
         o.gave_up_detail = std::string(300, 'x');
       },
       StatusCode::kInvalidArgument, "gave-up detail is 300 bytes"},
      {[](Offer& o) { o.gave_up_detail = "it crashed"; }, StatusCode::kInvalidArgument,
       "carries a gave-up detail but did not give up"},
  };
  for (const Case& c : cases) {
    const auto refusal = with(c.spoil);
    ASSERT_FALSE(refusal.ok()) << c.says;
    EXPECT_EQ(refusal.code(), c.kind) << StatusMessage(refusal);
    EXPECT_NE(StatusMessage(refusal).find(c.says), std::string::npos) << StatusMessage(refusal);
  }
  auto message = Message();
  message.sender.identity->offers = {good, good};
  const auto twice = ValidateIdentityList(message, "home", WireLimits{});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(StatusMessage(twice).find("appears twice"), std::string::npos) << StatusMessage(twice);
}

TEST(BoundedDetail, CutsAtACharacterBoundaryAndPassesTheWireCheck) {
  EXPECT_EQ(BoundedDetail("bridge unreachable"), "bridge unreachable");
  // 2-byte characters, so a cut in the middle of one is likely.
  std::string long_detail;
  for (int i = 0; i < 150; ++i) long_detail += "\u00e9";  // é
  const std::string cut = BoundedDetail(long_detail);
  EXPECT_LE(cut.size(), kMaxServiceDetailBytes);
  EXPECT_EQ(cut.substr(cut.size() - 3), "...");
  const std::string kept = cut.substr(0, cut.size() - 3);
  EXPECT_EQ(kept.size() % 2, 0U) << "a character was split";
  EXPECT_EQ(kept, long_detail.substr(0, kept.size()));

  auto message = Message();
  message.sender.identity->services.push_back({"lights", "running", "", 1, cut});
  EXPECT_TRUE(ValidateIdentityList(message, "home", WireLimits{}).ok());
  message.sender.identity->services.back().detail = std::string(300, 'x');
  const auto refusal = ValidateIdentityList(message, "home", WireLimits{});
  ASSERT_FALSE(refusal.ok());
  EXPECT_NE(StatusMessage(refusal).find("service detail"), std::string::npos)
      << StatusMessage(refusal);
}

TEST(ValidateIdentityList, EnforcesTheEntryCap) {
  WireLimits limits;
  limits.max_entries = 3;
  auto message = Message();
  message.identity_list.push_back(Row("z"));
  EXPECT_TRUE(ValidateIdentityList(message, "home", limits).ok());
  message.identity_list.push_back(Row("w"));
  const auto refusal = ValidateIdentityList(message, "home", limits);
  ASSERT_FALSE(refusal.ok());
  EXPECT_EQ(refusal.code(), StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace domian::membership

namespace domian::membership {
namespace {

ProbeMessage Probe() {
  ProbeMessage probe;
  probe.cluster = "home";
  probe.sender = "kitchen";
  probe.incarnation = 3;
  probe.revision = 2;
  probe.target = "attic";
  Rumour suspicion;
  suspicion.about = "cellar";
  suspicion.kind = Rumour::Kind::kSuspect;
  suspicion.incarnation = 5;
  suspicion.from = "attic";
  Rumour join;
  join.about = "garage";
  join.kind = Rumour::Kind::kAlive;
  join.incarnation = 1;
  join.revision = 1;
  join.address = "192.168.1.30:7420";
  probe.rumours = {suspicion, join};
  return probe;
}

TEST(ValidateProbe, AcceptsProbesRelayRequestsAndPushes) {
  EXPECT_TRUE(ValidateProbe(Probe(), "home", WireLimits{}).ok());
  ProbeMessage relay = Probe();
  relay.relay = true;
  EXPECT_TRUE(ValidateProbe(relay, "home", WireLimits{}).ok());
  ProbeMessage push = Probe();
  push.target.clear();
  EXPECT_TRUE(ValidateProbe(push, "home", WireLimits{}).ok());
}

TEST(ValidateProbe, RefusesEachKindOfBadField) {
  struct Case {
    const char* name;
    void (*spoil)(ProbeMessage&);
    StatusCode kind;
    const char* says;
  };
  const Case cases[] = {
      {"other cluster", [](auto& m) { m.cluster = "office"; }, StatusCode::kFailedPrecondition,
       "is not ours"},
      {"bad sender", [](auto& m) { m.sender = "a b"; }, StatusCode::kInvalidArgument, "sender"},
      {"incarnation 0", [](auto& m) { m.incarnation = 0; }, StatusCode::kInvalidArgument,
       "out of range"},
      {"incarnation past the ceiling", [](auto& m) { m.incarnation = kMaxCounter + 1; },
       StatusCode::kInvalidArgument, "out of range"},
      {"revision past the ceiling", [](auto& m) { m.revision = kMaxCounter + 1; },
       StatusCode::kInvalidArgument, "out of range"},
      {"bad target", [](auto& m) { m.target = std::string(65, 'x'); }, StatusCode::kInvalidArgument,
       "target"},
      {"relay without target",
       [](auto& m) {
         m.relay = true;
         m.target.clear();
       },
       StatusCode::kInvalidArgument, "names no target"},
      {"too many rumours",
       [](auto& m) {
         m.rumours.clear();
         for (size_t i = 0; i <= kMaxRumoursPerMessage; ++i) {
           Rumour rumour;
           rumour.about = "m" + std::to_string(i);
           rumour.incarnation = 1;
           m.rumours.push_back(rumour);
         }
       },
       StatusCode::kResourceExhausted, "over the limit of 16"},
      {"rumour about a bad id", [](auto& m) { m.rumours[0].about = ""; },
       StatusCode::kInvalidArgument, "rumours[0]: about"},
      {"rumour at incarnation 0", [](auto& m) { m.rumours[1].incarnation = 0; },
       StatusCode::kInvalidArgument, "rumours[1]: incarnation is 0"},
      {"suspicion by nobody", [](auto& m) { m.rumours[0].from.clear(); },
       StatusCode::kInvalidArgument, "a suspicion by"},
      {"suspector on an alive rumour", [](auto& m) { m.rumours[1].from = "attic"; },
       StatusCode::kInvalidArgument, "no suspicion"},
      {"address on a death", [](auto& m) { m.rumours[1].kind = Rumour::Kind::kDead; },
       StatusCode::kInvalidArgument, "host:port of a live member"},
      {"address that is not host:port", [](auto& m) { m.rumours[1].address = "garage"; },
       StatusCode::kInvalidArgument, "host:port"},
      {"unknown kind", [](auto& m) { m.rumours[1].kind = static_cast<Rumour::Kind>(9); },
       StatusCode::kInvalidArgument, "kind 9"},
      {"two rumours about one member", [](auto& m) { m.rumours[1].about = "cellar"; },
       StatusCode::kInvalidArgument, "two rumours about 'cellar'"},
  };
  for (const Case& c : cases) {
    ProbeMessage probe = Probe();
    c.spoil(probe);
    const absl::Status refusal = ValidateProbe(probe, "home", WireLimits{});
    EXPECT_EQ(refusal.code(), c.kind) << c.name << ": " << StatusMessage(refusal);
    EXPECT_NE(StatusMessage(refusal).find(c.says), std::string::npos)
        << c.name << ": " << StatusMessage(refusal);
  }
}

}  // namespace
}  // namespace domian::membership
