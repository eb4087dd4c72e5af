#include "plugins/speaker/speaker_service.h"

#include <domian/plugin_json.hpp>

#include <algorithm>

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
    } else {
      config.Fail(key, "is not a speaker setting (pcm, buffer_ms, max_queue)");
    }
  }
  return parsed;
}

SpeakerService::SpeakerService(sdk::Host host, std::string_view config_json)
    : host_(host), config_(SpeakerConfig::Parse(config_json)) {}

SpeakerService::~SpeakerService() { Stop(); }

void SpeakerService::Start() {
  if (player_) return;
  PcmOutput::RouteAlsaMessages([host = host_](const std::string& line) { host.Warn(line); });
  player_ = std::make_unique<Player>(config_.pcm, config_.buffer_ms, config_.max_queue,
                                     [host = host_](const std::string& line) { host.Warn(line); });
}

void SpeakerService::Stop() {
  if (!player_) return;
  player_->Shutdown();
  player_.reset();
  PcmOutput::RouteAlsaMessages(nullptr);
}

void SpeakerService::Enqueue(Item item) {
  if (!player_->Enqueue(std::move(item))) {
    throw sdk::Error(DOMIAN_ERR_UNAVAILABLE, "the queue is full (" +
                                                 std::to_string(config_.max_queue) +
                                                 " items); try again, or stop");
  }
}

std::string SpeakerService::Invoke(std::string_view command, std::string_view args_json) {
  const json args = sdk::ParseArgs(args_json);
  if (command == "tone") {
    const double frequency = NumberArg(args, "frequency_hz", 20, 20000, 440);
    const double duration_ms = NumberArg(args, "duration_ms", 1, kMaxItemSeconds * 1000.0, 1000);
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
      item = LoadSoundFile(file->get<std::string>(), kMaxItemFrames);
    } catch (const std::runtime_error& e) {
      throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, e.what());
    }
    Enqueue(std::move(item));
    return json{{"queued", true}}.dump();
  }
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
                  {"buffer_frames", status.buffer_frames},
                  {"last_error", status.last_error}};
    if (status.format) {
      reply["format"] = {{"rate", status.format->rate}, {"channels", status.format->channels}};
    }
    return reply.dump();
  }
  throw sdk::Error(DOMIAN_ERR_UNKNOWN_COMMAND,
                   "unknown command \"" + std::string(command) + "\" (tone, play, stop, status)");
}

std::optional<std::string> SpeakerService::CheckHealth() {
  if (!player_) return std::nullopt;
  const PlayerStatus status = player_->Status();
  if (!status.last_error.empty()) return status.last_error;
  return std::nullopt;
}

}  // namespace domian::speaker
