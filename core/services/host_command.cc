#include "core/services/host_command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/services/plugin_host_command.h"

extern char** environ;

namespace domian::services {
namespace {

// Closes a descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::string Errno(const std::string& what, int error) {
  return what + ": " + std::strerror(error);
}

// The input as a file the child reads as stdin: no pipe to keep fed while
// the child runs (a configuration can be larger than a pipe's buffer).
int InputFile(const std::string& input, std::string& error) {
  const int fd = ::memfd_create("domian-host-command-input", MFD_CLOEXEC);
  if (fd < 0) {
    error = Errno("cannot make the input file", errno);
    return -1;
  }
  size_t done = 0;
  while (done < input.size()) {
    const ssize_t wrote = ::write(fd, input.data() + done, input.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) {
      error = Errno("cannot write the input file", errno);
      ::close(fd);
      return -1;
    }
    done += static_cast<size_t>(wrote);
  }
  ::lseek(fd, 0, SEEK_SET);
  return fd;
}

// Reads what is there without blocking; false at the end of the output.
bool Drain(int fd, std::string& output) {
  char buffer[4096];
  while (true) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    if (got == 0) return false;
    const size_t room = kMaxHostCommandOutputBytes - std::min(output.size(), kMaxHostCommandOutputBytes);
    output.append(buffer, std::min(room, static_cast<size_t>(got)));
  }
}

}  // namespace

std::string SignalName(int signal_number) {
  const char* abbreviation = ::sigabbrev_np(signal_number);
  const std::string name = abbreviation != nullptr ? std::string("SIG") + abbreviation
                                                   : "signal " + std::to_string(signal_number);
  return name + " (" + ::strsignal(signal_number) + ")";
}

std::string DescribeWaitStatus(int status) {
  if (WIFSIGNALED(status)) return "killed by " + SignalName(WTERMSIG(status));
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

HostCommandResult RunHostCommand(const std::vector<std::string>& argv, const std::string& input,
                                 std::chrono::milliseconds deadline, const Clock& clock) {
  HostCommandResult result;
  if (argv.empty()) {
    result.error = "no program to run";
    return result;
  }
  const MonoTime until = clock.Now() + deadline;
  Fd in(InputFile(input, result.error));
  if (in.get() < 0) return result;
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) {
    result.error = Errno("cannot make a pipe", errno);
    return result;
  }
  Fd read_end(ends[0]);
  Fd write_end(ends[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDERR_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int spawned = 0;
  {
    absl::MutexLock spawning(&PluginHostSpawnMutex());
    spawned = ::posix_spawn(&pid, argv[0].c_str(), &actions, &attributes, args.data(), environ);
  }
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned != 0) {
    result.error = Errno("cannot start " + argv[0], spawned);
    return result;
  }
  write_end.Reset();  // the child holds it now: EOF once the child is gone
  ::fcntl(read_end.get(), F_SETFL, O_NONBLOCK);

  int status = 0;
  bool ended = false;
  bool open = true;
  while (!ended) {
    if (open) open = Drain(read_end.get(), result.output);
    const pid_t reaped = ::waitpid(pid, &status, WNOHANG);
    if (reaped == pid || (reaped < 0 && errno != EINTR)) {
      ended = reaped == pid;
      break;
    }
    if (clock.Now() >= until) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      result.timed_out = true;
      break;
    }
    // A child that ended while something it left holds the pipe: its
    // end is found by waitpid at the next look, not by the pipe.
    pollfd ready = {read_end.get(), POLLIN, 0};
    ::poll(&ready, static_cast<nfds_t>(open ? 1 : 0), static_cast<int>(kHostCommandPoll.count()));
  }
  if (open) Drain(read_end.get(), result.output);  // what it wrote last
  if (ended) {
    if (WIFSIGNALED(status)) {
      result.signal = WTERMSIG(status);
    } else if (WIFEXITED(status)) {
      result.exit_code = WEXITSTATUS(status);
    }
  }
  return result;
}

}  // namespace domian::services
