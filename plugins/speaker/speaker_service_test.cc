// SpeakerService as Home Assistant sees it, on the ALSA stand-ins
// (tests/support/alsa/): the description the core reads, the volume state
// published at start and on change, and the commands it maps.
#include "plugins/testing/entity_description.h"
#include "plugins/speaker/speaker_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "plugins/testing/recording_host.h"
#include "tests/support/alsa/alsa_test_config.h"
#include "tests/support/cluster.h"

namespace domian::speaker {
namespace {

using namespace std::chrono_literals;
using domian::testing::EntityIn;
using nlohmann::json;

static_assert(sdk::detail::HasEntities<SpeakerService>, "offers domian.entities/1");

class SpeakerEntities : public ::testing::Test {
 protected:
  void SetUp() override { alsa_.UseInThisProcess(); }

  std::unique_ptr<SpeakerService> Make(bool mixer = true) {
    json config = {{"pcm", "domian_test_wav"}};
    if (mixer) config["mixer"] = {{"card", "domian_test_mixer"}, {"element", "Master"}};
    return std::make_unique<SpeakerService>(sdk::Host(&host_.table), config.dump());
  }

  testing::TempDir dir_{"domian-speaker-service-test"};
  testing::AlsaTestConfig alsa_{dir_.path()};
  testing::RecordingHost host_{dir_.path().string(), "speaker"};
};

TEST_F(SpeakerEntities, DescribesSayVolumeAndStopAndPublishesTheVolume) {
  auto service = Make();
  service->Start();
  const json description = json::parse(service->DescribeEntities());
  ASSERT_EQ(description["entities"].size(), 3u) << description.dump();
  const json* say = EntityIn(description, "say");
  ASSERT_NE(say, nullptr);
  EXPECT_EQ((*say)["platform"], "notify");
  EXPECT_EQ((*say)["commands"]["command_topic"],
            json({{"command", "say"}, {"arg", "text"}, {"as", "text"}}));
  const json* volume = EntityIn(description, "volume");
  ASSERT_NE(volume, nullptr);
  EXPECT_EQ((*volume)["platform"], "number");
  EXPECT_EQ((*volume)["config"]["min"], 0);
  EXPECT_EQ((*volume)["config"]["max"], 100);
  EXPECT_EQ((*volume)["states"], json({{"state_topic", "volume"}}));
  EXPECT_EQ((*volume)["commands"]["command_topic"],
            json({{"command", "volume"}, {"arg", "percent"}, {"as", "number"}}));
  const json* stop = EntityIn(description, "stop");
  ASSERT_NE(stop, nullptr);
  EXPECT_EQ((*stop)["platform"], "button");
  EXPECT_EQ((*stop)["commands"]["command_topic"], json({{"command", "stop"}}));
  for (const json& entity : description["entities"]) {
    for (const auto& [key, value] : entity["config"].items()) {
      EXPECT_FALSE(key.size() >= 6 && key.substr(key.size() - 6) == "_topic") << key;
    }
    for (const auto& [key, state] : entity["states"].items()) {
      EXPECT_TRUE(host_.Latest(entity["id"], state).has_value())
          << entity["id"] << " " << state.get<std::string>() << " not published at start";
    }
  }

  // The core's invoke for a number payload "30"; twice, as QoS 1 may.
  service->Invoke("volume", json({{"percent", 30}}).dump());
  service->Invoke("volume", json({{"percent", 30}}).dump());
  const auto published = host_.Latest("volume", "volume");
  ASSERT_TRUE(published);
  EXPECT_NEAR(std::stod(*published), 30, 1.5);
  const int count = host_.PublishCount("volume", "volume");
  EXPECT_FALSE(service->CheckHealth().has_value());
  EXPECT_EQ(host_.PublishCount("volume", "volume"), count) << "unchanged: not published again";

  // The button's press: stop, with no arguments.
  EXPECT_EQ(json::parse(service->Invoke("stop", "{}"))["stopped"], true);
  service->Stop();
}

TEST_F(SpeakerEntities, WithoutAMixerThereIsNoVolume) {
  auto service = Make(/*mixer=*/false);
  service->Start();
  const json description = json::parse(service->DescribeEntities());
  EXPECT_EQ(EntityIn(description, "volume"), nullptr);
  EXPECT_NE(EntityIn(description, "say"), nullptr);
  EXPECT_FALSE(host_.Latest("volume", "volume").has_value());
  service->Stop();
}

}  // namespace
}  // namespace domian::speaker
