// The one-shot plugin host runs as domiand makes them: a real
// domian-plugin-host process per run, with the test plugins, so a crash or
// a hang in the plugin is what the process really does.
#include "core/services/plugin_host_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/services/testing/temp_folder.h"

namespace domian::services {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempFolder;

const std::filesystem::path kHost = DOMIAN_PLUGIN_HOST_BUILT;
const std::filesystem::path kPlugins = DOMIAN_TEST_PLUGIN_DIR;
// A hang is cut short at this; well past a plugin host's start even in an
// ASan build on a loaded machine, so only a real hang reaches it.
constexpr std::chrono::milliseconds kShortTimeout{3000};

TEST(PluginHostCommandTest, AConfigurationIsValidInvalidOrNotChecked) {
  const ConfigCheck valid = CheckConfigInPluginHost(kHost, kPlugins / "safety-probe.so",
                                                    R"({"level":3,"mode":"eco"})");
  EXPECT_EQ(valid.outcome, ConfigCheck::Outcome::kValid) << valid.message;

  const ConfigCheck invalid =
      CheckConfigInPluginHost(kHost, kPlugins / "safety-probe.so", R"({"level":"warm"})");
  ASSERT_EQ(invalid.outcome, ConfigCheck::Outcome::kInvalid) << invalid.message;
  EXPECT_THAT(invalid.problems,
              ElementsAre("level: must be a whole number from 0 to 10, not \"warm\"",
                          "mode: required with level"));

  const ConfigCheck unchecked = CheckConfigInPluginHost(kHost, kPlugins / "echo-c.so", "{}");
  EXPECT_EQ(unchecked.outcome, ConfigCheck::Outcome::kNotChecked);
  EXPECT_EQ(unchecked.message, "not checked by its plugin (it offers no configuration check)");
}

TEST(PluginHostCommandTest, ACheckThatCrashesOrHangsFailsWithAClearMessage) {
  const ConfigCheck crashed = CheckConfigInPluginHost(kHost, kPlugins / "safety-probe.so",
                                                      R"({"crash_in":"validate"})");
  EXPECT_EQ(crashed.outcome, ConfigCheck::Outcome::kFailed);
  EXPECT_THAT(crashed.message, HasSubstr("the plugin host exited with status 2: "));
  EXPECT_THAT(crashed.message, HasSubstr("the plugin crashed (signal 6, SIGABRT, aborted) while "
                                         "checking the configuration"));

  const auto started = std::chrono::steady_clock::now();
  const ConfigCheck hung = CheckConfigInPluginHost(kHost, kPlugins / "safety-probe.so",
                                                   R"({"hang_in":"validate"})", kShortTimeout);
  EXPECT_GE(std::chrono::steady_clock::now() - started, kShortTimeout);
  EXPECT_EQ(hung.outcome, ConfigCheck::Outcome::kFailed);
  EXPECT_EQ(hung.message,
            "the plugin did not finish checking within 3000 ms (the plugin host was killed)");

  const ConfigCheck missing =
      CheckConfigInPluginHost(kHost, kPlugins / "no-such-plugin.so", "{}");
  EXPECT_EQ(missing.outcome, ConfigCheck::Outcome::kFailed);
  EXPECT_THAT(missing.message, HasSubstr("no-such-plugin.so"));

  const ConfigCheck no_host =
      CheckConfigInPluginHost("/nonexistent/domian-plugin-host", kPlugins / "echo-c.so", "{}");
  EXPECT_EQ(no_host.outcome, ConfigCheck::Outcome::kFailed);
  EXPECT_THAT(no_host.message, HasSubstr("cannot start /nonexistent/domian-plugin-host"));
}

TEST(PluginHostCommandTest, MakeSafeRunsInAPluginHost) {
  TempFolder state("domian-safe");
  const absl::Status safe = MakeSafeInPluginHost(kHost, kPlugins / "safety-probe.so",
                                                 "safety-probe", state.path(), R"({"mode":"x"})",
                                                 kShortTimeout);
  EXPECT_TRUE(safe.ok()) << safe;
  std::ifstream marker(state.path() / "safe-marker");
  std::stringstream written;
  written << marker.rdbuf();
  EXPECT_EQ(written.str(), R"({"mode":"x"})");

  const absl::Status failed =
      MakeSafeInPluginHost(kHost, kPlugins / "safety-probe.so", "safety-probe", state.path(),
                           R"({"fail_safe":true})", kShortTimeout);
  EXPECT_EQ(failed.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(failed.message(),
            "domian-plugin-host: safety-probe: make_safe failed: the relay did not answer");

  const absl::Status none = MakeSafeInPluginHost(kHost, kPlugins / "echo-c.so", "echo-c",
                                                 state.path(), "{}", kShortTimeout);
  EXPECT_EQ(none.code(), absl::StatusCode::kUnimplemented);

  const absl::Status hung =
      MakeSafeInPluginHost(kHost, kPlugins / "safety-probe.so", "safety-probe", state.path(),
                           R"({"hang_in":"make_safe"})", kShortTimeout);
  EXPECT_EQ(hung.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(hung.message()), HasSubstr("the hardware may not be safe"));
}

}  // namespace
}  // namespace domian::services
