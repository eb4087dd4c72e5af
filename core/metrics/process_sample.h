// What /metrics says of the domiand process itself: the process_* metrics
// every Prometheus client library exports (CPU, memory, file descriptors,
// start time, threads), read from procfs the way they read it, so the
// usual dashboards and alerts work on a node unchanged.
//
// Threads: a plain function of files; call it from any thread.
#pragma once

#include <filesystem>

#include "core/common/status.h"

namespace domian::metrics {

// In the units Prometheus names: seconds and bytes.
struct ProcessSample {
  double cpu_seconds = 0;         // user + system time, since the process started
  double resident_bytes = 0;      // resident set size
  double virtual_bytes = 0;       // virtual memory size
  double open_fds = 0;            // open file descriptors
  double max_fds = 0;             // their soft limit (RLIMIT_NOFILE); +Inf: unlimited
  double start_time_seconds = 0;  // when the process started, since the Unix epoch
  double threads = 0;
};

// Reads this process's sample from `proc`, procfs' root (a test gives a
// copy of its own): proc/self/{stat,limits,fd/} and the boot time in
// proc/stat. An error names the file that could not be read or parsed.
absl::StatusOr<ProcessSample> ReadProcessSample(const std::filesystem::path& proc = "/proc");

}  // namespace domian::metrics
