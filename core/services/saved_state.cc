#include "core/services/saved_state.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <charconv>

#include "core/common/durable_file.h"
#include "core/model/identity.h"
#include "core/services/plugin_output.h"

namespace domian::services {

namespace {

// An epoch is at most 19 digits; anything longer is poisoned, and only
// this much of it is read (and shown in the log line).
constexpr size_t kMaxEpochFileBytes = 64;
// A state may hold a secret (the Hue bridge's username); an epoch is no
// one else's business either.
constexpr mode_t kServiceFileMode = 0600;

// `text` for a log line: printable ASCII as is, the rest as \xNN.
std::string Printable(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> ReadServiceState(const std::filesystem::path& service_dir) {
  // A state larger than a plugin may save was never written by domiand.
  absl::StatusOr<DurableRead> read = ReadDurable(service_dir / kServiceStateFile, kMaxStateBytes);
  if (read.ok()) return std::move(read->content);
  if (!absl::IsNotFound(read.status())) {
    spdlog::warn("{}; the service starts without a saved state", StatusMessage(read.status()));
  }
  return std::nullopt;
}

absl::Status WriteServiceState(const std::filesystem::path& service_dir,
                               const std::string& state) {
  return WriteDurable(service_dir / kServiceStateFile, state, kServiceFileMode);
}

std::optional<uint64_t> ParseServiceEpoch(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  // from_chars takes no sign, no spaces, no "0x": digits only.
  uint64_t epoch = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), epoch);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
      epoch > kMaxEpoch) {
    return std::nullopt;
  }
  return epoch;
}

uint64_t ReadServiceEpoch(const std::filesystem::path& service_dir) {
  const absl::StatusOr<DurableRead> read =
      ReadDurable(service_dir / kServiceEpochFile, kMaxEpochFileBytes);
  if (!read.ok()) return 0;
  return ParseServiceEpoch(read->content).value_or(0);
}

absl::Status WriteServiceEpoch(const std::filesystem::path& service_dir, uint64_t epoch) {
  return WriteDurable(service_dir / kServiceEpochFile, std::to_string(epoch), kServiceFileMode);
}

size_t RecoverServiceEpochs(const std::filesystem::path& services_dir) {
  size_t recovered = 0;
  std::error_code error;
  for (std::filesystem::directory_iterator it(services_dir, error), end; !error && it != end;
       it.increment(error)) {
    const std::filesystem::path file = it->path() / kServiceEpochFile;
    const absl::StatusOr<DurableRead> read = ReadDurable(file, kMaxEpochFileBytes);
    if (absl::IsNotFound(read.status())) continue;  // never ran here, or not a service folder
    if (const std::optional<uint64_t> epoch = read.ok() ? ParseServiceEpoch(read->content)
                                                        : std::nullopt) {
      // Read from the previous copy (logged): written again whole, so
      // that placement, which reads it every round, finds it whole and
      // the log says so once.
      if (read->fell_back_because) {
        if (const absl::Status rewritten = WriteServiceEpoch(it->path(), *epoch);
            !rewritten.ok()) {
          spdlog::warn("cannot write {} again from its previous copy: {}",
                       Printable(file.string()), StatusMessage(rewritten));
        }
      }
      continue;
    }
    // What it held; or, when neither copy can be used, what is wrong
    // (the message names the file).
    const std::string what =
        read.ok() ? "epoch file " + Printable(file.string()) + " holds '" +
                        Printable(read->content) + "', not an epoch of at most " +
                        std::to_string(kMaxEpoch)
                  : "epoch file " + Printable(StatusMessage(read.status()));
    // Its previous copy too: left alone, it would be read in its place.
    const absl::Status removed = RemoveDurable(file);
    spdlog::warn("{}: {}; service {} counts as never having run here and takes the cluster's "
                 "epochs",
                 what,
                 removed.ok() ? std::string("removed it")
                              : "cannot remove it (" + StatusMessage(removed) + "), ignoring it",
                 Printable(it->path().filename().string()));
    ++recovered;
  }
  return recovered;
}

}  // namespace domian::services
