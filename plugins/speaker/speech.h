// Speech: text to samples through the espeak-ng library, for announcements
// ("the front door is open"). espeak-ng keeps its state in process-wide
// globals (the voice, the synthesis callback), so every use is serialised
// behind one mutex and the library is initialised once per process and
// never terminated: a plugin may be stopped and started again in the same
// host.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

#include "plugins/speaker/player.h"

namespace domian::speaker {

inline constexpr std::string_view kDefaultVoice = "en";
// Longest text taken by `say`, in bytes of UTF-8: a few sentences.
inline constexpr size_t kMaxSpeechBytes = 2000;

// espeak-ng itself cannot be used (its data is missing or broken): speech
// is unavailable, not misconfigured.
struct SpeechUnavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Checks that espeak-ng loads (else SpeechUnavailable) and knows `voice`
// (else std::runtime_error naming it). Voice names are letters, digits,
// '-', '+' and '_', with at most one '/' ("en", "en-us+f3", "mb/mb-en1"):
// espeak-ng looks a name up as a path under its data folder.
void CheckVoice(const std::string& voice);

// `text` (UTF-8) spoken in `voice`, mono at espeak-ng's own rate (ALSA's
// plug layer converts it for the device). Throws as CheckVoice does, and
// std::runtime_error when the speech would run past `max_frames`.
Item Speak(std::string_view text, const std::string& voice, size_t max_frames);

}  // namespace domian::speaker
