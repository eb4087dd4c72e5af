#include "plugins/speaker/speech.h"

#include <espeak-ng/espeak_ng.h>

#include <cctype>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace domian::speaker {
namespace {

// How much audio espeak-ng hands the callback at a time, in ms.
constexpr int kSynthesisChunkMs = 100;

std::mutex& SpeechMutex() {
  static std::mutex mu;
  return mu;
}

// Where the callback puts samples; set only while SpeechMutex is held.
struct Collector {
  std::vector<int16_t>* samples = nullptr;
  size_t max_frames = 0;
  bool overflowed = false;
};
Collector g_collector;

int Collect(short* wav, int count, espeak_EVENT* /*events*/) {
  if (wav == nullptr || count <= 0 || g_collector.samples == nullptr) return 0;
  if (g_collector.samples->size() + static_cast<size_t>(count) > g_collector.max_frames) {
    g_collector.overflowed = true;
    return 1;  // non-zero: espeak-ng stops synthesising
  }
  g_collector.samples->insert(g_collector.samples->end(), wav, wav + count);
  return 0;
}

// The start of `text` for status lines, cut at a UTF-8 character boundary
// (a cut inside a character would not be valid JSON text).
std::string Excerpt(std::string_view text) {
  constexpr size_t kExcerptBytes = 40;
  if (text.size() <= kExcerptBytes) return std::string(text);
  size_t cut = kExcerptBytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "...";
}

std::string Message(espeak_ng_STATUS status) {
  char text[256] = {};
  espeak_ng_GetStatusCodeMessage(status, text, sizeof text);
  return text;
}

// Loads espeak-ng's data once; later calls return the first outcome.
// Call with SpeechMutex held.
void InitialiseLocked() {
  static const std::string failure = [] {
    espeak_ng_InitializePath(nullptr);  // the data folder espeak-ng was built with
    espeak_ng_ERROR_CONTEXT context = nullptr;
    espeak_ng_STATUS status = espeak_ng_Initialize(&context);
    espeak_ng_ClearErrorContext(&context);
    if (status != ENS_OK) return "cannot load espeak-ng: " + Message(status);
    status = espeak_ng_InitializeOutput(ENOUTPUT_MODE_SYNCHRONOUS, kSynthesisChunkMs, nullptr);
    if (status != ENS_OK) return "cannot start espeak-ng: " + Message(status);
    espeak_SetSynthCallback(&Collect);
    return std::string();
  }();
  if (!failure.empty()) throw SpeechUnavailable(failure);
}

bool ValidVoiceName(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.back() == '/') return false;
  int slashes = 0;
  for (const char c : name) {
    if (c == '/') {
      ++slashes;
    } else if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '+' && c != '_') {
      return false;
    }
  }
  return slashes <= 1;
}

void SetVoiceLocked(const std::string& voice) {
  if (!ValidVoiceName(voice)) {
    throw std::runtime_error("espeak-ng voice \"" + voice +
                             "\": a voice name is letters, digits, -, + and _, with at most one /");
  }
  const espeak_ng_STATUS status = espeak_ng_SetVoiceByName(voice.c_str());
  if (status != ENS_OK) {
    throw std::runtime_error("espeak-ng voice \"" + voice + "\": " + Message(status));
  }
}

}  // namespace

void CheckVoice(const std::string& voice) {
  std::lock_guard lock(SpeechMutex());
  InitialiseLocked();
  SetVoiceLocked(voice);
}

Item Speak(std::string_view text, const std::string& voice, size_t max_frames) {
  if (text.size() > kMaxSpeechBytes) {
    throw std::runtime_error("text of " + std::to_string(text.size()) + " bytes is over the limit of " +
                             std::to_string(kMaxSpeechBytes));
  }
  std::lock_guard lock(SpeechMutex());
  InitialiseLocked();
  SetVoiceLocked(voice);
  Item item{"say \"" + Excerpt(text) + "\"",
            PcmFormat{static_cast<unsigned>(espeak_ng_GetSampleRate()), 1},
            {}};
  g_collector = Collector{&item.samples, max_frames, false};
  // Synthesize copies the text up to its terminating zero.
  const std::string terminated(text);
  const espeak_ng_STATUS status =
      espeak_ng_Synthesize(terminated.c_str(), terminated.size() + 1, 0, POS_CHARACTER, 0,
                           espeakCHARS_UTF8 | espeakENDPAUSE, nullptr, nullptr);
  const bool overflowed = g_collector.overflowed;
  g_collector = Collector{};
  if (overflowed) {
    throw std::runtime_error("speech runs over the limit of " + std::to_string(max_frames) + " frames");
  }
  if (status != ENS_OK) throw SpeechUnavailable("espeak-ng cannot speak it: " + Message(status));
  return item;
}

}  // namespace domian::speaker
