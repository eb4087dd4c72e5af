#include "core/common/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace domian {

absl::Status FileIoError(std::string_view what, const std::filesystem::path& path, int error) {
  return absl::Status(absl::ErrnoToStatusCode(error),
                      std::string(what) + " " + path.string() + ": " + std::strerror(error));
}

absl::Status WriteSyncedFile(const std::filesystem::path& file, std::string_view content,
                             mode_t mode) {
  // A file left by a write cut short keeps its mode through O_CREAT: made
  // afresh, the new one gets `mode` (less the umask), never more.
  ::unlink(file.c_str());
  const int fd =
      ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return FileIoError("cannot write", file, errno);
  bool written = true;
  size_t done = 0;
  while (written && done < content.size()) {
    const ssize_t wrote = ::write(fd, content.data() + done, content.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) {
      written = false;
      break;
    }
    done += static_cast<size_t>(wrote);
  }
  written = written && ::fsync(fd) == 0;
  const int error = errno;
  ::close(fd);
  if (!written) {
    ::unlink(file.c_str());
    return FileIoError("cannot write", file, error);
  }
  return absl::OkStatus();
}

absl::Status SyncFolder(const std::filesystem::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return FileIoError("cannot open", folder, errno);
  const bool synced = ::fsync(fd) == 0;
  const int error = errno;
  ::close(fd);
  return synced ? absl::OkStatus() : FileIoError("cannot sync", folder, error);
}

absl::Status WriteFileAtomically(const std::filesystem::path& file, const std::string& content,
                                 mode_t mode) {
  const std::filesystem::path temp = file.string() + ".tmp";
  if (absl::Status written = WriteSyncedFile(temp, content, mode); !written.ok()) return written;
  if (::rename(temp.c_str(), file.c_str()) != 0) {
    return FileIoError("cannot rename into", file, errno);
  }
  // The rename lives in the folder: without this, a power cut may undo it.
  // (Best effort here, as it always was: the file itself is whole.)
  SyncFolder(file.parent_path()).IgnoreError();
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadBoundedFile(const std::filesystem::path& file, size_t max_bytes) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(file.string() + " does not exist");
    return FileIoError("cannot read", file, errno);
  }
  std::string content;
  char buffer[4096];
  while (true) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int error = errno;
      ::close(fd);
      return FileIoError("cannot read", file, error);
    }
    if (got == 0) break;
    content.append(buffer, static_cast<size_t>(got));
    if (content.size() > max_bytes) {
      ::close(fd);
      return absl::FailedPreconditionError(file.string() + " is larger than " +
                                           std::to_string(max_bytes) + " bytes");
    }
  }
  ::close(fd);
  return content;
}

}  // namespace domian
