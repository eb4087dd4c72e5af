#include "tests/support/frozen_thread.h"

#include <sys/ptrace.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace domian::testing {
namespace {

// How often the tracer looks for the traced thread's end.
constexpr auto kEndPoll = std::chrono::milliseconds(10);

}  // namespace

int ThreadNamed(int pid, const std::string& name) {
  std::error_code error;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", error)) {
    std::ifstream in(task.path() / "comm");
    std::string comm;
    std::getline(in, comm);
    if (comm == name) return std::stoi(task.path().filename().string());
  }
  return -1;
}

FrozenThread::FrozenThread(int tid) : tid_(tid) {
  tracer_ = std::thread([this] { Trace(); });
  while (!settled_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

FrozenThread::~FrozenThread() {
  stop_ = true;
  tracer_.join();
}

void FrozenThread::Trace() {
  const auto settle = [this](std::string error) {
    error_ = std::move(error);
    settled_ = true;
  };
  if (::ptrace(PTRACE_SEIZE, tid_, nullptr, nullptr) != 0 ||
      ::ptrace(PTRACE_INTERRUPT, tid_, nullptr, nullptr) != 0) {
    settle(std::string("ptrace: ") + std::strerror(errno));
    return;
  }
  int status = 0;
  if (::waitpid(tid_, &status, __WALL) != tid_ || !WIFSTOPPED(status)) {
    settle("thread " + std::to_string(tid_) + " did not stop");
    return;
  }
  settle("");
  while (!stop_) {
    const pid_t ended = ::waitpid(tid_, &status, __WALL | WNOHANG);
    if (ended == tid_ && (WIFEXITED(status) || WIFSIGNALED(status))) return;
    if (ended < 0 && errno == ECHILD) return;
    std::this_thread::sleep_for(kEndPoll);
  }
  ::ptrace(PTRACE_DETACH, tid_, nullptr, nullptr);
}

}  // namespace domian::testing
