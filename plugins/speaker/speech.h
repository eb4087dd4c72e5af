// Speech: text to samples through the espeak-ng library, for announcements
// ("the front door is open"). espeak-ng keeps its state in process-wide
// globals (the voice, the synthesis callback), so every use is serialised
// behind one mutex and the library is initialised once per process and
// never terminated: a plugin may be stopped and started again in the same
// host.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "plugins/speaker/player.h"

namespace domian::speaker {

inline constexpr std::string_view kDefaultVoice = "en";
// Longest text taken by `say`, in bytes of UTF-8: a few sentences.
inline constexpr size_t kMaxSpeechBytes = 2000;

// Checks that espeak-ng loads and knows `voice`; throws
// std::runtime_error naming the voice and espeak-ng's reason.
void CheckVoice(const std::string& voice);

// `text` (UTF-8) spoken in `voice`, mono at espeak-ng's own rate (ALSA's
// plug layer converts it for the device). Throws std::runtime_error when
// espeak-ng fails, or when the speech would run past `max_frames`.
Item Speak(std::string_view text, const std::string& voice, size_t max_frames);

}  // namespace domian::speaker
