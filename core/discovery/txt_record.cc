#include "core/discovery/txt_record.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "core/model/values.h"

namespace domian::discovery {
namespace {

constexpr char kKeyTxtVersion[] = "txtvers";
constexpr char kKeyId[] = "id";
constexpr char kKeyCluster[] = "cluster";
constexpr char kKeyVersion[] = "version";
constexpr char kKeyProtocol[] = "proto";

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// RFC 6763 6.4: printable US-ASCII except '=', at least one character.
bool IsValidKey(const std::string& key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return c >= 0x20 && c <= 0x7e && c != '=';
  });
}

// Printable ASCII only: the values end up in log lines.
std::string Printable(const std::string& text, size_t limit = 64) {
  std::string out;
  for (const char c : text.substr(0, limit)) {
    out += (c >= 0x20 && c <= 0x7e) ? c : '?';
  }
  if (text.size() > limit) out += "...";
  return out;
}

// Why a record without a usable `key` is refused: "no id", "invalid id 'x'".
absl::Status Unusable(const std::string& key, const std::string* value) {
  if (!value) return absl::InvalidArgumentError("no " + key);
  return absl::InvalidArgumentError("invalid " + key + " '" + Printable(*value) + "'");
}

bool ParseUint32(const std::string& text, uint32_t& value) {
  if (text.empty() || text.size() > 9) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::vector<std::string> EncodeTxt(const Advertisement& ad) {
  return {
      std::string(kKeyTxtVersion) + "=" + std::to_string(kTxtVersion),
      std::string(kKeyId) + "=" + ad.id,
      std::string(kKeyCluster) + "=" + ad.cluster,
      std::string(kKeyVersion) + "=" + ad.version,
      std::string(kKeyProtocol) + "=" + std::to_string(ad.protocol),
  };
}

absl::StatusOr<Advertisement> ParseTxt(const std::vector<std::string>& entries) {
  if (entries.size() > kMaxTxtEntries) {
    return absl::InvalidArgumentError(std::to_string(entries.size()) +
                                      " TXT strings, more than the " +
                                      std::to_string(kMaxTxtEntries) + " a domain sends");
  }
  size_t total = 0;
  std::map<std::string, std::string> values;
  for (const std::string& entry : entries) {
    if (entry.size() > kMaxTxtEntryBytes) {
      return absl::InvalidArgumentError("a TXT string of " + std::to_string(entry.size()) +
                                        " bytes");
    }
    total += entry.size() + 1;  // with its length byte
    const size_t equals = entry.find('=');
    const std::string key = Lower(entry.substr(0, equals));
    if (!IsValidKey(key)) continue;  // RFC 6763 6.4: silently ignored
    // A key without '=' is a boolean attribute; none of ours are.
    if (equals == std::string::npos) continue;
    // RFC 6763 6.4 keeps the first of repeated keys, but which one is
    // first depends on the software in between; a record that says two
    // things about itself is not trusted at all.
    const auto [it, fresh] = values.try_emplace(key, entry.substr(equals + 1));
    if (!fresh && it->second != entry.substr(equals + 1)) {
      return absl::InvalidArgumentError("the key '" + Printable(key) +
                                        "' is given twice with different values");
    }
  }
  if (total > kMaxTxtBytes) {
    return absl::InvalidArgumentError("a TXT record of " + std::to_string(total) +
                                      " bytes, over the limit of " + std::to_string(kMaxTxtBytes));
  }
  const auto value = [&](const char* key) -> const std::string* {
    const auto it = values.find(key);
    return it == values.end() ? nullptr : &it->second;
  };
  uint32_t txt_version = 0;
  if (const std::string* text = value(kKeyTxtVersion); !text || !ParseUint32(*text, txt_version)) {
    return absl::InvalidArgumentError("no usable txtvers");
  }
  // A later layout keeps these keys (they are what makes it a domain);
  // it may add others, which are ignored above.
  Advertisement ad;
  const std::string* id = value(kKeyId);
  if (!id || !IsValidNodeId(*id)) {
    return Unusable(kKeyId, id);
  }
  ad.id = *id;
  const std::string* cluster = value(kKeyCluster);
  if (!cluster || !IsValidClusterName(*cluster)) {
    return Unusable(kKeyCluster, cluster);
  }
  ad.cluster = *cluster;
  const std::string* version = value(kKeyVersion);
  if (!version || !IsValidSemver(*version)) {
    return Unusable(kKeyVersion, version);
  }
  ad.version = *version;
  const std::string* protocol = value(kKeyProtocol);
  if (!protocol || !ParseUint32(*protocol, ad.protocol) || ad.protocol == 0) {
    return Unusable(kKeyProtocol, protocol);
  }
  return ad;
}

std::string InstanceName(const std::string& id) { return id.substr(0, kMaxInstanceNameBytes); }

}  // namespace domian::discovery
