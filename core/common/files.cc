#include "core/common/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace domian {
namespace {

absl::Status IoError(const std::string& what, const std::filesystem::path& path, int error) {
  return absl::Status(absl::ErrnoToStatusCode(error),
                      what + " " + path.string() + ": " + std::strerror(error));
}

}  // namespace

absl::Status WriteFileAtomically(const std::filesystem::path& file, const std::string& content,
                                 mode_t mode) {
  const std::filesystem::path temp = file.string() + ".tmp";
  // A file left by a write cut short keeps its mode through O_CREAT: made
  // afresh, the new one gets `mode` (less the umask), never more.
  ::unlink(temp.c_str());
  const int fd =
      ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return IoError("cannot write", temp, errno);
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
    ::unlink(temp.c_str());
    return IoError("cannot write", temp, error);
  }
  if (::rename(temp.c_str(), file.c_str()) != 0) return IoError("cannot rename into", file, errno);
  // The rename lives in the folder: without this, a power cut may undo it.
  const int dir_fd = ::open(file.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadBoundedFile(const std::filesystem::path& file, size_t max_bytes) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(file.string() + " does not exist");
    return IoError("cannot read", file, errno);
  }
  std::string content;
  char buffer[4096];
  while (true) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int error = errno;
      ::close(fd);
      return IoError("cannot read", file, error);
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
