// The running journal: which services may be driving hardware on this
// node, kept in state_dir so that it survives the daemon. One file per
// service, state_dir/services/<name>/running.json:
//
//   {"plugin": "/usr/lib/domian/plugins/thermostat.so",
//    "config": "{...}",         the configuration this start runs with
//    "last_good": "{...}"}      the one of the last start that succeeded
//                               here, when there was one and it differs
//
// It is written, as a durable file (core/common/durable_file.h: synced,
// checked when read, the copy before the last write kept), before a
// service's instance is created here, and removed, both copies, once the
// service stopped and its safe state ran. So a file found when domiand
// starts means the last daemon ended without stopping that service (a
// SIGKILL, a crash, a power cut): its safe state runs before anything
// else starts (see MakeSafeAfterUncleanEnd in safe_state.h).
//
// A file torn by a power cut, or damaged since, reads as the one before
// it (with a log line). One that cannot be used at all (no good copy,
// edited, too large) still names its service (the folder): whatever else
// it yields is used, and what is missing is filled in by the caller (the
// plugin by name in the plugin folders, the configuration from node.yaml).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/common/status.h"

namespace domian::services {

inline constexpr char kRunningJournalFile[] = "running.json";
// The largest configuration kept in the journal: a service's
// configuration is at most 4 KiB where peers carry it
// (WireLimits::max_config_bytes); node.yaml itself has no limit, so this
// leaves room. A larger one is journaled without it (node.yaml's is used).
inline constexpr size_t kMaxJournalConfigBytes = 16 * 1024;
// The largest journal file read: two configurations and a path, each of
// whose bytes JSON may escape as six ("\u0001"), with room to spare.
// Anything larger is not a journal domiand wrote.
inline constexpr size_t kMaxJournalFileBytes = 256 * 1024;

struct RunningEntry {
  std::string service;
  std::filesystem::path plugin;  // empty when unreadable
  std::optional<std::string> config;
  std::optional<std::string> last_good;
};

// Writes `entry` as service_dir/running.json, durably. A failure names the
// file and the system's reason.
absl::Status WriteRunningEntry(const std::filesystem::path& service_dir, const RunningEntry& entry);
// Removes service_dir/running.json and its previous copy (fine when there
// is none).
absl::Status RemoveRunningEntry(const std::filesystem::path& service_dir);

// Every journal file under `services_dir` (state_dir/services), one entry
// per service folder that has one, by name. Problems with a file (each
// naming it and what is wrong) go to `problems`; its entry holds what
// could be read. A file read from its previous copy is not a problem
// here: that is logged where it is read.
std::vector<RunningEntry> ReadRunningJournal(const std::filesystem::path& services_dir,
                                             std::vector<std::string>& problems);

}  // namespace domian::services
