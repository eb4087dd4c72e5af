// Relay: the heating relay's output, behind a narrow interface. No kernel
// in Debian 12 offers a GPIO simulator, so tests use a fake; the plugin has
// two real backends:
//
//   gpiod: libgpiod 1.6, the line found by name on a chip, requested as an
//          output once (initially off) and held until the relay is
//          destroyed; active-low relays (most relay boards) say so.
//          (The sysfs GPIO interface is broken on current Pi kernels.)
//   file:  writes "1" or "0" and a newline to a path: relays exposed some
//          other way, and the daemon-level tests.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "plugins/thermostat/config_problems.h"

struct gpiod_chip;
struct gpiod_line;

namespace domian::thermostat {

class Relay {
 public:
  virtual ~Relay() = default;
  // Throws std::runtime_error when the output cannot be set.
  virtual void Set(bool on) = 0;
  virtual std::string Describe() const = 0;
};

class FileRelay final : public Relay {
 public:
  explicit FileRelay(std::string path) : path_(std::move(path)) {}
  void Set(bool on) override;
  std::string Describe() const override { return "file " + path_; }

 private:
  std::string path_;
};

class GpiodRelay final : public Relay {
 public:
  // Throws std::runtime_error naming the chip or line that is missing.
  GpiodRelay(const std::string& chip, const std::string& line, bool active_low);
  ~GpiodRelay() override;  // releases the line (after the owner set it off)
  GpiodRelay(const GpiodRelay&) = delete;
  GpiodRelay& operator=(const GpiodRelay&) = delete;
  void Set(bool on) override;
  std::string Describe() const override;

 private:
  std::string chip_name_;
  std::string line_name_;
  bool active_low_;
  gpiod_chip* chip_ = nullptr;
  gpiod_line* line_ = nullptr;
};

struct RelayConfig {
  std::string backend;  // file | gpiod
  std::string path;
  std::string chip = "gpiochip0";
  std::string line;
  bool active_low = false;
};
// What to do with a key the relay mapping does not know: create and
// validate refuse it; the safe state ignores it, because it must switch the
// relay off from a configuration that today's validation may refuse.
enum class UnknownRelayKeys { kRefuse, kIgnore };
// From the config's `relay` mapping: {backend: file, path: ...} or
// {backend: gpiod, chip: gpiochip0, line: NAME, active_low: true}. Each
// problem goes to `problems` under its key ("relay.backend").
RelayConfig ParseRelayConfig(const nlohmann::json& relay, ConfigProblems& problems,
                             UnknownRelayKeys unknown);
// Throws std::runtime_error when the backend cannot be opened.
std::unique_ptr<Relay> OpenRelay(const RelayConfig& config);

}  // namespace domian::thermostat
