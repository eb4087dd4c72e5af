#include "core/services/plugin_host_command.h"

#include <domian/plugin.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <thread>

#include "core/common/utf8.h"

extern char** environ;

namespace domian::services {
namespace {

// How often a run is looked at while nothing arrives, so the deadline is
// kept to within this much.
constexpr int kPollMillis = 50;
// How often a plugin host whose output is closed is looked at until it
// has exited.
constexpr int kExitPollMillis = 10;

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int value) : fd(value) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Close(); }
  void Close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

bool Pipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  read_end.fd = fds[0];
  write_end.fd = fds[1];
  return true;
}

// The last non-empty line of `text`, for a message.
std::string LastLine(const std::string& text) {
  size_t end = text.find_last_not_of("\r\n");
  if (end == std::string::npos) return "";
  const size_t start = text.rfind('\n', end);
  return ToValidUtf8(text.substr(start == std::string::npos ? 0 : start + 1,
                                 end - (start == std::string::npos ? 0 : start + 1) + 1));
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(ToValidUtf8(std::move(line)));
    start = end + 1;
  }
  return lines;
}

// Why a run that did not end as the protocol says failed.
std::string Failure(const PluginHostRun& run) {
  std::string why = "the plugin host " + run.Describe();
  const std::string said = LastLine(run.err);
  if (!said.empty()) why += ": " + said;
  return why;
}

void ConsumePendingSigpipe() {
  sigset_t pending;
  sigemptyset(&pending);
  if (::sigpending(&pending) != 0 || sigismember(&pending, SIGPIPE) != 1) return;
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  const timespec now{0, 0};
  ::sigtimedwait(&pipe_signal, nullptr, &now);
}

}  // namespace

absl::Mutex& PluginHostSpawnMutex() {
  ABSL_CONST_INIT static absl::Mutex mu(absl::kConstInit);
  return mu;
}

std::string PluginHostRun::Describe() const {
  if (timed_out) return "did not finish in time (killed)";
  if (term_signal != 0) {
    return "was killed by signal " + std::to_string(term_signal) + " (" +
           ::strsignal(term_signal) + ")";
  }
  return "exited with status " + std::to_string(exit_code);
}

absl::StatusOr<PluginHostRun> RunPluginHost(const std::filesystem::path& binary,
                                            const std::vector<std::string>& args,
                                            const std::string& input,
                                            std::chrono::milliseconds timeout) {
  Fd in_read, in_write, out_read, out_write, err_read, err_write;
  if (!Pipe(in_read, in_write) || !Pipe(out_read, out_write) || !Pipe(err_read, err_write)) {
    return absl::InternalError(std::string("cannot make pipes: ") + std::strerror(errno));
  }
  std::vector<std::string> argv_text;
  argv_text.push_back(binary.string());
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_text) argv.push_back(arg.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, in_read.fd, STDIN_FILENO);
  ::posix_spawn_file_actions_adddup2(&actions, out_write.fd, STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(&actions, err_write.fd, STDERR_FILENO);
  pid_t pid = -1;
  int spawned = 0;
  {
    absl::MutexLock spawning(&PluginHostSpawnMutex());
    spawned = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  }
  ::posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return absl::FailedPreconditionError("cannot start " + binary.string() + ": " +
                                         std::strerror(spawned));
  }
  in_read.Close();
  out_write.Close();
  err_write.Close();
  ::fcntl(in_write.fd, F_SETFL, O_NONBLOCK);

  // SIGPIPE (a plugin host that exits before reading all its input) is
  // blocked in this thread while it writes; see the end.
  sigset_t pipe_signal, old_mask;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_signal, &old_mask);

  PluginHostRun run;
  size_t written = 0;
  if (input.empty()) in_write.Close();
  const auto until = std::chrono::steady_clock::now() + timeout;
  char buffer[8192];
  while (out_read.fd >= 0 || err_read.fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      run.timed_out = true;
      break;
    }
    std::array<pollfd, 3> fds = {{{out_read.fd, POLLIN, 0},
                                  {err_read.fd, POLLIN, 0},
                                  {in_write.fd, POLLOUT, 0}}};
    const int ready = ::poll(fds.data(), fds.size(),
                             static_cast<int>(std::min<int64_t>(left.count(), kPollMillis)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    if (fds[2].revents != 0) {
      const ssize_t n = ::write(in_write.fd, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      // All written, or the other side stopped reading: end of input.
      if (written == input.size() || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        in_write.Close();
      }
    }
    const std::array<std::pair<Fd*, std::string*>, 2> sources = {
        {{&out_read, &run.out}, {&err_read, &run.err}}};
    for (size_t index = 0; index < sources.size(); ++index) {
      if (fds[index].revents == 0) continue;
      Fd& source = *sources[index].first;
      std::string* target = sources[index].second;
      const ssize_t n = ::read(source.fd, buffer, sizeof buffer);
      if (n > 0) {
        const size_t room = kMaxPluginHostOutputBytes - target->size();
        target->append(buffer, std::min(static_cast<size_t>(n), room));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        source.Close();
      }
    }
  }
  // Its output is closed; it may still be running (or have closed its
  // output and hung): it gets what is left of the deadline to exit.
  int status = 0;
  while (!run.timed_out) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) break;
    if (std::chrono::steady_clock::now() >= until) {
      run.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kExitPollMillis));
  }
  if (run.timed_out) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  // A write to a plugin host that had stopped reading raised SIGPIPE for
  // this thread: take it before unblocking, so it does not end the caller.
  ConsumePendingSigpipe();
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  if (WIFSIGNALED(status)) {
    run.term_signal = WTERMSIG(status);
  } else if (WIFEXITED(status)) {
    run.exited = !run.timed_out;
    run.exit_code = WEXITSTATUS(status);
  }
  return run;
}

ConfigCheck CheckConfigInPluginHost(const std::filesystem::path& binary,
                                    const std::filesystem::path& plugin,
                                    const std::string& config_json,
                                    std::chrono::milliseconds timeout) {
  ConfigCheck check;
  const absl::StatusOr<PluginHostRun> run =
      RunPluginHost(binary, {"--validate-config", "--plugin", plugin.string()}, config_json,
                    timeout);
  if (!run.ok()) {
    check.message = StatusMessage(run.status());
    return check;
  }
  if (run->timed_out) {
    check.message = "the plugin did not finish checking within " +
                    std::to_string(timeout.count()) + " ms (the plugin host was killed)";
    return check;
  }
  if (run->term_signal != 0) {
    check.message = "the plugin host " + run->Describe() + " while the plugin checked it";
    return check;
  }
  switch (run->exit_code) {
    case kHostExitOk:
      check.outcome = ConfigCheck::Outcome::kValid;
      return check;
    case kHostExitNo:
      check.outcome = ConfigCheck::Outcome::kInvalid;
      check.problems = Lines(run->out);
      if (check.problems.empty()) check.problems.push_back(": refused without a reason");
      return check;
    case kHostExitNotOffered:
      check.outcome = ConfigCheck::Outcome::kNotChecked;
      check.message = LastLine(run->out);
      return check;
    default:
      check.message = Failure(*run);
      return check;
  }
}

absl::Status MakeSafeInPluginHost(const std::filesystem::path& binary,
                                  const std::filesystem::path& plugin, const std::string& service,
                                  const std::filesystem::path& state_dir,
                                  const std::string& config_json,
                                  std::chrono::milliseconds timeout) {
  const absl::StatusOr<PluginHostRun> run = RunPluginHost(
      binary,
      {"--make-safe", "--plugin", plugin.string(), "--service", service, "--state-dir",
       state_dir.string()},
      config_json, timeout);
  if (!run.ok()) return run.status();
  if (run->timed_out) {
    return absl::DeadlineExceededError("make_safe did not finish within " +
                                       std::to_string(timeout.count()) +
                                       " ms (the plugin host was killed); the hardware may not "
                                       "be safe");
  }
  if (run->exited && run->exit_code == kHostExitOk) return absl::OkStatus();
  if (run->exited && run->exit_code == kHostExitNotOffered) {
    return absl::UnimplementedError(LastLine(run->err));
  }
  if (run->exited && run->exit_code == kHostExitNo) {
    // Its last line says so: "domian-plugin-host: <service>: make_safe failed: ...".
    return absl::AbortedError(LastLine(run->err));
  }
  return absl::AbortedError(Failure(*run) + "; the hardware may not be safe");
}

}  // namespace domian::services
