// Speech through the real espeak-ng library and its installed voice data.
#include "plugins/speaker/speech.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

namespace domian::speaker {
namespace {

using ::testing::HasSubstr;

constexpr size_t kPlenty = 60 * 48000;

double Rms(const std::vector<int16_t>& samples) {
  double sum = 0;
  for (const int16_t s : samples) sum += static_cast<double>(s) * s;
  return samples.empty() ? 0 : std::sqrt(sum / static_cast<double>(samples.size()));
}

TEST(Speech, TextBecomesAudibleMonoSpeechOfAPlausibleLength) {
  const Item item = Speak("the front door is open", "en", kPlenty);
  EXPECT_EQ(item.format.channels, 1U);
  EXPECT_EQ(item.format.rate, 22050U) << "espeak-ng's own rate";
  const double seconds = static_cast<double>(item.samples.size()) / item.format.rate;
  EXPECT_GT(seconds, 0.8);
  EXPECT_LT(seconds, 5.0);
  EXPECT_GT(Rms(item.samples), 500.0) << "speech, not silence";
  EXPECT_THAT(item.what, HasSubstr("the front door is open"));
}

// espeak-ng varies its pitch a little at random, so the same text is never
// sample-for-sample the same; its length is, within a few samples.
void ExpectSameSpeech(const Item& a, const Item& b) {
  EXPECT_NEAR(static_cast<double>(a.samples.size()), static_cast<double>(b.samples.size()),
              0.01 * static_cast<double>(b.samples.size()));
  EXPECT_NEAR(Rms(a.samples), Rms(b.samples), 0.2 * Rms(b.samples));
}

TEST(Speech, IsAlikeEachTimeAndLongerTextTakesLonger) {
  const Item once = Speak("hello", "en", kPlenty);
  const Item again = Speak("hello", "en", kPlenty);
  ExpectSameSpeech(once, again);
  const Item longer = Speak("hello, the kitchen lights are on and the oven is hot", "en", kPlenty);
  EXPECT_GT(longer.samples.size(), 3 * once.samples.size());
}

TEST(Speech, OtherVoicesWorkAndUnknownOnesAreNamed) {
  EXPECT_NO_THROW(CheckVoice("de"));
  const Item german = Speak("Die Haustür ist offen", "de", kPlenty);
  EXPECT_GT(german.samples.size(), 0U);
  try {
    CheckVoice("no-such-voice");
    FAIL() << "an unknown voice was taken";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("\"no-such-voice\""));
  }
  // espeak-ng looks a name up as a path under its data folder: names that
  // would reach outside it are refused before it sees them.
  for (const char* path : {"../../../../../../etc/passwd", "/etc/passwd", "en/../../x", "a/b/c"}) {
    try {
      CheckVoice(path);
      ADD_FAILURE() << "took the voice name " << path;
    } catch (const SpeechUnavailable&) {
      ADD_FAILURE() << "a bad voice name is not espeak-ng being unavailable";
    } catch (const std::runtime_error& e) {
      EXPECT_THAT(e.what(), HasSubstr("a voice name is letters, digits")) << path;
    }
  }
  EXPECT_NO_THROW(CheckVoice("en-us+f3")) << "a voice with a variant";
  // A failed voice change leaves the library usable.
  EXPECT_GT(Speak("still here", "en", kPlenty).samples.size(), 0U);
}

TEST(Speech, LimitsAreClearErrors) {
  EXPECT_THROW(Speak(std::string(kMaxSpeechBytes + 1, 'a'), "en", kPlenty), std::runtime_error);
  try {
    Speak("this sentence is far too long for a limit of a tenth of a second", "en", 2205);
    FAIL() << "speech over the frame limit was taken";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("over the limit of 2205 frames"));
  }
}

TEST(Speech, AnExcerptOfLongTextIsCutAtACharacterBoundary) {
  // 39 ASCII bytes, then a two-byte character across the 40-byte cut.
  const Item item = Speak(std::string(39, 'a') + "\xc3\xbc and more", "en", kPlenty);
  EXPECT_EQ(item.what, "say \"" + std::string(39, 'a') + "...\"");
}

TEST(Speech, CallsFromManyThreadsAreSerialised) {
  const Item expected = Speak("one two three", "en", kPlenty);
  std::vector<std::thread> threads;
  std::vector<Item> results(4);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = Speak("one two three", "en", kPlenty); });
  }
  for (auto& t : threads) t.join();
  for (const Item& item : results) ExpectSameSpeech(item, expected);
}

}  // namespace
}  // namespace domian::speaker
