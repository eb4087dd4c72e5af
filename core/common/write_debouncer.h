// WriteDebouncer: when a file that changes often (a busy plugin's saved
// state) is written, so that an SD card is not worn by it. Per file, at
// most one write per minimum interval: the first change is written at
// once, later ones within the interval are coalesced into one write when
// it ends, and the last change is never lost. Only decides; the caller
// writes (WriteDurable) and owns the timer. Time comes only from the clock
// it is given, so the policy is tested in milliseconds.
//
// Not synchronised: its owner's lock guards it, as for RestartBackoff.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/common/clock.h"

namespace domian {

// An SD card's flash wears by the erase block, whatever the size of the
// write: one write a second per file keeps a plugin that saves on every
// reading from costing thousands of erases an hour, and loses at most a
// second of changes to a power cut.
inline constexpr std::chrono::milliseconds kDefaultMinWriteInterval{1000};

class WriteDebouncer {
 public:
  explicit WriteDebouncer(const Clock& clock,
                          std::chrono::nanoseconds min_interval = kDefaultMinWriteInterval)
      : clock_(clock), min_interval_(min_interval) {}

  // `key` (a file) changed. True: write it now (nothing was written for
  // it within the interval); the write counts as done now. False: the
  // change is pending, and TakeDue returns it when the interval ends.
  // After a write that failed, call this again: the change is then
  // pending, so the write is retried when the interval ends.
  bool Changed(const std::string& key);

  // The keys whose pending change is due (their interval ended), in key
  // order: write them now; each counts as written now.
  std::vector<std::string> TakeDue();

  // When the earliest pending change falls due, for the caller's timer;
  // nullopt when nothing is pending.
  std::optional<MonoTime> NextDue() const;

  // Whether `key` has a change pending: when true, write it now (it
  // counts as written now), whatever the interval. Before the service
  // stops or moves away, and at shutdown.
  bool Flush(const std::string& key);
  // Every key with a change pending, in key order, each counting as
  // written now.
  std::vector<std::string> FlushAll();

  // Drops `key`, pending change and all (its service was removed here).
  void Forget(const std::string& key);

  bool pending(const std::string& key) const;

 private:
  struct File {
    MonoTime last_write;
    bool pending = false;
  };

  const Clock& clock_;
  const std::chrono::nanoseconds min_interval_;
  // Only keys written within the interval or with a change pending: the
  // rest are forgotten by TakeDue, so the map stays as small as the set
  // of busy files.
  std::map<std::string, File> files_;
};

}  // namespace domian
