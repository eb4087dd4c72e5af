// HeapTrimmer: gives memory freed after a burst back to the system.
//
// glibc's malloc keeps what it frees: free pages inside its arenas (one per
// busy thread) stay in the process until malloc_trim(3) releases them. A
// burst of connections, streams or large messages therefore left the
// daemon's RSS at its peak for good (260 MB after 20 000 held streams, 49
// MB after oversize messages) although the memory was free. Trimming
// every few seconds returns it within one interval; on an idle daemon a
// trim walks a few MB of heap and costs well under a millisecond.
#pragma once

#include <chrono>
#include <cstddef>
#include <thread>

#include "core/common/stop_signal.h"

namespace domian::daemon {

inline constexpr std::chrono::seconds kHeapTrimInterval{5};
// A trim that returned at least this much is logged.
inline constexpr size_t kHeapTrimLogBytes = 8 * 1024 * 1024;

class HeapTrimmer {
 public:
  HeapTrimmer() = default;
  ~HeapTrimmer();  // Stop()
  HeapTrimmer(const HeapTrimmer&) = delete;
  HeapTrimmer& operator=(const HeapTrimmer&) = delete;

  void Start();
  void Stop();

 private:
  StopSignal stop_;
  std::thread thread_;
};

// This process's resident set, in bytes (0 if unreadable).
size_t ResidentBytes();

}  // namespace domian::daemon
