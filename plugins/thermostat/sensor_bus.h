// SensorBus: reads the DS18B20 sensors of one 1-Wire bus through the
// Linux w1 sysfs interface, on a thread of its own. Every read of
// `<root>/28-xxxx/w1_slave` starts a conversion (~750 ms at 12 bit), and
// conversions on one bus are not concurrent, so the sensors are read one
// at a time; the thermostat's control thread never waits for a read, it
// only looks at the last results. A read that has produced nothing within
// kReadTimeout is abandoned and reported; on real sysfs, though, read()
// itself blocks in the kernel for the conversion (and any retries the w1
// driver makes), so nothing that must be prompt ever waits for this
// thread: the service switches its relay off before stopping the bus.
// Every valid reading passes a DropFilter of its sensor, so a sudden drop
// counts only once the next reading agrees with it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "plugins/thermostat/drop_filter.h"
#include "plugins/thermostat/w1_reading.h"

namespace domian::thermostat {

using SteadyClock = std::chrono::steady_clock;
// Where the time comes from (tests move it on).
using Clock = std::function<SteadyClock::time_point()>;

// A 12-bit conversion takes 750 ms; a read taking this long is a hung bus.
inline constexpr std::chrono::milliseconds kReadTimeout{3000};
inline constexpr char kDefaultSysfsRoot[] = "/sys/bus/w1/devices";
inline constexpr char kSensorPrefix[] = "28-";  // the DS18B20 family code

struct SensorStatus {
  std::string id;
  bool present = false;                 // its folder exists
  bool ever_present = false;            // its folder existed at some read
  // The last reading that counts: valid, and not a drop still waiting
  // for the next reading to confirm it (DropFilter).
  std::optional<double> celsius;
  std::optional<SteadyClock::time_point> valid_at;  // when it was read
  // A valid reading that does not count yet, and why.
  std::optional<double> held_celsius;
  std::string held_why;
  std::string problem;                  // why the last read was not valid ("" if it was)
  int64_t reads = 0;
  int64_t bad_reads = 0;
};

class SensorBus {
 public:
  // `ids` empty: every 28-* sensor found, looked for again every round.
  // `max_drop_c_per_min`: the DropFilter's limit.
  SensorBus(std::filesystem::path root, std::vector<std::string> ids,
            std::chrono::milliseconds interval, double max_drop_c_per_min,
            std::function<void(const std::string&)> log_change, Clock clock = SteadyClock::now);
  ~SensorBus();  // Stop()
  SensorBus(const SensorBus&) = delete;
  SensorBus& operator=(const SensorBus&) = delete;

  void Start();
  void Stop();  // waits for the read in progress
  std::vector<SensorStatus> Snapshot() const;

  // One read of one sensor's w1_slave, with the timeout (also for tests).
  static Reading ReadSensor(const std::filesystem::path& w1_slave, std::chrono::milliseconds timeout);

 private:
  void Run();
  std::vector<std::string> SensorIds();
  void Record(const std::string& id, bool present, const Reading& reading);

  const std::filesystem::path root_;
  const std::vector<std::string> configured_;
  const std::chrono::milliseconds interval_;
  const double max_drop_c_per_min_;
  const std::function<void(const std::string&)> log_change_;
  const Clock clock_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::map<std::string, SensorStatus> sensors_;
  std::map<std::string, DropFilter> filters_;
  // When a held drop was last logged, per sensor (see kHeldLogInterval).
  std::map<std::string, SteadyClock::time_point> held_logged_;
  std::thread thread_;
};

}  // namespace domian::thermostat
