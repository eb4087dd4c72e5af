// What a DS18B20's `w1_slave` file says, and whether to believe it. The
// Linux w1 driver prints two lines per read:
//
//   72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
//   72 01 4b 46 7f ff 0e 10 57 t=23125
//
// (the scratchpad bytes, the kernel's CRC verdict, then the temperature in
// milli-degrees Celsius). Readings that must never be trusted: a CRC "NO"
// (the t= is still printed, from corrupt bytes), all-zero bytes (a shorted
// data line, which passes the CRC), t=85000 (the power-on value: a missed
// conversion or a brown-out) and an empty file (a bus error). The CRC is
// also checked here, with the Dallas/Maxim CRC-8, rather than trusting the
// kernel's word alone.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace domian::thermostat {

// The DS18B20's power-on register value, in milli-degrees.
inline constexpr int kPowerOnMilliC = 85000;
// The sensor's range (datasheet), in milli-degrees.
inline constexpr int kMinMilliC = -55000;
inline constexpr int kMaxMilliC = 125000;

// Dallas/Maxim 1-Wire CRC-8 (polynomial x^8 + x^5 + x^4 + 1, reflected).
uint8_t DallasCrc8(std::span<const uint8_t> bytes);

struct Reading {
  std::optional<double> celsius;  // set only when the reading is valid
  std::string problem;            // why not, when it is not
  bool valid() const { return celsius.has_value(); }
};

// Judges the content of one w1_slave read.
Reading ParseW1Slave(std::string_view text);

}  // namespace domian::thermostat
