#include "core/replica/replica_store.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <tuple>

#include "core/common/durable_file.h"
#include "core/model/values.h"

namespace domian::replica {
namespace {

using nlohmann::json;

// A copy file's version line, with room to spare.
constexpr size_t kMaxVersionLineBytes = 1024;
constexpr mode_t kCopyMode = 0600;  // states may hold credentials (a Hue key)

}  // namespace

std::string StateCopy::Version() const {
  return "epoch " + std::to_string(epoch) + " seq " + std::to_string(seq) + " at " +
         hlc.ToString() + " by " + writer + (deleted ? " (deleted)" : "");
}

bool Newer(const StateCopy& a, const StateCopy& b) {
  return std::tie(a.hlc, a.writer, a.epoch, a.seq) > std::tie(b.hlc, b.writer, b.epoch, b.seq);
}

absl::Status CheckCopy(const StateCopy& copy) {
  if (!IsValidServiceName(copy.service)) {
    return absl::InvalidArgumentError("not a service name: " + copy.service.substr(0, 64));
  }
  if (copy.writer.empty() || copy.writer.size() > kMaxWriterBytes) {
    return absl::InvalidArgumentError("a state copy of " + copy.service + " without a valid writer");
  }
  if (copy.bytes.size() > kMaxReplicaStateBytes) {
    return absl::InvalidArgumentError("the state of " + copy.service + " is " +
                                      std::to_string(copy.bytes.size()) + " bytes, over the " +
                                      std::to_string(kMaxReplicaStateBytes) +
                                      " a change may carry to peers");
  }
  if (copy.deleted && !copy.bytes.empty()) {
    return absl::InvalidArgumentError("a deleted state of " + copy.service + " carries bytes");
  }
  if (copy.seq == 0 || copy.hlc.logical > kMaxHlcLogical || copy.parent >= copy.hlc) {
    return absl::InvalidArgumentError("a state copy of " + copy.service + " with no valid version");
  }
  return absl::OkStatus();
}

std::string EncodeCopy(const StateCopy& copy) {
  const json version = {{"epoch", copy.epoch},     {"seq", copy.seq},
                        {"hlc_ms", copy.hlc.wall_ms}, {"hlc_logical", copy.hlc.logical},
                        {"writer", copy.writer},   {"deleted", copy.deleted},
                        {"bytes", copy.bytes.size()},
                        {"parent_ms", copy.parent.wall_ms},
                        {"parent_logical", copy.parent.logical}};
  return version.dump() + "\n" + copy.bytes;
}

absl::StatusOr<StateCopy> DecodeCopy(const std::string& service, const std::string& text) {
  const size_t newline = text.find('\n');
  if (newline == std::string::npos || newline > kMaxVersionLineBytes) {
    return absl::InvalidArgumentError("no version line");
  }
  const json version = json::parse(text.substr(0, newline), nullptr, /*allow_exceptions=*/false);
  const auto number = [&](const char* key) -> std::optional<uint64_t> {
    if (!version.is_object() || !version.contains(key) || !version[key].is_number_unsigned()) {
      return std::nullopt;
    }
    return version[key].get<uint64_t>();
  };
  const auto epoch = number("epoch"), seq = number("seq"), ms = number("hlc_ms"),
             logical = number("hlc_logical"), size = number("bytes");
  if (!epoch || !seq || !ms || !logical || !size || !version["writer"].is_string() ||
      !version["deleted"].is_boolean() || *logical > kMaxHlcLogical) {
    return absl::InvalidArgumentError("a version line that does not parse");
  }
  // Copies written before parents were kept have none (0).
  const auto parent_ms = number("parent_ms"), parent_logical = number("parent_logical");
  if ((parent_ms && !parent_logical) || (!parent_ms && parent_logical) ||
      (parent_logical && *parent_logical > kMaxHlcLogical)) {
    return absl::InvalidArgumentError("a version line that does not parse");
  }
  StateCopy copy{.service = service,
                 .epoch = *epoch,
                 .seq = *seq,
                 .hlc = {*ms, static_cast<uint32_t>(*logical)},
                 .parent = {parent_ms.value_or(0), static_cast<uint32_t>(parent_logical.value_or(0))},
                 .writer = version["writer"].get<std::string>(),
                 .deleted = version["deleted"].get<bool>(),
                 .bytes = text.substr(newline + 1)};
  if (copy.bytes.size() != *size) {
    return absl::InvalidArgumentError("cut short: " + std::to_string(copy.bytes.size()) + " of " +
                                      std::to_string(*size) + " bytes");
  }
  if (absl::Status valid = CheckCopy(copy); !valid.ok()) return valid;
  return copy;
}

ReplicaStore::ReplicaStore(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::error_code error;
  std::filesystem::create_directories(dir_, error);
  for (const auto& entry : std::filesystem::directory_iterator(dir_, error)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || !IsValidServiceName(name)) continue;  // a .tmp left behind
    if (copies_.size() >= kMaxReplicaCopies) break;
    // A torn or damaged file falls back to its previous copy (logged).
    const absl::StatusOr<DurableRead> text =
        ReadDurable(entry.path(), kMaxVersionLineBytes + 1 + kMaxReplicaStateBytes);
    absl::StatusOr<StateCopy> copy =
        text.ok() ? DecodeCopy(name, text->content) : absl::StatusOr<StateCopy>(text.status());
    if (!copy.ok()) {
      spdlog::warn("state copy {} left out: {}", entry.path().string(),
                   StatusMessage(copy.status()));
      continue;
    }
    copies_[name] = *std::move(copy);
  }
}

std::optional<StateCopy> ReplicaStore::Get(const std::string& service) const {
  const auto it = copies_.find(service);
  if (it == copies_.end()) return std::nullopt;
  return it->second;
}

std::vector<StateCopy> ReplicaStore::All() const {
  std::vector<StateCopy> out;
  for (const auto& [name, copy] : copies_) out.push_back(copy);
  return out;
}

absl::StatusOr<ReplicaStore::Offered> ReplicaStore::Offer(const StateCopy& copy) {
  if (absl::Status valid = CheckCopy(copy); !valid.ok()) return valid;
  const auto it = copies_.find(copy.service);
  if (it != copies_.end() && !Newer(copy, it->second)) return Offered::kNotNewer;
  if (it == copies_.end() && copies_.size() >= kMaxReplicaCopies) {
    return absl::ResourceExhaustedError("this node keeps state copies of " +
                                        std::to_string(kMaxReplicaCopies) +
                                        " services already");
  }
  if (absl::Status written = WriteDurable(dir_ / copy.service, EncodeCopy(copy), kCopyMode);
      !written.ok()) {
    return written;
  }
  copies_[copy.service] = copy;
  return Offered::kStored;
}

}  // namespace domian::replica
