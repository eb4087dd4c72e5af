#include "core/daemon/heap_trimmer.h"

#include <malloc.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <fstream>

namespace domian::daemon {

size_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0;
  size_t resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

HeapTrimmer::~HeapTrimmer() { Stop(); }

void HeapTrimmer::Start() {
  thread_ = std::thread([this] {
    while (!stop_.WaitFor(kHeapTrimInterval)) {
      const size_t before = ResidentBytes();
      ::malloc_trim(0);
      const size_t after = ResidentBytes();
      if (before > after && before - after >= kHeapTrimLogBytes) {
        spdlog::info("returned {} MiB of freed memory to the system (resident {} -> {} MiB)",
                     (before - after) >> 20, before >> 20, after >> 20);
      }
    }
  });
}

void HeapTrimmer::Stop() {
  stop_.Stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace domian::daemon
