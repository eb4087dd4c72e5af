#include "core/common/durable_file.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>

#include "core/common/files.h"

namespace domian {
namespace {

constexpr std::string_view kMagic = "domian-durable/";
// The version after the magic: a header this domiand does not know is a
// file it cannot check, read as damaged (its previous copy is used).
constexpr uint64_t kFormatVersion = 1;
constexpr std::string_view kChecksumTag = "sha256:";
constexpr size_t kChecksumHexDigits = 64;
// A write reads the copy it replaces to see whether it checks before
// keeping it. No file kept this way comes near this (a service's state is
// at most 1 MiB); a larger one is not checked, so not kept.
constexpr size_t kMaxCheckedCopyBytes = size_t{64} << 20;

// SHA-256 of `bytes` in lowercase hex; nullopt when OpenSSL fails (out of
// memory).
std::optional<std::string> Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    return std::nullopt;
  }
  constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xf];
  }
  return hex;
}

bool IsLowerHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// A decimal number followed by `end` at the front of `text`, consumed.
std::optional<uint64_t> TakeNumber(std::string_view& text, char end) {
  uint64_t value = 0;
  const auto [stop, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || stop == text.data() || stop == text.data() + text.size() ||
      *stop != end) {
    return std::nullopt;
  }
  text.remove_prefix(static_cast<size_t>(stop - text.data()) + 1);
  return value;
}

// One copy (FILE or FILE.prev) as a read finds it.
struct Copy {
  enum class Kind { kMissing, kGood, kBad };
  Kind kind = Kind::kMissing;
  std::string content;  // kGood
  bool legacy = false;  // kGood
  // kBad: what is wrong, to follow the file's path in a sentence.
  std::string problem;
  absl::StatusCode code = absl::StatusCode::kOk;
};

Copy Bad(absl::StatusCode code, std::string problem) {
  return {.kind = Copy::Kind::kBad, .problem = std::move(problem), .code = code};
}

Copy TooLarge(size_t max_content_bytes) {
  return Bad(absl::StatusCode::kFailedPrecondition,
             "is larger than " + std::to_string(max_content_bytes) + " bytes");
}

// A first line that ends as a header does (" sha256:" and 64 hex digits)
// belongs to a framed file even when the magic before it was damaged.
bool EndsLikeHeader(std::string_view bytes) {
  const size_t newline = bytes.substr(0, kMaxDurableHeaderBytes).find('\n');
  if (newline == std::string_view::npos) return false;
  const std::string_view line = bytes.substr(0, newline);
  const size_t tail = 1 + kChecksumTag.size() + kChecksumHexDigits;
  if (line.size() < tail) return false;
  const std::string_view end = line.substr(line.size() - tail);
  return end[0] == ' ' && end.substr(1, kChecksumTag.size()) == kChecksumTag &&
         IsLowerHex(end.substr(1 + kChecksumTag.size()));
}

// `bytes` (a whole file, which has a header or a damaged one) checked.
Copy CheckFramed(std::string_view bytes, size_t max_content_bytes) {
  const size_t newline = bytes.substr(0, kMaxDurableHeaderBytes).find('\n');
  if (newline == std::string_view::npos) {
    if (bytes.size() < kMaxDurableHeaderBytes && bytes.starts_with(kMagic)) {
      return Bad(absl::StatusCode::kDataLoss, "is cut short in its header");
    }
    return Bad(absl::StatusCode::kDataLoss, "has a damaged header");
  }
  std::string_view header = bytes.substr(0, newline);
  if (!header.starts_with(kMagic)) {
    return Bad(absl::StatusCode::kDataLoss, "has a damaged header");
  }
  header.remove_prefix(kMagic.size());
  const std::optional<uint64_t> version = TakeNumber(header, ' ');
  if (version && *version != kFormatVersion) {
    return Bad(absl::StatusCode::kFailedPrecondition,
               "is in format version " + std::to_string(*version) + ", which this domiand "
               "does not read");
  }
  const std::optional<uint64_t> length = version ? TakeNumber(header, ' ') : std::nullopt;
  if (!length || !header.starts_with(kChecksumTag)) {
    return Bad(absl::StatusCode::kDataLoss, "has a damaged header");
  }
  header.remove_prefix(kChecksumTag.size());
  if (header.size() != kChecksumHexDigits || !IsLowerHex(header)) {
    return Bad(absl::StatusCode::kDataLoss, "has a damaged header");
  }
  if (*length > max_content_bytes) return TooLarge(max_content_bytes);
  const std::string_view content = bytes.substr(newline + 1);
  if (content.size() < *length) {
    return Bad(absl::StatusCode::kDataLoss, "is truncated: " + std::to_string(content.size()) +
                                                " of " + std::to_string(*length) + " bytes");
  }
  if (content.size() > *length) {
    return Bad(absl::StatusCode::kDataLoss,
               "has " + std::to_string(content.size() - *length) + " bytes past its end");
  }
  if (Sha256Hex(content) != header) {
    return Bad(absl::StatusCode::kDataLoss, "fails its checksum");
  }
  return {.kind = Copy::Kind::kGood, .content = std::string(content)};
}

// `bytes` (a whole file) checked: framed, legacy, or damaged. Legacy only
// when `legacy_allowed` (see IsLegacyAllowed).
Copy Check(std::string_view bytes, size_t max_content_bytes, bool legacy_allowed) {
  if (bytes.empty()) {
    // What a power cut leaves of a file whose rename reached the disk
    // before its data did.
    return Bad(absl::StatusCode::kDataLoss, "is empty");
  }
  if (bytes.starts_with(kMagic) || EndsLikeHeader(bytes)) {
    return CheckFramed(bytes, max_content_bytes);
  }
  if (kMagic.starts_with(bytes)) {
    return Bad(absl::StatusCode::kDataLoss, "is cut short in its header");
  }
  if (!legacy_allowed) {
    return Bad(absl::StatusCode::kDataLoss,
               "has no header, though it was written with one (it has a previous copy)");
  }
  // Legacy: written before domiand framed its files (or by hand). Taken
  // as it is, so an upgrade keeps its state; the next write frames it.
  if (bytes.size() > max_content_bytes) return TooLarge(max_content_bytes);
  return {.kind = Copy::Kind::kGood, .content = std::string(bytes), .legacy = true};
}

// `file` read and checked, never beyond `max_content_bytes` and a header.
Copy ReadCopy(const std::filesystem::path& file, size_t max_content_bytes, bool legacy_allowed) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    // ENOTDIR: what should be its folder is a file; so no FILE either.
    if (error == ENOENT || error == ENOTDIR) return {};
    return Bad(absl::ErrnoToStatusCode(error),
               std::string("cannot be read: ") + std::strerror(error));
  }
  const size_t limit =
      max_content_bytes > std::numeric_limits<size_t>::max() - kMaxDurableHeaderBytes
          ? std::numeric_limits<size_t>::max() - 1
          : max_content_bytes + kMaxDurableHeaderBytes;
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return Bad(absl::StatusCode::kFailedPrecondition, "is not a regular file");
  }
  if (static_cast<uint64_t>(info.st_size) > limit) {
    ::close(fd);
    return TooLarge(max_content_bytes);
  }
  std::string bytes;
  char buffer[4096];
  // One byte past the limit tells a file that grew since fstat.
  while (bytes.size() <= limit) {
    const ssize_t got = ::read(fd, buffer, std::min(sizeof buffer, limit + 1 - bytes.size()));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int error = errno;
      ::close(fd);
      return Bad(absl::ErrnoToStatusCode(error),
                 std::string("cannot be read: ") + std::strerror(error));
    }
    if (got == 0) break;
    bytes.append(buffer, static_cast<size_t>(got));
  }
  ::close(fd);
  if (bytes.size() > limit) return TooLarge(max_content_bytes);
  return Check(bytes, max_content_bytes, legacy_allowed);
}

std::filesystem::path WithSuffix(const std::filesystem::path& file, const char* suffix) {
  return file.string() + suffix;
}

// Whether FILE may be read without a header. FILE.prev is made only by a
// write of this helper, and from then on FILE is always written framed:
// beside a FILE.prev, a FILE without a header is damage (the zeros a
// power cut leaves, the blocks of another file), not a legacy file.
bool IsLegacyAllowed(const std::filesystem::path& file) {
  struct stat info {};
  return ::lstat(WithSuffix(file, kPreviousCopySuffix).c_str(), &info) != 0 &&
         (errno == ENOENT || errno == ENOTDIR);
}

// Before FILE is replaced: FILE becomes FILE.prev when it checks. A FILE
// that does not (damaged, or not a regular file) is left to be replaced,
// and FILE.prev stays the last good copy.
absl::Status KeepAsPrevious(const std::filesystem::path& file,
                            const std::filesystem::path& previous, mode_t mode) {
  struct stat info {};
  if (::lstat(file.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return absl::OkStatus();
  if (ReadCopy(file, kMaxCheckedCopyBytes, IsLegacyAllowed(file)).kind != Copy::Kind::kGood) {
    return absl::OkStatus();
  }
  if (::rename(file.c_str(), previous.c_str()) != 0) {
    return FileIoError("cannot keep the previous copy as", previous, errno);
  }
  // A file written before this helper (or by hand) may be readable by more
  // than `mode` allows, and may hold a secret (a Hue bridge's username).
  // Best effort: the copy is whole either way.
  constexpr mode_t kPermissionBits = 0777;
  if ((info.st_mode & kPermissionBits & ~mode) != 0) {
    ::chmod(previous.c_str(), info.st_mode & kPermissionBits & mode);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteDurable(const std::filesystem::path& file, std::string_view content,
                          mode_t mode) {
  const std::optional<std::string> checksum = Sha256Hex(content);
  if (!checksum) return absl::ResourceExhaustedError("cannot checksum " + file.string());
  std::string framed = std::string(kMagic) + std::to_string(kFormatVersion) + " " +
                       std::to_string(content.size()) + " " + std::string(kChecksumTag) +
                       *checksum + "\n";
  framed += content;
  const std::filesystem::path temp = WithSuffix(file, kTemporarySuffix);
  if (absl::Status written = WriteSyncedFile(temp, framed, mode); !written.ok()) return written;
  if (absl::Status kept = KeepAsPrevious(file, WithSuffix(file, kPreviousCopySuffix), mode);
      !kept.ok()) {
    ::unlink(temp.c_str());
    return kept;
  }
  // A power cut between the two renames leaves FILE.prev alone, which a
  // read takes for FILE: the old content, as if this write never began.
  if (::rename(temp.c_str(), file.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    return FileIoError("cannot rename into", file, error);
  }
  return SyncFolder(file.parent_path());
}

absl::StatusOr<DurableRead> ReadDurable(const std::filesystem::path& file,
                                        size_t max_content_bytes) {
  Copy current = ReadCopy(file, max_content_bytes, IsLegacyAllowed(file));
  if (current.kind == Copy::Kind::kGood) {
    return DurableRead{.content = std::move(current.content), .legacy = current.legacy};
  }
  const std::filesystem::path previous_file = WithSuffix(file, kPreviousCopySuffix);
  // The previous copy of a file written first by an older domiand is
  // that legacy file itself.
  Copy previous = ReadCopy(previous_file, max_content_bytes, /*legacy_allowed=*/true);
  if (previous.kind == Copy::Kind::kGood) {
    std::string why = current.kind == Copy::Kind::kMissing ? "does not exist" : current.problem;
    spdlog::warn("{} {}; using its previous copy {}", file.string(), why,
                 previous_file.string());
    return DurableRead{.content = std::move(previous.content),
                       .fell_back_because = std::move(why),
                       .legacy = previous.legacy};
  }
  const std::string about_previous = previous.kind == Copy::Kind::kMissing
                                         ? ", and it has no previous copy"
                                         : ", and its previous copy " + previous.problem;
  if (current.kind == Copy::Kind::kMissing) {
    return absl::NotFoundError(file.string() + " does not exist" +
                               (previous.kind == Copy::Kind::kMissing ? "" : about_previous));
  }
  return absl::Status(current.code, file.string() + " " + current.problem + about_previous);
}

absl::Status RemoveDurable(const std::filesystem::path& file) {
  bool removed = false;
  // FILE.prev first: cut short here, FILE is left, still whole, rather
  // than an older copy that a read would take for it.
  for (const std::filesystem::path& path :
       {WithSuffix(file, kPreviousCopySuffix), file, WithSuffix(file, kTemporarySuffix)}) {
    if (::unlink(path.c_str()) == 0) {
      removed = true;
    } else if (errno != ENOENT && errno != ENOTDIR) {
      return FileIoError("cannot remove", path, errno);
    }
  }
  return removed ? SyncFolder(file.parent_path()) : absl::OkStatus();
}

}  // namespace domian
