#include "tests/support/w1_sysfs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace domian::testing {
namespace {

// CRC-8/MAXIM: polynomial 0x31, reflected (0x8C), initial value 0.
std::array<uint8_t, 256> CrcTable() {
  std::array<uint8_t, 256> table{};
  for (unsigned value = 0; value < 256; ++value) {
    uint8_t crc = static_cast<uint8_t>(value);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1) != 0 ? static_cast<uint8_t>((crc >> 1) ^ 0x8C) : static_cast<uint8_t>(crc >> 1);
    }
    table[value] = crc;
  }
  return table;
}

std::string Hex(const std::vector<uint8_t>& bytes) {
  std::string text;
  char byte[4];
  for (const uint8_t b : bytes) {
    std::snprintf(byte, sizeof byte, "%02x ", b);
    text += byte;
  }
  return text;
}

std::string Lines(const std::vector<uint8_t>& bytes, const std::string& verdict, int milli_c) {
  char crc[16];
  std::snprintf(crc, sizeof crc, "%02x", bytes.back());
  return Hex(bytes) + ": crc=" + crc + " " + verdict + "\n" + Hex(bytes) + "t=" +
         std::to_string(milli_c) + "\n";
}

}  // namespace

uint8_t W1Crc8(const std::vector<uint8_t>& bytes) {
  static const std::array<uint8_t, 256> table = CrcTable();
  uint8_t crc = 0;
  for (const uint8_t b : bytes) crc = table[crc ^ b];
  return crc;
}

std::string W1SlaveText(int milli_c) {
  // 12-bit resolution: 1/16 °C per step, two's complement; t= as the
  // kernel computes it from those bytes.
  const auto raw = static_cast<int16_t>(std::lround(milli_c / 62.5));
  const auto bits = static_cast<uint16_t>(raw);
  std::vector<uint8_t> bytes = {static_cast<uint8_t>(bits & 0xFF), static_cast<uint8_t>(bits >> 8),
                                0x4b, 0x46, 0x7f, 0xff, 0x0c, 0x10};
  bytes.push_back(W1Crc8(bytes));
  return Lines(bytes, "YES", raw * 1000 / 16);
}

std::string W1SlaveCrcNo() {
  std::vector<uint8_t> bytes = {0x72, 0x01, 0x4b, 0x46, 0x7f, 0xff, 0x0e, 0x10};
  bytes.push_back(static_cast<uint8_t>(W1Crc8(bytes) ^ 0x5A));  // corrupt
  return Lines(bytes, "NO", 1234567);
}

std::string W1SlaveAllZeros() { return Lines(std::vector<uint8_t>(9, 0), "YES", 0); }

W1Sysfs::W1Sysfs(std::filesystem::path root) : root_(std::move(root)) {
  // A slow read's writer may find its reader gone (a timed-out read).
  std::signal(SIGPIPE, SIG_IGN);
  std::filesystem::create_directories(root_ / "w1_bus_master1");
}

W1Sysfs::~W1Sysfs() {
  // A writer still waiting for its reader is released by opening the FIFO.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root_)) {
    if (entry.is_fifo()) {
      const int fd = ::open(entry.path().c_str(), O_RDONLY | O_NONBLOCK);
      if (fd >= 0) ::close(fd);
    }
  }
  for (std::thread& writer : writers_) writer.join();
}

void W1Sysfs::Write(const std::string& id, const std::string& text) {
  const auto folder = root_ / id;
  std::filesystem::create_directories(folder);
  const auto temporary = folder / "w1_slave.new";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << text;
  }
  std::filesystem::rename(temporary, folder / "w1_slave");
}

void W1Sysfs::Vanish(const std::string& id) { std::filesystem::remove_all(root_ / id); }

std::shared_ptr<W1Sysfs::SlowRead> W1Sysfs::Slow(const std::string& id, const std::string& text,
                                                 std::chrono::milliseconds delay) {
  const auto folder = root_ / id;
  std::filesystem::create_directories(folder);
  const auto path = folder / "w1_slave";
  std::filesystem::remove(path);
  if (::mkfifo(path.c_str(), 0644) != 0) throw std::runtime_error("mkfifo " + path.string());
  auto times = std::make_shared<SlowRead>();
  writers_.emplace_back([path, text, delay, times] {
    const auto now = [] { return std::chrono::steady_clock::now().time_since_epoch().count(); };
    const int fd = ::open(path.c_str(), O_WRONLY);  // waits for the reader
    if (fd < 0) return;
    times->opened_ns = now();
    std::this_thread::sleep_for(delay);
    [[maybe_unused]] const ssize_t written = ::write(fd, text.data(), text.size());
    ::close(fd);
    times->answered_ns = now();
  });
  return times;
}

}  // namespace domian::testing
