#include "core/trust/join_code.h"

#include <cstdint>

#include "core/model/values.h"
#include "core/trust/internal/openssl.h"
#include "core/trust/pki.h"

namespace domian::trust {
namespace {

constexpr std::string_view kPrefix = "dj1-";
constexpr std::string_view kBase32Alphabet = "abcdefghijklmnopqrstuvwxyz234567";
constexpr size_t kBase32BitsPerChar = 5;
// SHA-256, as Fingerprint() gives it in hex.
constexpr size_t kFingerprintBytes = 32;
constexpr std::string_view kWhiteSpace = " \t\r\n";

int Base32Value(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

bool IsInviteId(std::string_view id) {
  if (id.size() != kInviteIdChars) return false;
  for (char c : id) {
    if (Base32Value(c) < 0) return false;
  }
  return true;
}

std::string_view Trim(std::string_view text) {
  size_t begin = text.find_first_not_of(kWhiteSpace);
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(kWhiteSpace);
  return text.substr(begin, end - begin + 1);
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

absl::Status Malformed(std::string_view what) {
  return absl::InvalidArgumentError(internal::Concat("the join code is malformed: ", what));
}

}  // namespace

std::string Base32Encode(std::string_view bytes) {
  std::string text;
  text.reserve((bytes.size() * 8 + kBase32BitsPerChar - 1) / kBase32BitsPerChar);
  uint32_t buffer = 0;
  size_t bits = 0;
  for (char c : bytes) {
    buffer = (buffer << 8) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= kBase32BitsPerChar) {
      bits -= kBase32BitsPerChar;
      text += kBase32Alphabet[(buffer >> bits) & 0x1f];
    }
  }
  // The last bits, padded with zeros on the right.
  if (bits > 0) text += kBase32Alphabet[(buffer << (kBase32BitsPerChar - bits)) & 0x1f];
  return text;
}

absl::StatusOr<std::string> Base32Decode(std::string_view text) {
  // Characters left over after the last whole group of 8: 2, 4, 5 and 7
  // carry 1, 2, 3 and 4 bytes; 1, 3 and 6 never come from an encoder.
  switch (text.size() % 8) {
    case 1:
    case 3:
    case 6:
      return absl::InvalidArgumentError("not base32: its length is not one an encoding has");
    default:
      break;
  }
  std::string bytes;
  bytes.reserve(text.size() * kBase32BitsPerChar / 8);
  uint32_t buffer = 0;
  size_t bits = 0;
  for (char c : text) {
    int value = Base32Value(c);
    // The character itself is not shown: this text may be a secret.
    if (value < 0) return absl::InvalidArgumentError("not base32: a character is not a-z or 2-7");
    buffer = (buffer << kBase32BitsPerChar) | static_cast<uint32_t>(value);
    bits += kBase32BitsPerChar;
    if (bits >= 8) {
      bits -= 8;
      bytes += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  // What the encoder padded with must be zeros: one encoding per value.
  if ((buffer & ((1u << bits) - 1)) != 0) {
    return absl::InvalidArgumentError("not base32: the last character has bits set past the end");
  }
  return bytes;
}

std::string NewInviteId() {
  std::string id = RandomBytes(kInviteIdChars);
  // 256 is a multiple of 32: every character is equally likely.
  for (char& c : id) c = kBase32Alphabet[static_cast<unsigned char>(c) % kBase32Alphabet.size()];
  return id;
}

std::string FormatJoinCode(const JoinCode& code) {
  std::string fingerprint = internal::ParseLowerHex(code.fingerprint).value_or("");
  std::string text = internal::Concat(kPrefix, code.id, "-", Base32Encode(code.secret), "-",
                                      Base32Encode(fingerprint), "@");
  for (size_t i = 0; i < code.members.size(); ++i) {
    if (i > 0) text += ',';
    text += code.members[i];
  }
  return text;
}

absl::StatusOr<JoinCode> ParseJoinCode(std::string_view text) {
  text = Trim(text);
  if (text.size() > kMaxCodeChars) {
    return Malformed(internal::Concat("it is longer than ", kMaxCodeChars, " characters"));
  }
  if (!text.starts_with(kPrefix)) {
    return Malformed(internal::Concat("it does not start with ", kPrefix));
  }
  size_t at = text.find('@');
  if (at == std::string_view::npos) return Malformed("no @ before the members' addresses");
  std::vector<std::string_view> parts = Split(text.substr(0, at), '-');
  if (parts.size() != 4) {
    return Malformed("not dj1-<id>-<secret>-<fingerprint>@<members>");
  }

  JoinCode code;
  if (!IsInviteId(parts[1])) {
    return Malformed(internal::Concat("the invitation id is not ", kInviteIdChars,
                                      " characters of a-z and 2-7"));
  }
  code.id = std::string(parts[1]);

  // Neither the secret nor a part of it goes into a message.
  absl::StatusOr<std::string> secret = Base32Decode(parts[2]);
  if (!secret.ok() || secret->size() != kSecretBytes) {
    return Malformed(internal::Concat("the secret is not ", kSecretBytes, " bytes in base32"));
  }
  code.secret = *std::move(secret);

  absl::StatusOr<std::string> fingerprint = Base32Decode(parts[3]);
  if (!fingerprint.ok() || fingerprint->size() != kFingerprintBytes) {
    return Malformed(
        internal::Concat("the CA fingerprint is not ", kFingerprintBytes, " bytes in base32"));
  }
  code.fingerprint = internal::LowerHex(*fingerprint);

  std::string_view members = text.substr(at + 1);
  if (members.empty()) return Malformed("it names no member to join through");
  for (std::string_view member : Split(members, ',')) {
    if (code.members.size() == kMaxCodeMembers) {
      return Malformed(internal::Concat("it names more than ", kMaxCodeMembers, " members"));
    }
    if (!IsValidHostPort(member)) {
      return Malformed(
          internal::Concat("member '", internal::Shown(member), "' is not a host:port address"));
    }
    code.members.emplace_back(member);
  }
  return code;
}

}  // namespace domian::trust
