#include "core/mqtt/password_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "core/common/files.h"

namespace domian::mqtt {
namespace {

// Group read is how the package gives the daemon (group domian) a file
// root owns; anything more lets others read or replace the secret.
constexpr mode_t kRefusedModeBits = S_IWGRP | S_IRWXO;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string Octal(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

}  // namespace

absl::StatusOr<std::string> ReadPasswordFile(const std::filesystem::path& file) {
  // O_NONBLOCK: a FIFO put there must not hang the daemon's start.
  const Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) {
    if (errno == ENOENT) return absl::NotFoundError(file.string() + " does not exist");
    return FileIoError("cannot read the password file", file, errno);
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return FileIoError("cannot read the password file", file, errno);
  if (!S_ISREG(info.st_mode)) {
    return absl::FailedPreconditionError(file.string() + " is not a regular file");
  }
  if ((info.st_mode & kRefusedModeBits) != 0) {
    return absl::FailedPreconditionError(
        file.string() + ": others may read or change this password (mode " +
        Octal(info.st_mode) + "): chmod 640 it (or 600), owned by root and group domian");
  }
  std::string content;
  char buffer[kMaxPasswordFileBytes + 1];
  while (content.size() <= kMaxPasswordFileBytes) {
    const ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return FileIoError("cannot read the password file", file, errno);
    if (got == 0) break;
    content.append(buffer, static_cast<size_t>(got));
  }
  if (content.size() > kMaxPasswordFileBytes) {
    return absl::FailedPreconditionError(file.string() + " is larger than " +
                                         std::to_string(kMaxPasswordFileBytes) +
                                         " bytes: it should hold the password alone");
  }
  if (!content.empty() && content.back() == '\n') content.pop_back();
  if (!content.empty() && content.back() == '\r') content.pop_back();
  if (content.empty()) {
    return absl::FailedPreconditionError(file.string() + " is empty: write the password in it");
  }
  if (content.find_first_of("\r\n") != std::string::npos) {
    return absl::FailedPreconditionError(file.string() +
                                         " holds more than one line: it should hold the "
                                         "password alone");
  }
  if (content.find('\0') != std::string::npos) {
    return absl::FailedPreconditionError(file.string() + " holds a NUL byte");
  }
  return content;
}

}  // namespace domian::mqtt
