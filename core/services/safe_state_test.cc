// SafeStateRunner against stand-ins for domian-plugin-host --make-safe:
// small shell scripts that answer with each exit code the real one uses,
// hang, or check that no other run of the same service overlaps them. The
// deadline is measured on a FakeClock, so an overrun is tested without
// waiting seven seconds. (The real plugin host and plugins are driven
// through it in tests/failsafe_test.cc.)
#include "core/services/safe_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <thread>

#include "core/services/host_command.h"
#include "core/services/testing/temp_folder.h"

namespace domian::services {
namespace {

using ::testing::HasSubstr;
using testing::TempFolder;

class SafeStateTest : public ::testing::Test {
 protected:
  // A stand-in host: `body` runs with the runner's arguments ($7 is the
  // state folder) and the configuration on stdin.
  SafeStateRunner& Host(const std::string& body) {
    const std::filesystem::path script = folder_.path() / "host.sh";
    std::ofstream(script) << "#!/bin/sh\n" << body << "\n";
    std::filesystem::permissions(script, std::filesystem::perms(0755));
    runner_ = std::make_unique<SafeStateRunner>(SafeStateRunner::Options{.host_binary = script},
                                                clock_);
    return *runner_;
  }
  SafeStateRequest Request(const std::string& config = R"({"relay": "r"})") {
    return {.service = "thermostat",
            .plugin = folder_.path() / "thermostat.so",
            .config_json = config,
            .state_dir = folder_.path() / "services" / "thermostat",
            .why = "a test"};
  }

  FakeClock clock_;
  TempFolder folder_{"domian-safe-state"};
  std::unique_ptr<SafeStateRunner> runner_;
};

TEST_F(SafeStateTest, TheHardwareIsSafeWhenTheHostSaysSoAndThePluginsWordsAreKept) {
  SafeStateRunner& runner = Host(
      "cat > \"$7/config\"\n"
      "echo '2026-12-07 09:30:00.000 [info] [thermostat] safe state: relay OFF (file r)' >&2\n"
      "exit 0");
  const SafeStateOutcome outcome = runner.Run(Request());
  EXPECT_EQ(outcome.kind, SafeStateOutcome::Kind::kSafe);
  EXPECT_EQ(outcome.message, "safe state: relay OFF (file r)") << "the logger's prefix is dropped";
  EXPECT_EQ(outcome.Summary(), "hardware set safe");
  std::ifstream config(folder_.path() / "services" / "thermostat" / "config");
  std::string seen;
  std::getline(config, seen);
  EXPECT_EQ(seen, R"({"relay": "r"})") << "the configuration comes on stdin";
}

TEST_F(SafeStateTest, EveryOtherEndSaysTheHardwareMayNotBeSafe) {
  SafeStateOutcome outcome =
      Host("echo 'relay write failed: Permission denied' >&2; exit 1").Run(Request());
  EXPECT_EQ(outcome.kind, SafeStateOutcome::Kind::kNotSafe);
  EXPECT_EQ(outcome.message, "make_safe failed: relay write failed: Permission denied");
  EXPECT_THAT(outcome.Summary(), HasSubstr("hardware may not be safe: make_safe failed"));

  outcome = Host("echo 'plugin refused: no such file' >&2; exit 2").Run(Request());
  EXPECT_EQ(outcome.kind, SafeStateOutcome::Kind::kNotSafe);
  EXPECT_THAT(outcome.message, HasSubstr("exited with status 2: plugin refused: no such file"));

  outcome = Host("kill -SEGV $$").Run(Request());
  EXPECT_EQ(outcome.kind, SafeStateOutcome::Kind::kNotSafe);
  EXPECT_THAT(outcome.message, HasSubstr("killed by SIGSEGV (Segmentation fault)"));

  runner_ = std::make_unique<SafeStateRunner>(
      SafeStateRunner::Options{.host_binary = folder_.path() / "no-such-host"}, clock_);
  outcome = runner_->Run(Request());
  EXPECT_EQ(outcome.kind, SafeStateOutcome::Kind::kNotSafe);
  EXPECT_THAT(outcome.message, HasSubstr("cannot start"));
}

TEST_F(SafeStateTest, APluginWithoutASafeStateIsNothingToDo) {
  const SafeStateOutcome outcome =
      Host("echo 'the plugin offers no safe state'; exit 3").Run(Request());
  EXPECT_EQ(outcome.kind, SafeStateOutcome::Kind::kNoSafeState);
  EXPECT_EQ(outcome.Summary(), "");
}

TEST_F(SafeStateTest, AnOverrunIsKilledAtTheDeadlineOnTheClock) {
  SafeStateRunner& runner = Host("echo 'opening the relay'; exec sleep 600");
  std::thread clock_mover([&] {
    // The run has started (or will start) before the clock passes the
    // deadline; a real 600 s sleep is never waited for.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    clock_.Advance(kSafeStateDeadline);
  });
  const auto began = std::chrono::steady_clock::now();
  const SafeStateOutcome outcome = runner.Run(Request());
  clock_mover.join();
  EXPECT_EQ(outcome.kind, SafeStateOutcome::Kind::kNotSafe);
  EXPECT_THAT(outcome.message, HasSubstr("ran past 7000 ms and was killed (opening the relay)"));
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(60));
}

TEST_F(SafeStateTest, RunsForOneServiceTakeTurns) {
  // A second run inside the first would find the lock folder taken.
  SafeStateRunner& runner = Host(
      "mkdir \"$7/running\" || { echo overlapped; exit 1; }\n"
      "sleep 0.2\n"
      "rmdir \"$7/running\"\n"
      "echo safe; exit 0");
  std::vector<SafeStateOutcome> outcomes(3);
  std::vector<std::thread> threads;
  for (SafeStateOutcome& outcome : outcomes) {
    threads.emplace_back([&] { outcome = runner.Run(Request()); });
  }
  for (std::thread& thread : threads) thread.join();
  for (const SafeStateOutcome& outcome : outcomes) {
    EXPECT_EQ(outcome.kind, SafeStateOutcome::Kind::kSafe) << outcome.message;
  }
}

TEST(HostCommandTest, SignalsAreNamed) {
  EXPECT_EQ(SignalName(SIGSEGV), "SIGSEGV (Segmentation fault)");
  EXPECT_EQ(DescribeWaitStatus(SIGKILL), "killed by SIGKILL (Killed)");
  EXPECT_EQ(DescribeWaitStatus(3 << 8), "exited with status 3");
}

}  // namespace
}  // namespace domian::services
