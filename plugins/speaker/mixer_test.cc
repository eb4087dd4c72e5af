// Mixer against a fake card's controls: an ALSA external control plugin
// (tests/support/alsa/) loaded by the real alsa-lib through
// ALSA_CONFIG_PATH, whose values live in a file the test reads.
#include "plugins/speaker/mixer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/alsa/alsa_test_config.h"
#include "tests/support/cluster.h"

namespace domian::speaker {
namespace {

using ::testing::HasSubstr;

class FakeCard : public ::testing::Test {
 protected:
  void SetUp() override {
    alsa_.UseInThisProcess();
  }

  // The fake card's raw values of `control`, as it stored them.
  std::string Stored(const std::string& control) {
    return testing::StoredMixerValue(alsa_.mixer_state(), control);
  }

  static MixerConfig Element(std::string name) {
    return MixerConfig{.card = "domian_test_mixer", .element = std::move(name)};
  }

  testing::TempDir dir_{"domian-mixer-test"};
  testing::AlsaTestConfig alsa_{dir_.path()};
};

TEST_F(FakeCard, PercentOnADbElementFollowsAlsamixersScale) {
  Mixer master(Element("Master"));
  for (const double percent : {0.0, 10.0, 25.0, 50.0, 75.0, 100.0}) {
    master.SetPercent(percent);
    const VolumeReading reading = master.Read();
    EXPECT_NEAR(reading.percent, percent, 1.5) << "asked " << percent;
    ASSERT_TRUE(reading.db.has_value());
    EXPECT_EQ(reading.raw_min, 0);
    EXPECT_EQ(reading.raw_max, 87);
  }
  // 100 % is 0 dB, 0 % the bottom of the range (-65.25 dB).
  master.SetPercent(100);
  EXPECT_DOUBLE_EQ(*master.Read().db, 0.0);
  EXPECT_EQ(Stored("Master Playback Volume"), "87,87");
  master.SetPercent(0);
  EXPECT_DOUBLE_EQ(*master.Read().db, -65.25);
  EXPECT_EQ(Stored("Master Playback Volume"), "0,0");
  // Half on alsamixer's perceptual scale is about -16 dB, not half the
  // raw range (-32 dB, which sounds far quieter).
  master.SetPercent(50);
  EXPECT_NEAR(*master.Read().db, -16.0, 0.75);
}

TEST_F(FakeCard, ANarrowDbRangeIsLinearInDb) {
  // -24..0 dB: alsamixer shows a span this small linearly.
  Mixer pcm(Element("PCM"));
  pcm.SetPercent(50);
  const VolumeReading reading = pcm.Read();
  EXPECT_DOUBLE_EQ(*reading.db, -12.0);
  EXPECT_EQ(reading.raw, 48);
  EXPECT_DOUBLE_EQ(reading.percent, 50.0);
  EXPECT_FALSE(reading.muted.has_value());
}

TEST_F(FakeCard, ADbRangeThatBottomsOutInMuteUsesThePlainCurve) {
  // An HDA codec's scale whose lowest step is "mute", not -63 dB.
  Mixer headphone(Element("Headphone"));
  headphone.SetPercent(50);
  VolumeReading reading = headphone.Read();
  EXPECT_DOUBLE_EQ(*reading.db, -18.0) << "10^(-18/60) is about half";
  EXPECT_NEAR(reading.percent, 50, 0.5);
  headphone.SetPercent(0);
  reading = headphone.Read();
  EXPECT_EQ(reading.raw, 0);
  EXPECT_DOUBLE_EQ(reading.percent, 0.0);
  headphone.SetPercent(100);
  EXPECT_EQ(headphone.Read().raw, 63);
  ASSERT_TRUE(reading.muted.has_value());
}

TEST_F(FakeCard, ValuesPersistAndMutingUsesTheSwitch) {
  {
    Mixer master(Element("Master"));
    master.SetPercent(40);
    master.SetMuted(true);
  }
  Mixer again(Element("Master"));
  const VolumeReading reading = again.Read();
  EXPECT_NEAR(reading.percent, 40, 1.5);
  ASSERT_TRUE(reading.muted.has_value());
  EXPECT_TRUE(*reading.muted);
  EXPECT_EQ(Stored("Master Playback Switch"), "0,0");
  again.SetMuted(false);
  EXPECT_FALSE(*again.Read().muted);
  EXPECT_EQ(Stored("Master Playback Switch"), "1,1");
}

TEST_F(FakeCard, AnElementWithoutDbOrSwitchUsesTheRawRange) {
  Mixer digital(Element("Digital"));
  digital.SetPercent(50);
  VolumeReading reading = digital.Read();
  EXPECT_FALSE(reading.db.has_value());
  EXPECT_FALSE(reading.muted.has_value());
  EXPECT_EQ(reading.raw_max, 255);
  EXPECT_EQ(reading.raw, 128);
  EXPECT_EQ(Stored("Digital Playback Volume"), "128,128");
  EXPECT_NEAR(reading.percent, 50, 0.3);
  digital.SetPercent(100);
  EXPECT_EQ(digital.Read().raw, 255);
  try {
    digital.SetMuted(true);
    FAIL() << "muted an element without a switch";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("\"Digital\" on \"domian_test_mixer\" has no playback switch"));
  }
}

TEST_F(FakeCard, MissingThingsAreClearErrors) {
  try {
    Mixer nope(Element("Nope"));
    FAIL() << "found an element the card does not have";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("mixer element \"Nope\" on \"domian_test_mixer\" not found"));
    EXPECT_THAT(e.what(), HasSubstr("Master"));
    EXPECT_THAT(e.what(), HasSubstr("Digital"));
  }
  try {
    Mixer mic(Element("Mic"));
    FAIL() << "took a capture-only element for volume";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("\"Mic\" on \"domian_test_mixer\" has no playback volume"));
  }
  try {
    Mixer absent(MixerConfig{.card = "domian_no_such_card", .element = "Master"});
    FAIL() << "opened a card that does not exist";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot open the mixer of \"domian_no_such_card\""));
  }
}

}  // namespace
}  // namespace domian::speaker
