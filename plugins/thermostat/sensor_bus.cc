#include "plugins/thermostat/sensor_bus.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace domian::thermostat {
namespace {

// A w1_slave file is two lines of ~40 bytes.
constexpr size_t kMaxFileBytes = 512;
// A sensor whose readings keep jumping would log a held drop at every read;
// one line per sensor this often is enough (status shows each one).
constexpr auto kHeldLogInterval = std::chrono::minutes(10);

}  // namespace

SensorBus::SensorBus(std::filesystem::path root, std::vector<std::string> ids,
                     std::chrono::milliseconds interval, double max_drop_c_per_min,
                     std::function<void(const std::string&)> log_change, Clock clock)
    : root_(std::move(root)),
      configured_(std::move(ids)),
      interval_(interval),
      max_drop_c_per_min_(max_drop_c_per_min),
      log_change_(std::move(log_change)),
      clock_(std::move(clock)) {
  for (const std::string& id : configured_) sensors_[id].id = id;
}

SensorBus::~SensorBus() { Stop(); }

void SensorBus::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void SensorBus::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<SensorStatus> SensorBus::Snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<SensorStatus> out;
  for (const auto& [id, status] : sensors_) out.push_back(status);
  return out;
}

Reading SensorBus::ReadSensor(const std::filesystem::path& w1_slave,
                              std::chrono::milliseconds timeout) {
  // Non-blocking open and poll: sysfs answers when the conversion is
  // done, and nothing may make this wait longer than the timeout.
  const int fd = ::open(w1_slave.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return Reading{std::nullopt, errno == ENOENT ? "vanished (no " + w1_slave.string() + ")"
                                                 : "cannot open " + w1_slave.string() + ": " +
                                                       std::strerror(errno)};
  }
  std::string text;
  const auto deadline = SteadyClock::now() + timeout;
  char buffer[kMaxFileBytes];
  while (text.size() < kMaxFileBytes) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) {
      ::close(fd);
      return Reading{std::nullopt, "read timed out after " + std::to_string(timeout.count()) +
                                       " ms (a hung bus)"};
    }
    pollfd ready{fd, POLLIN, 0};
    const int polled = ::poll(&ready, 1, static_cast<int>(left.count()));
    if (polled < 0 && errno == EINTR) continue;
    if (polled == 0) continue;  // the deadline check above ends it
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
      // A FIFO with no writer yet polls as hung-up; wait a little.
      ::poll(nullptr, 0, 10);
      continue;
    }
    if (got < 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      return Reading{std::nullopt, "read failed: " + why};
    }
    if (got == 0) {
      if ((ready.revents & POLLHUP) != 0 && text.empty()) {
        ::poll(nullptr, 0, 10);  // no writer yet (a FIFO in the tests)
        continue;
      }
      break;
    }
    text.append(buffer, static_cast<size_t>(got));
  }
  ::close(fd);
  return ParseW1Slave(text);
}

std::vector<std::string> SensorBus::SensorIds() {
  if (!configured_.empty()) return configured_;
  std::vector<std::string> ids;
  std::error_code error;
  for (auto it = std::filesystem::directory_iterator(root_, error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(kSensorPrefix, 0) == 0) ids.push_back(name);
  }
  std::lock_guard lock(mu_);
  // Sensors seen before stay listed, so one that vanished is reported.
  for (const auto& [id, status] : sensors_) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

void SensorBus::Record(const std::string& id, bool present, const Reading& reading) {
  std::string change;
  {
    std::lock_guard lock(mu_);
    SensorStatus& status = sensors_[id];
    status.id = id;
    status.present = present;
    status.ever_present = status.ever_present || present;
    ++status.reads;
    if (reading.valid()) {
      const auto now = clock_();
      DropFilter& filter = filters_.try_emplace(id, max_drop_c_per_min_).first->second;
      const bool was_held = filter.held().has_value();
      filter.Add({*reading.celsius, now});
      if (filter.counted()) {
        status.celsius = filter.counted()->celsius;
        status.valid_at = filter.counted()->at;
      }
      status.held_celsius.reset();
      status.held_why = filter.why_held();
      if (filter.held()) status.held_celsius = filter.held()->celsius;
      if (!status.problem.empty()) change = "sensor " + id + " reads again";
      status.problem.clear();
      if (filter.held() && !was_held) {
        const auto logged = held_logged_.find(id);
        if (logged == held_logged_.end() || now - logged->second >= kHeldLogInterval) {
          held_logged_[id] = now;
          change += (change.empty() ? "" : "; ") + ("sensor " + id + ": " + filter.why_held());
        }
      }
    } else {
      ++status.bad_reads;
      // A sensor never seen has not vanished: its id may be mistyped.
      const std::string problem = status.ever_present
                                      ? reading.problem
                                      : "not found (no " + (root_ / id).string() + " since the start)";
      if (status.problem != problem) change = "sensor " + id + ": " + problem;
      status.problem = problem;
    }
  }
  if (!change.empty() && log_change_) log_change_(change);
}

void SensorBus::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    // Nothing may end this thread but Stop(): a failure here only means
    // no new readings this round, which the readings' age then reports.
    try {
      for (const std::string& id : SensorIds()) {
        {
          std::lock_guard check(mu_);
          if (stopping_) return;
        }
        const std::filesystem::path folder = root_ / id;
        std::error_code error;
        const bool present = std::filesystem::is_directory(folder, error);
        Record(id, present, ReadSensor(folder / "w1_slave", kReadTimeout));
      }
    } catch (const std::exception& e) {
      if (log_change_) log_change_(std::string("reading the sensors failed: ") + e.what());
    } catch (...) {
      if (log_change_) log_change_("reading the sensors failed");
    }
    lock.lock();
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

}  // namespace domian::thermostat
