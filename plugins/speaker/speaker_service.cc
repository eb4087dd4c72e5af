#include "plugins/speaker/speaker_service.h"

#include <domian/plugin_json.hpp>

#include <algorithm>
#include <cmath>

namespace domian::speaker {
namespace {

using nlohmann::json;

// A number argument from `low` to `high`, `fallback` when absent.
double NumberArg(const json& args, const char* key, double low, double high, double fallback) {
  const auto it = args.find(key);
  if (it == args.end()) return fallback;
  if (!it->is_number() || it->get<double>() < low || it->get<double>() > high) {
    throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, std::string(key) + " must be a number from " +
                                                      sdk::ShownNumber(low) + " to " +
                                                      sdk::ShownNumber(high));
  }
  return it->get<double>();
}

// `mixer: {card: hw:1, element: PCM, index: 0}`; card defaults to "default".
MixerConfig ParseMixer(const sdk::ConfigReader& config, const json& value) {
  if (!value.is_object()) config.Fail("mixer", "must be a mapping with card and element");
  MixerConfig mixer;
  for (const auto& [key, item] : value.items()) {
    const std::string name = "mixer." + key;
    if (key == "card" || key == "element") {
      if (!item.is_string() || item.get<std::string>().empty()) {
        config.Fail(name, "must be a non-empty string, not " + item.dump());
      }
      (key == "card" ? mixer.card : mixer.element) = item.get<std::string>();
    } else if (key == "index") {
      if (!item.is_number_unsigned() || item.get<uint64_t>() > kMaxMixerIndex) {
        config.Fail(name, "must be a whole number from 0 to " + std::to_string(kMaxMixerIndex));
      }
      mixer.index = item.get<unsigned>();
    } else {
      config.Fail(name, "is not a mixer setting (card, element, index)");
    }
  }
  if (mixer.element.empty()) config.Fail("mixer.element", "is missing (\"Master\", \"PCM\"...: see amixer scontrols)");
  return mixer;
}

json VolumeJson(const MixerConfig& config, const VolumeReading& reading) {
  json reply = {{"card", config.card},
                {"element", config.element},
                {"percent", reading.percent},
                {"scale", reading.db ? "dB" : "raw"},
                {"raw", reading.raw},
                {"raw_range", {reading.raw_min, reading.raw_max}}};
  if (reading.db) reply["db"] = *reading.db;
  if (reading.muted) reply["muted"] = *reading.muted;
  return reply;
}

}  // namespace

SpeakerConfig SpeakerConfig::Parse(std::string_view text) {
  const sdk::ConfigReader config("speaker", text);
  SpeakerConfig parsed;
  for (const auto& [key, value] : config.json().items()) {
    if (key == "pcm") {
      parsed.pcm = config.String(key);
    } else if (key == "buffer_ms") {
      parsed.buffer_ms = static_cast<unsigned>(config.Integer(key, kMinBufferMs, kMaxBufferMs));
    } else if (key == "max_queue") {
      parsed.max_queue = static_cast<size_t>(config.Integer(key, 1, kMaxMaxQueue));
    } else if (key == "voice") {
      parsed.voice = config.String(key);
    } else if (key == "mixer") {
      parsed.mixer = ParseMixer(config, value);
    } else {
      config.Fail(key, "is not a speaker setting (pcm, mixer, buffer_ms, max_queue, voice)");
    }
  }
  return parsed;
}

SpeakerService::SpeakerService(sdk::Host host, std::string_view config_json)
    : host_(host), config_(SpeakerConfig::Parse(config_json)) {}

SpeakerService::~SpeakerService() { Stop(); }

void SpeakerService::Start() {
  if (player_) return;
  // First, so that ALSA's messages from the checks below reach the log.
  PcmOutput::RouteAlsaMessages([host = host_](const std::string& line) { host.Warn(line); });
  try {
    CheckVoice(config_.voice);
    speech_problem_.clear();
  } catch (const SpeechUnavailable& e) {
    // Tones and files still play; `say` answers with this.
    speech_problem_ = e.what();
    host_.Warn(std::string("say will not work: ") + e.what());
  } catch (const std::runtime_error& e) {
    PcmOutput::RouteAlsaMessages(nullptr);
    throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, std::string("speaker config: 'voice' ") + e.what());
  }
  if (config_.mixer) {
    // Not fatal (the card may be plugged in later), but worth saying now.
    try {
      Mixer check(*config_.mixer);
    } catch (const std::runtime_error& e) {
      host_.Warn(std::string("volume will not work until this is fixed: ") + e.what());
    }
  }
  player_ = std::make_unique<Player>(config_.pcm, config_.buffer_ms, config_.max_queue,
                                     [host = host_](const std::string& line) { host.Warn(line); });
  published_volume_.clear();  // a new instance's host has none yet
  PublishVolumeFromMixer();
}

std::string SpeakerService::DescribeEntities() {
  json entities = json::array();
  entities.push_back({{"id", kSayEntity},
                      {"platform", "notify"},
                      {"name", "Say"},
                      {"config", json::object()},
                      {"states", json::object()},
                      {"commands",
                       {{"command_topic", {{"command", "say"}, {"arg", "text"}, {"as", "text"}}}}}});
  // MQTT has no media player: the volume is a number, only with a mixer.
  if (config_.mixer) {
    entities.push_back(
        {{"id", kVolumeEntity},
         {"platform", "number"},
         {"name", "Volume"},
         {"config", {{"min", 0}, {"max", 100}, {"step", 1}, {"unit_of_measurement", "%"}, {"mode", "slider"}}},
         {"states", {{"state_topic", kVolumeState}}},
         {"commands",
          {{"command_topic", {{"command", "volume"}, {"arg", "percent"}, {"as", "number"}}}}}});
  }
  entities.push_back({{"id", kStopEntity},
                      {"platform", "button"},
                      {"name", "Stop"},
                      {"config", json::object()},
                      {"states", json::object()},
                      {"commands", {{"command_topic", {{"command", "stop"}}}}}});
  return json{{"entities", entities}}.dump();
}

void SpeakerService::PublishVolume(const VolumeReading& reading) {
  // Whole percent, as the number entity steps.
  const std::string value = std::to_string(std::lround(reading.percent));
  if (value == published_volume_) return;
  if (host_.PublishEntityState(kVolumeEntity, kVolumeState, value)) published_volume_ = value;
}

void SpeakerService::PublishVolumeFromMixer() {
  if (!config_.mixer) return;
  try {
    PublishVolume(Mixer(*config_.mixer).Read());
  } catch (const std::runtime_error&) {
    // Said at start and by `volume`; published once the card answers.
  }
}

void SpeakerService::Stop() {
  if (!player_) return;
  player_->Shutdown();
  player_.reset();
  PcmOutput::RouteAlsaMessages(nullptr);
}

void SpeakerService::Enqueue(Item item) {
  switch (player_->Enqueue(std::move(item))) {
    case Player::Refusal::kNone:
      return;
    case Player::Refusal::kQueueFull:
      throw sdk::Error(DOMIAN_ERR_UNAVAILABLE, "the queue is full (" +
                                                   std::to_string(config_.max_queue) +
                                                   " items); try again, or stop");
    case Player::Refusal::kTooMuchAudio:
      throw sdk::Error(DOMIAN_ERR_UNAVAILABLE,
                       "the queue holds " + std::to_string(kMaxQueuedBytes >> 20) +
                           " MiB of tones and speech already; try again, or stop");
  }
}

std::string SpeakerService::Invoke(std::string_view command, std::string_view args_json) {
  const json args = sdk::ParseArgs(args_json);
  // A call may reach an instance that is not started, or no longer is.
  if (!player_) throw sdk::Error(DOMIAN_ERR_UNAVAILABLE, "the speaker is not running");
  if (command == "tone") {
    const double frequency = NumberArg(args, "frequency_hz", 20, 20000, 440);
    const double duration_ms = NumberArg(args, "duration_ms", 1, kMaxToneSeconds * 1000.0, 1000);
    const double level = NumberArg(args, "level", 0, 1, 0.5);
    Enqueue(Item{"tone " + sdk::ShownNumber(frequency) + " Hz " + sdk::ShownNumber(duration_ms) + " ms",
                 kToneFormat, Tone(kToneFormat, frequency, duration_ms / 1000.0, level)});
    return json{{"queued", true}}.dump();
  }
  if (command == "play") {
    const auto file = args.find("file");
    if (file == args.end() || !file->is_string() || file->get<std::string>().empty()) {
      throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, "play takes {\"file\": \"/path/to/sound\"}");
    }
    Item item;
    try {
      item = OpenSoundFile(file->get<std::string>(), kMaxFileSeconds);
    } catch (const std::runtime_error& e) {
      throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, e.what());
    }
    Enqueue(std::move(item));
    return json{{"queued", true}}.dump();
  }
  if (command == "say") {
    const auto text = args.find("text");
    if (text == args.end() || !text->is_string() || text->get<std::string>().empty()) {
      throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, "say takes {\"text\": \"what to say\"}");
    }
    std::string voice = config_.voice;
    if (const auto it = args.find("voice"); it != args.end()) {
      if (!it->is_string() || it->get<std::string>().empty()) {
        throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, "voice must be a non-empty string");
      }
      voice = it->get<std::string>();
    }
    if (!speech_problem_.empty()) {
      throw sdk::Error(DOMIAN_ERR_UNAVAILABLE, "cannot say it: " + speech_problem_);
    }
    Item item;
    try {
      item = Speak(text->get<std::string>(), voice, kMaxSpeechFrames);
    } catch (const SpeechUnavailable& e) {
      throw sdk::Error(DOMIAN_ERR_UNAVAILABLE, std::string("cannot say it: ") + e.what());
    } catch (const std::runtime_error& e) {
      throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, std::string("cannot say it: ") + e.what());
    }
    Enqueue(std::move(item));
    return json{{"queued", true}}.dump();
  }
  if (command == "volume") return Volume(args);
  if (command == "stop") {
    player_->Stop();
    return json{{"stopped", true}}.dump();
  }
  if (command == "status") {
    const PlayerStatus status = player_->Status();
    json reply = {{"device", status.device},
                  {"playing", status.playing},
                  {"queue", status.queue},
                  {"played", status.played},
                  {"underruns_recovered", status.underruns},
                  {"suspends_recovered", status.suspends},
                  {"reopens", status.reopens},
                  {"last_error", status.last_error}};
    if (status.format) {
      reply["source_format"] = {{"rate", status.format->rate}, {"channels", status.format->channels}};
    }
    if (const auto& granted = status.negotiated) {
      reply["format"] = {{"pcm", granted->pcm},
                         {"sample", granted->sample_format},
                         {"rate", granted->rate},
                         {"channels", granted->channels},
                         {"buffer_frames", granted->buffer_frames},
                         {"period_frames", granted->period_frames}};
    }
    return reply.dump();
  }
  throw sdk::Error(DOMIAN_ERR_UNKNOWN_COMMAND,
                   "unknown command \"" + std::string(command) +
                       "\" (tone, play, say, stop, volume, status)");
}

std::string SpeakerService::Volume(const json& args) {
  if (!config_.mixer) {
    throw sdk::Error(DOMIAN_ERR_FAILED,
                     "no mixer is configured: set speaker config mixer: {card: ..., element: ...}");
  }
  const auto percent = args.find("percent");
  const auto muted = args.find("muted");
  if (percent != args.end() && (!percent->is_number() || percent->get<double>() < 0 ||
                                percent->get<double>() > 100)) {
    throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, "percent must be a number from 0 to 100");
  }
  if (muted != args.end() && !muted->is_boolean()) {
    throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, "muted must be true or false");
  }
  try {
    Mixer mixer(*config_.mixer);
    // Refused before anything changes: no half-applied request.
    if (muted != args.end() && muted->get<bool>() && !mixer.has_switch()) mixer.SetMuted(true);
    if (percent != args.end()) mixer.SetPercent(percent->get<double>());
    if (muted != args.end()) mixer.SetMuted(muted->get<bool>());
    const VolumeReading reading = mixer.Read();
    PublishVolume(reading);
    return VolumeJson(*config_.mixer, reading).dump();
  } catch (const MixerUnavailable& e) {
    throw sdk::Error(DOMIAN_ERR_UNAVAILABLE, e.what());
  } catch (const std::runtime_error& e) {  // the element does not fit the request
    throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, e.what());
  }
}

std::optional<std::string> SpeakerService::CheckHealth() {
  if (!player_) return std::nullopt;
  // The health check comes every few seconds: a volume changed outside
  // (alsamixer, another program) reaches Home Assistant with it.
  PublishVolumeFromMixer();
  const PlayerStatus status = player_->Status();
  if (!status.problem.empty()) return status.problem;
  return std::nullopt;
}

}  // namespace domian::speaker
