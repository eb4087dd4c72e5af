// HashiCorp Serf agents (Debian's `serf`) on 127.0.0.1, the system
// membership_bench compares domiand with in the same run: the same N, the
// same SIGKILL, the same machine load.
//
// Each agent's log is read through a pipe as it is written and every line
// is stamped on arrival with this machine's clock in milliseconds: Serf's
// own log has one-second timestamps, and its event handlers are held back
// by the agent's coalescing (1 to 3 s), so neither would time a verdict.
// The line "serf: EventMemberFailed: NAME" is logged the moment the member
// turns `failed` in `serf members`.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace domian::bench {

// The serf binary: $DOMIAN_SERF, else serf on the PATH.
std::string SerfPath();

class SerfAgent {
 public:
  using WallClock = std::chrono::system_clock;

  // `join`: the bind address of an agent to join at start ("" for none).
  SerfAgent(std::string name, std::string join);
  ~SerfAgent();  // SIGKILLs the agent if it still runs
  SerfAgent(const SerfAgent&) = delete;
  SerfAgent& operator=(const SerfAgent&) = delete;

  void Start();
  void Kill();   // SIGKILL, then reaps it
  void Leave();  // SIGINT: a graceful leave, then reaps it
  int Pid() const;  // -1 when not running

  const std::string& name() const { return name_; }
  const std::string& bind() const { return bind_; }

  // When this agent first logged a line holding every needle, at or after
  // `since`.
  std::optional<WallClock::time_point> LoggedAt(const std::vector<std::string>& needles,
                                                WallClock::time_point since) const;
  size_t CountLogged(const std::string& needle) const;
  // `serf members` asked of this agent: "alive", "failed", "left", or ""
  // when `member` is not listed; nullopt when the command failed (on a
  // loaded machine it can time out).
  std::optional<std::string> MemberStatus(const std::string& member) const;
  // How many members `serf members` lists as alive (itself included).
  int AliveMembers() const;

 private:
  struct Line {
    WallClock::time_point at;
    std::string text;
  };
  struct Process;

  std::optional<std::string> Members() const;

  std::string name_;
  std::string join_;
  std::string bind_;
  std::string rpc_;
  std::unique_ptr<Process> process_;
  std::thread reader_;
  mutable std::mutex mu_;
  std::vector<Line> lines_;
};

}  // namespace domian::bench
