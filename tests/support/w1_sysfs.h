// A Linux w1 sysfs tree for the thermostat's tests: DS18B20 sensor
// folders (`28-xxxxxxxxxxxx/w1_slave`) written the way the kernel's
// w1_therm driver prints them, with real Dallas CRC-8 bytes, and every
// kind of reading a real bus produces: good, negative, CRC NO with a
// garbage t=, all zeros (a shorted line), 85000 (the power-on value),
// empty (a bus error), a vanished sensor, and a slow read (a FIFO that
// answers only after a delay, as a conversion takes ~750 ms).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace domian::testing {

// The CRC the sensor puts in its 9th scratchpad byte (a table-driven
// implementation of its own, so the plugin's is checked, not copied).
uint8_t W1Crc8(const std::vector<uint8_t>& bytes);

// The two lines w1_slave holds for a reading of `milli_c` milli-degrees
// (rounded to the sensor's 1/16 °C steps).
std::string W1SlaveText(int milli_c);
// A read whose CRC failed: the kernel says NO and still prints a t=.
std::string W1SlaveCrcNo();
// A shorted data line: all-zero bytes pass the CRC (crc=00 YES), t=0.
std::string W1SlaveAllZeros();

class W1Sysfs {
 public:
  explicit W1Sysfs(std::filesystem::path root);  // creates root and w1_bus_master1
  ~W1Sysfs();  // finishes slow reads still waiting
  const std::filesystem::path& root() const { return root_; }

  // Creates or rewrites 28-<serial>/w1_slave (atomically: a read never
  // sees half a file).
  void Write(const std::string& id, const std::string& text);
  void Reading(const std::string& id, int milli_c) { Write(id, W1SlaveText(milli_c)); }
  // Removes the sensor's folder, as when it is unplugged.
  void Vanish(const std::string& id);
  // Makes w1_slave a FIFO that answers `text` `delay` after a reader opens
  // it (once). The times say when the read began and was answered.
  struct SlowRead {
    std::atomic<int64_t> opened_ns{0};    // steady_clock, since its epoch
    std::atomic<int64_t> answered_ns{0};
  };
  std::shared_ptr<SlowRead> Slow(const std::string& id, const std::string& text,
                                 std::chrono::milliseconds delay);

 private:
  std::filesystem::path root_;
  std::vector<std::thread> writers_;
};

}  // namespace domian::testing
