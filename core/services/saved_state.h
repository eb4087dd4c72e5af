// Where a service's saved state lives on this node, and how it is read
// and written: state_dir/services/<name>/state, and the service's
// ownership epoch beside it. Both are durable files (core/common/
// durable_file.h): synced, checked when read, and the copy before the last
// write kept, so a power cut mid-write, or a card that damaged the file
// since, costs at most the last change.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/common/status.h"

namespace domian::services {

inline constexpr char kServiceStateFile[] = "state";
// The last ownership epoch the service ran under here, in decimal: a
// restarted node never starts it under an epoch it used before.
inline constexpr char kServiceEpochFile[] = "epoch";

// The saved state in `service_dir`, if there is one: the last one written
// when it checks, else the one before (with a log line). nullopt, with a
// log line, when neither can be used: the service starts without one.
std::optional<std::string> ReadServiceState(const std::filesystem::path& service_dir);
// Durable (see above); readable by the daemon's user only, as a state may
// hold a secret. A failure names the file and the system's reason.
absl::Status WriteServiceState(const std::filesystem::path& service_dir,
                               const std::string& state);

// An epoch file's text as an epoch: decimal digits (trailing whitespace
// allowed, as an editor or `echo` leaves it), at most kMaxEpoch. nullopt
// for anything else: such a file is poisoned, not a history to honour.
std::optional<uint64_t> ParseServiceEpoch(std::string_view text);

// 0 when there is none, or when it is unreadable or poisoned. A damaged
// file reads as the epoch before it: lower than the last one used here,
// but never lower than the 0 that losing the file would give.
uint64_t ReadServiceEpoch(const std::filesystem::path& service_dir);
// Durable (the file and its folder are synced before this returns): the
// epoch fences ownership, so a power cut must not bring back an older one.
absl::Status WriteServiceEpoch(const std::filesystem::path& service_dir, uint64_t epoch);

// At start: removes every poisoned epoch file under `services_dir`
// (state_dir/services), its previous copy too, with one log line each
// naming the file and what it held (or what is wrong with it). Such a
// service counts as never having run here; the epochs the cluster reports
// take over. Returns how many were removed.
size_t RecoverServiceEpochs(const std::filesystem::path& services_dir);

}  // namespace domian::services
