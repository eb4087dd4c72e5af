#include "core/metrics/process_sample.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/common/files.h"

namespace domian::metrics {
namespace {

// procfs files are a few hundred bytes; /proc/stat grows with the CPUs
// and interrupts (tens of KiB on a large machine).
constexpr size_t kMaxSelfFileBytes = 64 * 1024;
constexpr size_t kMaxStatFileBytes = 1024 * 1024;

// Fields of /proc/<pid>/stat (proc(5)), numbered from 1 as the manual
// numbers them; the ones after the command name, which is in parentheses
// and may itself hold spaces and parentheses.
constexpr size_t kFirstFieldAfterName = 3;  // state
constexpr size_t kUtime = 14;
constexpr size_t kStime = 15;
constexpr size_t kNumThreads = 20;
constexpr size_t kStartTime = 22;
constexpr size_t kVsize = 23;
constexpr size_t kRss = 24;

// Debian 12's Abseil has a string_view of its own, so its string helpers
// do not take std::string_view: these few are plain C++.
bool ParseNumber(std::string_view text, uint64_t& out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

std::vector<std::string> Words(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(std::move(word));
  return words;
}

// The rest of the first line of `text` that starts with `prefix`.
std::optional<std::string_view> RowAfter(std::string_view text, std::string_view prefix) {
  while (!text.empty()) {
    const size_t end = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, end);
    if (line.starts_with(prefix)) return line.substr(prefix.size());
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return std::nullopt;
}

absl::Status Malformed(const std::filesystem::path& file, std::string_view what) {
  return absl::DataLossError(file.string() + ": " + std::string(what) +
                             " is missing or not a number");
}

struct StatFields {
  uint64_t utime_ticks = 0, stime_ticks = 0, threads = 0, start_ticks = 0, vsize = 0, rss_pages = 0;
};

absl::StatusOr<StatFields> ParseSelfStat(const std::filesystem::path& file, std::string_view text) {
  const size_t name_end = text.rfind(')');
  if (name_end == std::string_view::npos) return Malformed(file, "the command name");
  const std::vector<std::string> fields = Words(text.substr(name_end + 1));
  auto field = [&](size_t number, uint64_t& out) {
    const size_t index = number - kFirstFieldAfterName;
    return index < fields.size() && ParseNumber(fields[index], out);
  };
  StatFields out;
  if (!field(kUtime, out.utime_ticks) || !field(kStime, out.stime_ticks)) {
    return Malformed(file, "utime or stime");
  }
  if (!field(kNumThreads, out.threads)) return Malformed(file, "num_threads");
  if (!field(kStartTime, out.start_ticks)) return Malformed(file, "starttime");
  if (!field(kVsize, out.vsize) || !field(kRss, out.rss_pages)) {
    return Malformed(file, "vsize or rss");
  }
  return out;
}

// The soft limit of "Max open files" in /proc/<pid>/limits.
absl::StatusOr<double> ParseMaxOpenFiles(const std::filesystem::path& file, std::string_view text) {
  if (const std::optional<std::string_view> row = RowAfter(text, "Max open files")) {
    const std::vector<std::string> values = Words(*row);
    uint64_t soft = 0;
    if (!values.empty() && values[0] == "unlimited") {
      return std::numeric_limits<double>::infinity();
    }
    if (!values.empty() && ParseNumber(values[0], soft)) return static_cast<double>(soft);
  }
  return Malformed(file, "the soft limit of \"Max open files\"");
}

// The boot time, in seconds since the epoch: the "btime" row of /proc/stat.
absl::StatusOr<uint64_t> ParseBootTime(const std::filesystem::path& file, std::string_view text) {
  uint64_t seconds = 0;
  if (const std::optional<std::string_view> row = RowAfter(text, "btime ")) {
    if (ParseNumber(*row, seconds)) return seconds;
  }
  return Malformed(file, "btime");
}

absl::StatusOr<size_t> CountEntries(const std::filesystem::path& folder) {
  std::error_code error;
  size_t count = 0;
  for (std::filesystem::directory_iterator it(folder, error), end; !error && it != end;
       it.increment(error)) {
    ++count;
  }
  if (error) return FileIoError("cannot list", folder, error.value());
  return count;
}

}  // namespace

absl::StatusOr<ProcessSample> ReadProcessSample(const std::filesystem::path& proc) {
  const std::filesystem::path self = proc / "self";
  absl::StatusOr<std::string> stat_text = ReadBoundedFile(self / "stat", kMaxSelfFileBytes);
  if (!stat_text.ok()) return stat_text.status();
  absl::StatusOr<StatFields> stat = ParseSelfStat(self / "stat", *stat_text);
  if (!stat.ok()) return stat.status();
  absl::StatusOr<std::string> limits_text = ReadBoundedFile(self / "limits", kMaxSelfFileBytes);
  if (!limits_text.ok()) return limits_text.status();
  absl::StatusOr<double> max_fds = ParseMaxOpenFiles(self / "limits", *limits_text);
  if (!max_fds.ok()) return max_fds.status();
  absl::StatusOr<std::string> boot_text = ReadBoundedFile(proc / "stat", kMaxStatFileBytes);
  if (!boot_text.ok()) return boot_text.status();
  absl::StatusOr<uint64_t> boot = ParseBootTime(proc / "stat", *boot_text);
  if (!boot.ok()) return boot.status();
  absl::StatusOr<size_t> open_fds = CountEntries(self / "fd");
  if (!open_fds.ok()) return open_fds.status();

  // procfs counts times in clock ticks and the resident set in pages.
  const auto ticks_per_second = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const auto page_bytes = static_cast<double>(::sysconf(_SC_PAGESIZE));
  return ProcessSample{
      .cpu_seconds = static_cast<double>(stat->utime_ticks + stat->stime_ticks) / ticks_per_second,
      .resident_bytes = static_cast<double>(stat->rss_pages) * page_bytes,
      .virtual_bytes = static_cast<double>(stat->vsize),
      .open_fds = static_cast<double>(*open_fds),
      .max_fds = *max_fds,
      .start_time_seconds =
          static_cast<double>(*boot) + static_cast<double>(stat->start_ticks) / ticks_per_second,
      .threads = static_cast<double>(stat->threads),
  };
}

}  // namespace domian::metrics
