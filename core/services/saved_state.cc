#include "core/services/saved_state.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include "core/model/identity.h"

namespace domian::services {

namespace {

// An epoch is at most 19 digits; anything longer is poisoned, and only
// this much of it is read (and shown in the log line).
constexpr size_t kMaxEpochFileBytes = 64;

std::optional<std::string> ReadFile(const std::filesystem::path& file,
                                    size_t limit = std::string::npos) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  if (limit == std::string::npos) {
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  std::string text(limit, '\0');
  in.read(text.data(), static_cast<std::streamsize>(limit));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

// What failed on which file, with the system's reason (errno).
absl::Status FileError(std::string_view what, const std::filesystem::path& file, int error) {
  return absl::ErrnoToStatus(error, std::string(what) + " " + file.string());
}

absl::Status WriteAll(int fd, const std::string& data, const std::filesystem::path& file) {
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FileError("cannot write", file, errno);
    if (n == 0) return FileError("cannot write", file, EIO);
    written += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status SyncFolder(const std::filesystem::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return FileError("cannot open", folder, errno);
  const absl::Status synced =
      ::fsync(fd) == 0 ? absl::OkStatus() : FileError("cannot sync", folder, errno);
  ::close(fd);
  return synced;
}

// Writes a new file and renames it over the old one. `durable`: the new
// file is synced before the rename and the folder after it, so after a
// power cut the file holds either the old content or the new, never an
// empty one and never the old one once this returned OK.
absl::Status ReplaceFile(const std::filesystem::path& file, const std::string& content,
                         bool durable) {
  const std::filesystem::path temporary = file.string() + ".new";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return FileError("cannot create", temporary, errno);
  absl::Status written = WriteAll(fd, content, temporary);
  if (written.ok() && durable && ::fsync(fd) != 0) {
    written = FileError("cannot sync", temporary, errno);
  }
  if (::close(fd) != 0 && written.ok()) written = FileError("cannot close", temporary, errno);
  if (!written.ok()) return written;
  std::error_code error;
  std::filesystem::rename(temporary, file, error);
  if (error) return FileError("cannot rename " + temporary.string() + " to", file, error.value());
  return durable ? SyncFolder(file.parent_path()) : absl::OkStatus();
}

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
  return ReadFile(service_dir / kServiceStateFile);
}

absl::Status WriteServiceState(const std::filesystem::path& service_dir,
                               const std::string& state) {
  return ReplaceFile(service_dir / kServiceStateFile, state, /*durable=*/false);
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
  const std::optional<std::string> text =
      ReadFile(service_dir / kServiceEpochFile, kMaxEpochFileBytes + 1);
  if (!text || text->size() > kMaxEpochFileBytes) return 0;
  return ParseServiceEpoch(*text).value_or(0);
}

absl::Status WriteServiceEpoch(const std::filesystem::path& service_dir, uint64_t epoch) {
  return ReplaceFile(service_dir / kServiceEpochFile, std::to_string(epoch), /*durable=*/true);
}

size_t RecoverServiceEpochs(const std::filesystem::path& services_dir) {
  size_t recovered = 0;
  std::error_code error;
  for (std::filesystem::directory_iterator it(services_dir, error), end; !error && it != end;
       it.increment(error)) {
    const std::filesystem::path file = it->path() / kServiceEpochFile;
    const std::optional<std::string> text = ReadFile(file, kMaxEpochFileBytes + 1);
    if (!text) continue;  // never ran here, or not a service folder
    if (text->size() <= kMaxEpochFileBytes && ParseServiceEpoch(*text)) continue;
    std::string shown = Printable(text->substr(0, kMaxEpochFileBytes));
    if (text->size() > kMaxEpochFileBytes) shown += "...";
    std::error_code removed;
    std::filesystem::remove(file, removed);
    spdlog::warn("epoch file {} holds '{}', not an epoch of at most {}: {}; service {} counts "
                 "as never having run here and takes the cluster's epochs",
                 Printable(file.string()), shown, kMaxEpoch,
                 removed ? "cannot remove it (" + removed.message() + "), ignoring it"
                         : std::string("removed it"),
                 Printable(it->path().filename().string()));
    ++recovered;
  }
  return recovered;
}

}  // namespace domian::services
