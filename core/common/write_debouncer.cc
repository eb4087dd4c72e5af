#include "core/common/write_debouncer.h"

namespace domian {

bool WriteDebouncer::Changed(const std::string& key) {
  const MonoTime now = clock_.Now();
  const auto it = files_.find(key);
  if (it == files_.end()) {
    files_.emplace(key, File{.last_write = now});
    return true;
  }
  // Quiet for an interval (or waiting, and the wait is over): at once,
  // carrying any change that was pending.
  if (now - it->second.last_write >= min_interval_) {
    it->second = File{.last_write = now};
    return true;
  }
  // Written within the interval: the write that ends it carries this
  // change too.
  it->second.pending = true;
  return false;
}

std::vector<std::string> WriteDebouncer::TakeDue() {
  const MonoTime now = clock_.Now();
  std::vector<std::string> due;
  for (auto it = files_.begin(); it != files_.end();) {
    File& file = it->second;
    if (now - file.last_write < min_interval_) {
      ++it;
    } else if (file.pending) {
      due.push_back(it->first);
      file = File{.last_write = now};
      ++it;
    } else {
      it = files_.erase(it);  // quiet for a whole interval: as if never written
    }
  }
  return due;
}

std::optional<MonoTime> WriteDebouncer::NextDue() const {
  std::optional<MonoTime> next;
  for (const auto& [key, file] : files_) {
    if (!file.pending) continue;
    const MonoTime due = file.last_write + min_interval_;
    if (!next || due < *next) next = due;
  }
  return next;
}

bool WriteDebouncer::Flush(const std::string& key) {
  const auto it = files_.find(key);
  if (it == files_.end() || !it->second.pending) return false;
  it->second = File{.last_write = clock_.Now()};
  return true;
}

std::vector<std::string> WriteDebouncer::FlushAll() {
  const MonoTime now = clock_.Now();
  std::vector<std::string> flushed;
  for (auto& [key, file] : files_) {
    if (!file.pending) continue;
    flushed.push_back(key);
    file = File{.last_write = now};
  }
  return flushed;
}

void WriteDebouncer::Forget(const std::string& key) { files_.erase(key); }

bool WriteDebouncer::pending(const std::string& key) const {
  const auto it = files_.find(key);
  return it != files_.end() && it->second.pending;
}

}  // namespace domian
