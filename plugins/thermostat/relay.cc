#include "plugins/thermostat/relay.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <gpiod.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace domian::thermostat {
namespace {

constexpr char kConsumer[] = "domian-thermostat";

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace

void FileRelay::Set(bool on) {
  // Non-blocking, and only a regular file or a device: a FIFO nobody reads
  // would otherwise hang the thermostat with its lock held.
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(Errno("cannot open relay file " + path_));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !(S_ISREG(info.st_mode) || S_ISCHR(info.st_mode))) {
    ::close(fd);
    throw std::runtime_error("relay file " + path_ + " is not a regular file or a device");
  }
  // Overwritten in place, then cut to size: a reader never sees it empty.
  const char* value = on ? "1\n" : "0\n";
  bool written = S_ISREG(info.st_mode) ? ::pwrite(fd, value, 2, 0) == 2 && ::ftruncate(fd, 2) == 0
                                       : ::write(fd, value, 2) == 2;
  const int saved = errno;
  ::close(fd);
  if (!written) {
    errno = saved;
    throw std::runtime_error(Errno("cannot write relay file " + path_));
  }
}

GpiodRelay::GpiodRelay(const std::string& chip, const std::string& line, bool active_low)
    : chip_name_(chip), line_name_(line), active_low_(active_low) {
  chip_ = ::gpiod_chip_open_lookup(chip.c_str());
  if (chip_ == nullptr) throw std::runtime_error(Errno("cannot open GPIO chip " + chip));
  line_ = ::gpiod_chip_find_line(chip_, line.c_str());
  if (line_ == nullptr) {
    ::gpiod_chip_close(chip_);
    throw std::runtime_error("GPIO chip " + chip + " has no line named " + line);
  }
  // Requested once, as an output that starts off (logically: the flag
  // makes libgpiod invert for an active-low relay).
  const int flags = active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
  if (::gpiod_line_request_output_flags(line_, kConsumer, flags, 0) != 0) {
    const std::string why = Errno("cannot request GPIO line " + line + " on " + chip);
    ::gpiod_chip_close(chip_);
    throw std::runtime_error(why);
  }
}

GpiodRelay::~GpiodRelay() {
  if (line_ != nullptr) ::gpiod_line_release(line_);
  if (chip_ != nullptr) ::gpiod_chip_close(chip_);
}

void GpiodRelay::Set(bool on) {
  if (::gpiod_line_set_value(line_, on ? 1 : 0) != 0) {
    throw std::runtime_error(Errno("cannot set GPIO line " + line_name_));
  }
}

std::string GpiodRelay::Describe() const {
  return "GPIO line " + line_name_ + " on " + chip_name_ + (active_low_ ? " (active low)" : "");
}

RelayConfig ParseRelayConfig(const nlohmann::json& json, ConfigProblems& problems,
                             UnknownRelayKeys unknown) {
  RelayConfig relay;
  if (!json.is_object()) {
    problems.Add("relay", "must be a mapping with backend: gpiod or file, not " + json.dump());
    return relay;
  }
  for (const auto& [key, value] : json.items()) {
    const std::string path = "relay." + key;
    if (key == "active_low") {
      relay.active_low = problems.Bool(path, value).value_or(false);
    } else if (key == "backend" || key == "path" || key == "chip" || key == "line") {
      const std::string text = problems.String(path, value).value_or("");
      if (key == "backend") relay.backend = text;
      if (key == "path") relay.path = text;
      if (key == "chip" && !text.empty()) relay.chip = text;
      if (key == "line") relay.line = text;
    } else if (unknown == UnknownRelayKeys::kRefuse) {
      problems.Add(path, "is not a relay setting (backend, path, chip, line, active_low)");
    }
  }
  if (relay.backend == "file") {
    if (relay.path.empty() && !json.contains("path")) {
      problems.Add("relay.path", "is missing (backend: file writes 1/0 to it)");
    }
  } else if (relay.backend == "gpiod") {
    if (relay.line.empty() && !json.contains("line")) {
      problems.Add("relay.line", "is missing: the relay's GPIO line name");
    }
  } else if (!json.contains("backend")) {
    problems.Add("relay.backend", "is missing: gpiod or file");
  } else if (!relay.backend.empty()) {
    problems.Add("relay.backend", "must be gpiod or file, not \"" + relay.backend + "\"");
  }
  return relay;
}

std::unique_ptr<Relay> OpenRelay(const RelayConfig& config) {
  if (config.backend == "file") return std::make_unique<FileRelay>(config.path);
  return std::make_unique<GpiodRelay>(config.chip, config.line, config.active_low);
}

}  // namespace domian::thermostat
