#include "plugins/thermostat/w1_reading.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <vector>

namespace domian::thermostat {
namespace {

constexpr size_t kScratchpadBytes = 9;  // 8 data bytes and their CRC

Reading Invalid(std::string problem) { return Reading{std::nullopt, std::move(problem)}; }

// The hex bytes at the start of a line ("72 01 ... 57"), up to 9.
std::vector<uint8_t> LeadingBytes(std::string_view line) {
  std::vector<uint8_t> bytes;
  size_t at = 0;
  while (bytes.size() < kScratchpadBytes && at + 2 <= line.size()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(line.data() + at, line.data() + at + 2, value, 16);
    if (ec != std::errc() || end != line.data() + at + 2) break;
    bytes.push_back(static_cast<uint8_t>(value));
    at += 2;
    if (at < line.size() && line[at] == ' ') ++at;
  }
  return bytes;
}

}  // namespace

uint8_t DallasCrc8(std::span<const uint8_t> bytes) {
  uint8_t crc = 0;
  for (uint8_t byte : bytes) {
    for (int bit = 0; bit < 8; ++bit) {
      const bool mix = ((crc ^ byte) & 0x01) != 0;
      crc = static_cast<uint8_t>(crc >> 1);
      if (mix) crc ^= 0x8C;
      byte = static_cast<uint8_t>(byte >> 1);
    }
  }
  return crc;
}

Reading ParseW1Slave(std::string_view text) {
  if (text.find_first_not_of(" \n\r\t") == std::string_view::npos) {
    return Invalid("empty read (a bus error)");
  }
  const size_t newline = text.find('\n');
  if (newline == std::string_view::npos) return Invalid("only one line (a cut-off read)");
  const std::string_view first = text.substr(0, newline);
  std::string_view second = text.substr(newline + 1);
  if (const size_t end = second.find('\n'); end != std::string_view::npos) second = second.substr(0, end);

  const size_t verdict = first.rfind(' ');
  const std::string_view word = verdict == std::string_view::npos ? first : first.substr(verdict + 1);
  if (word != "YES") return Invalid("CRC check failed (crc=.. " + std::string(word) + ")");

  const std::vector<uint8_t> bytes = LeadingBytes(first);
  if (bytes.size() != kScratchpadBytes) return Invalid("not 9 scratchpad bytes");
  if (std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; })) {
    return Invalid("all-zero bytes (a shorted data line)");
  }
  if (DallasCrc8(std::span(bytes).first(kScratchpadBytes - 1)) != bytes.back()) {
    return Invalid("scratchpad CRC does not match its bytes");
  }

  const size_t t = second.rfind("t=");
  if (t == std::string_view::npos) return Invalid("no t= value");
  const std::string_view number = second.substr(t + 2);
  int milli = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), milli);
  if (ec != std::errc() || end == number.data() ||
      std::string_view(end, static_cast<size_t>(number.data() + number.size() - end))
              .find_first_not_of(" \r") != std::string_view::npos) {
    return Invalid("t= is not a number");
  }
  // The kernel derives t= from the first two (CRC-checked) bytes, in
  // 1/16 °C: anything else was not computed from this scratchpad.
  const auto raw = static_cast<int16_t>(static_cast<uint16_t>(bytes[1] << 8 | bytes[0]));
  if (std::abs(milli - raw * 1000 / 16) > 1) {
    return Invalid("t=" + std::to_string(milli) + " does not match the scratchpad bytes");
  }
  if (milli == kPowerOnMilliC) return Invalid("85 °C, the power-on value (a missed conversion)");
  if (milli < kMinMilliC || milli > kMaxMilliC) {
    return Invalid("t=" + std::to_string(milli) + " is outside the sensor's range");
  }
  return Reading{milli / 1000.0, ""};
}

}  // namespace domian::thermostat
