// Loading real plugin .so files built from tests/plugins/ (a C plugin, a
// C++ SDK plugin, and plugins that must be refused), and running them
// inline.
#include "core/services/plugin_library.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include "core/services/plugin_instance.h"
#include "core/services/testing/temp_folder.h"

namespace domian::services {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempFolder;

const std::filesystem::path kPlugins = DOMIAN_TEST_PLUGIN_DIR;
const std::filesystem::path kRefused = DOMIAN_TEST_REFUSED_DIR;
// The ABI probes (plugin_api/abi): built against the frozen 1.0 header,
// and against the current one.
const std::filesystem::path kProbeV10 = DOMIAN_ABI_PROBE_V1_0;
const std::filesystem::path kProbe = DOMIAN_ABI_PROBE;

std::shared_ptr<const PluginLibrary> MustLoad(const std::filesystem::path& path) {
  auto loaded = PluginLibrary::Load(path);
  if (!loaded.ok()) {
    ADD_FAILURE() << loaded.status();
    return nullptr;
  }
  return *loaded;
}

std::string RefusalOf(const std::filesystem::path& path) {
  auto loaded = PluginLibrary::Load(path);
  if (loaded.ok()) return "(loaded)";
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition);
  return StatusMessage(loaded.status());
}

// Why a permission check refused; "(fine)" when it did not.
std::string ProblemOf(const absl::Status& problem) {
  if (problem.ok()) return "(fine)";
  EXPECT_EQ(problem.code(), absl::StatusCode::kPermissionDenied);
  return StatusMessage(problem);
}

// A call's reply; a failure never equals one.
std::string Reply(const absl::StatusOr<std::string>& result) {
  return result.ok() ? *result : "(failed: " + result.status().ToString() + ")";
}

// The plugin's own status behind a call's outcome; the code the core
// carries it as is checked on the way.
domian_status PluginStatus(const absl::Status& status) {
  const domian_status plugin_status = PluginStatusOf(status);
  EXPECT_EQ(status.code(), StatusFromPlugin(plugin_status, "").code()) << status;
  return plugin_status;
}
template <typename T>
domian_status PluginStatus(const absl::StatusOr<T>& result) {
  return PluginStatus(result.status());
}

struct Recorded {
  std::vector<std::pair<std::string, std::optional<std::string>>> endpoints;
  std::vector<std::pair<std::string, std::string>> events;
};

std::unique_ptr<PluginInstance> MustCreate(std::shared_ptr<const PluginLibrary> library,
                                           const std::string& config, Recorded* recorded,
                                           const std::filesystem::path& state_dir = "/tmp") {
  HostCallbacks callbacks;
  if (recorded) {
    callbacks.publish_endpoint = [recorded](const std::string& name,
                                            const std::optional<std::string>& endpoint) {
      recorded->endpoints.emplace_back(name, endpoint);
    };
    callbacks.emit_event = [recorded](const std::string& name, const std::string& json) {
      recorded->events.emplace_back(name, json);
    };
  }
  auto created = PluginInstance::Create(std::move(library), config, state_dir, callbacks);
  if (!created.ok()) {
    ADD_FAILURE() << created.status();
    return nullptr;
  }
  return *std::move(created);
}

TEST(PluginLibraryTest, ACPluginDescribesItself) {
  const auto library = MustLoad(kPlugins / "echo-c.so");
  ASSERT_TRUE(library);
  const PluginDescription& d = library->description();
  EXPECT_EQ(d.name, "echo-c");
  EXPECT_EQ(d.version, "1.0.0");
  EXPECT_EQ(d.placement, Placement::kPerNode);
  EXPECT_THAT(d.traits, ElementsAre("test"));
  EXPECT_TRUE(d.depends.empty());
  ASSERT_EQ(d.commands.size(), 7u);
  EXPECT_EQ(d.commands[0].name, "echo");
  EXPECT_EQ(d.commands[0].description, "replies with its arguments");
  EXPECT_EQ(d.abi.major, DOMIAN_PLUGIN_ABI_MAJOR);
}

TEST(PluginLibraryTest, ACPluginRunsAnswersAndKeepsState) {
  Recorded recorded;
  auto echo = MustCreate(MustLoad(kPlugins / "echo-c.so"), "{}", &recorded);
  ASSERT_TRUE(echo);
  ASSERT_TRUE(echo->Start().ok());
  EXPECT_EQ(Reply(echo->Invoke("echo", R"({"x":1})")), R"({"x":1})");
  const absl::StatusOr<std::string> failed = echo->Invoke("fail", "{}");
  EXPECT_EQ(PluginStatus(failed), DOMIAN_ERR_FAILED);
  EXPECT_EQ(failed.status().message(), "failing as asked");
  EXPECT_EQ(PluginStatus(echo->Invoke("nope", "{}")), DOMIAN_ERR_UNKNOWN_COMMAND);
  EXPECT_TRUE(echo->Invoke("publish", "{}").ok());
  ASSERT_EQ(recorded.endpoints.size(), 1u);
  EXPECT_EQ(recorded.endpoints[0].first, "http");
  EXPECT_EQ(recorded.endpoints[0].second, "127.0.0.1:8080");
  EXPECT_TRUE(echo->Invoke("event", R"({"n":2})").ok());
  EXPECT_EQ(PluginStatus(echo->Invoke("event", "not json")), DOMIAN_ERR_INVALID_ARGUMENT);
  ASSERT_EQ(recorded.events.size(), 1u);
  EXPECT_EQ(recorded.events[0].second, R"({"n":2})");

  ASSERT_TRUE(echo->has_state());
  const absl::StatusOr<std::string> saved = echo->SaveState();
  ASSERT_TRUE(saved.ok()) << saved.status();
  EXPECT_EQ(*saved, "v1:6");  // six calls so far
  // A new instance (elsewhere, later) picks up where this one stopped.
  auto moved = MustCreate(MustLoad(kPlugins / "echo-c.so"), "{}", nullptr);
  ASSERT_TRUE(moved);
  ASSERT_TRUE(moved->LoadState(*saved).ok());
  ASSERT_TRUE(moved->Start().ok());
  EXPECT_EQ(Reply(moved->Invoke("count", "{}")), R"({"calls":7})");
  EXPECT_EQ(PluginStatus(moved->LoadState("v9:garbage")), DOMIAN_ERR_NOT_SUPPORTED);
}

// A call that took the instance before a stop may reach it after: the
// plugin must not see it (plugin.h: invoke and check need a started
// instance), and an instance is started once.
TEST(PluginLibraryTest, OnlyAStartedInstanceIsInvokedOrChecked) {
  auto echo = MustCreate(MustLoad(kPlugins / "echo-c.so"), "{}", nullptr);
  ASSERT_TRUE(echo);
  const absl::StatusOr<std::string> early = echo->Invoke("count", "{}");
  EXPECT_EQ(PluginStatus(early), DOMIAN_ERR_UNAVAILABLE);
  EXPECT_EQ(early.status().message(), "the service is not started");
  EXPECT_EQ(PluginStatus(echo->CheckHealth()), DOMIAN_ERR_UNAVAILABLE);

  ASSERT_TRUE(echo->Start().ok());
  EXPECT_EQ(Reply(echo->Invoke("count", "{}")), R"({"calls":1})");
  EXPECT_TRUE(echo->CheckHealth().ok());
  echo->Stop();
  const absl::StatusOr<std::string> late = echo->Invoke("count", "{}");
  EXPECT_EQ(PluginStatus(late), DOMIAN_ERR_UNAVAILABLE);
  EXPECT_EQ(late.status().message(), "the service is stopped");
  EXPECT_EQ(PluginStatus(echo->CheckHealth()), DOMIAN_ERR_UNAVAILABLE);
  EXPECT_EQ(PluginStatus(echo->Start()), DOMIAN_ERR_UNAVAILABLE);
  // Saving after stop is how the host keeps the state; the plugin saw one
  // call only.
  EXPECT_EQ(Reply(echo->SaveState()), "v1:1");
}

TEST(PluginLibraryTest, StartInstanceRestoresTheStateAndStarts) {
  const auto library = MustLoad(kPlugins / "echo-c.so");
  ASSERT_TRUE(library);
  auto started = StartInstance(library, "{}", "/tmp", {}, "v1:41");
  ASSERT_TRUE(started.ok()) << started.status();
  auto& echo = *started;
  EXPECT_EQ(Reply(echo->Invoke("count", "{}")), R"({"calls":42})");

  // A state the plugin refuses is left out; the service still starts.
  auto fresh = StartInstance(library, "{}", "/tmp", {}, "v9:garbage");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(Reply((*fresh)->Invoke("count", "{}")), R"({"calls":1})");

  auto refused = StartInstance(library, R"({"refuse":1})", "/tmp", {}, std::nullopt);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(PluginStatus(refused), DOMIAN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(refused.status().message(),
            "echo-c: create failed (invalid argument): configuration says refuse");
}

TEST(PluginLibraryTest, ACreateThatFailsReportsTheMessage) {
  auto created = PluginInstance::Create(MustLoad(kPlugins / "echo-c.so"), R"({"refuse":1})",
                                        "/tmp", {});
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().message(),
            "echo-c: create failed (invalid argument): configuration says refuse");
}

TEST(PluginLibraryTest, TheCppSdkTurnsExceptionsIntoErrors) {
  const auto library = MustLoad(kPlugins / "counter-cpp.so");
  ASSERT_TRUE(library);
  EXPECT_EQ(library->description().version, "2.1.0");
  EXPECT_THAT(library->description().depends, ElementsAre("echo-c"));
  auto counter = MustCreate(library, "{}", nullptr);
  ASSERT_TRUE(counter);
  ASSERT_TRUE(counter->Start().ok());
  EXPECT_EQ(Reply(counter->Invoke("inc", "{}")), R"({"value":1})");
  const absl::StatusOr<std::string> boom = counter->Invoke("boom", "{}");
  EXPECT_EQ(PluginStatus(boom), DOMIAN_ERR_INTERNAL);
  EXPECT_EQ(boom.status().message(), "boom as asked");
  const absl::StatusOr<std::string> weird = counter->Invoke("weird", "{}");
  EXPECT_FALSE(weird.ok());
  EXPECT_EQ(weird.status().message(), "unknown exception");
  const absl::StatusOr<std::string> unknown = counter->Invoke("what", "{}");
  EXPECT_EQ(PluginStatus(unknown), DOMIAN_ERR_UNKNOWN_COMMAND);
  EXPECT_EQ(unknown.status().message(), "no command what");
  EXPECT_TRUE(counter->has_health());
  EXPECT_TRUE(counter->CheckHealth().ok());
  EXPECT_EQ(Reply(counter->SaveState()), "1");
  EXPECT_TRUE(counter->LoadState("-5").ok());
  const absl::Status health = counter->CheckHealth();
  EXPECT_EQ(PluginStatus(health), DOMIAN_ERR_FAILED);
  EXPECT_EQ(health.message(), "negative");

  auto thrown = PluginInstance::Create(library, R"({"throw":1})", "/tmp", {});
  ASSERT_FALSE(thrown.ok());
  EXPECT_THAT(std::string(thrown.status().message()), HasSubstr("config asked to throw"));
}

TEST(PluginLibraryTest, RefusalsNameTheFileAndTheReason) {
  const auto no_entry = kRefused / "no-entry.so";
  EXPECT_EQ(RefusalOf(no_entry),
            no_entry.string() + ": no domian_plugin_entry symbol; not a domian plugin");
  EXPECT_EQ(RefusalOf(kRefused / "abi-two.so"),
            (kRefused / "abi-two.so").string() +
                ": built for plugin ABI 2.3, this domiand speaks " +
                std::to_string(DOMIAN_PLUGIN_ABI_MAJOR) + "." +
                std::to_string(DOMIAN_PLUGIN_ABI_MINOR));
  EXPECT_THAT(RefusalOf(kRefused / "misnamed.so"),
              HasSubstr("the plugin calls itself 'someone-else' but the file is misnamed.so"));
  EXPECT_THAT(RefusalOf(kRefused / "declines.so"),
              HasSubstr("the plugin declined this domiand's plugin ABI"));
  EXPECT_THAT(RefusalOf(kRefused / "twice.so"), HasSubstr("command 'go' is listed twice"));

  TempFolder folder("domian-plugins");
  const auto junk = folder.path() / "junk.so";
  std::ofstream(junk) << "not an ELF file\n";
  EXPECT_THAT(RefusalOf(junk), HasSubstr(junk.string() + ": not a loadable shared object ("));
  EXPECT_THAT(RefusalOf(folder.path() / "missing.so"), HasSubstr("missing.so"));
}

TEST(PluginLibraryTest, ThePermissionRuleRefusesWhatOthersCouldChange) {
  // The rule domiand applies as root, checked here as whoever runs the test.
  TempFolder folder("domian-plugins");
  const auto copy = folder.path() / "echo-c.so";
  std::filesystem::copy_file(kPlugins / "echo-c.so", copy);
  std::filesystem::permissions(copy, std::filesystem::perms(0644));
  EXPECT_TRUE(PermissionProblem(copy, ::geteuid()).ok());
  std::filesystem::permissions(copy, std::filesystem::perms(0666));
  EXPECT_THAT(ProblemOf(PermissionProblem(copy, ::geteuid())),
              HasSubstr(copy.string() + " is writable by others (mode 0666)"));
  std::filesystem::permissions(copy, std::filesystem::perms(0664));
  EXPECT_THAT(ProblemOf(PermissionProblem(copy, ::geteuid())),
              HasSubstr("is writable by its group (mode 0664)"));
  std::filesystem::permissions(copy, std::filesystem::perms(0644));
  std::filesystem::permissions(folder.path(), std::filesystem::perms(0777));
  EXPECT_THAT(ProblemOf(PermissionProblem(copy, ::geteuid())),
              HasSubstr(folder.path().string() + " is writable by others (mode 0777)"));
  std::filesystem::permissions(folder.path(), std::filesystem::perms(0755));
  // Owned by neither root nor the daemon's user: refused too.
  if (::geteuid() != 0) {
    EXPECT_THAT(ProblemOf(PermissionProblem(copy, ::geteuid() + 1)), HasSubstr("not by root"));
  } else {
    EXPECT_EQ(::chown(copy.c_str(), 4242, 4242), 0);
    EXPECT_THAT(ProblemOf(PermissionProblem(copy, 0)),
                HasSubstr("is owned by uid 4242, not by root"));
  }
}

// Load applies the rule when domiand runs as root, which only root can test.
TEST(PluginLibraryTest, AsRootFilesOthersCanWriteAreRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "the permission rule applies when domiand runs as root";
  TempFolder folder("domian-plugins");
  const auto copy = folder.path() / "echo-c.so";
  std::filesystem::copy_file(kPlugins / "echo-c.so", copy);
  std::filesystem::permissions(copy, std::filesystem::perms(0644));
  EXPECT_TRUE(UnsafePermissions(copy).ok());
  std::filesystem::permissions(copy, std::filesystem::perms(0666));
  EXPECT_THAT(RefusalOf(copy), HasSubstr(copy.string() + " is writable by others (mode 0666)"));
  std::filesystem::permissions(copy, std::filesystem::perms(0664));
  EXPECT_THAT(RefusalOf(copy), HasSubstr("is writable by its group (mode 0664)"));
  std::filesystem::permissions(copy, std::filesystem::perms(0644));
  std::filesystem::permissions(folder.path(), std::filesystem::perms(0777));
  EXPECT_THAT(RefusalOf(copy),
              HasSubstr(folder.path().string() + " is writable by others (mode 0777)"));
}

// ---- ABI 1.1: plugin extensions (no instance) and liveness ----

// A probe's file under the name its plugin calls itself (abi-probe.so),
// in a folder of its own.
std::shared_ptr<const PluginLibrary> LoadProbeAs(const TempFolder& folder,
                                                 const std::filesystem::path& probe) {
  const auto copy = folder.path() / "abi-probe.so";
  std::filesystem::copy_file(probe, copy, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::permissions(copy, std::filesystem::perms(0644));
  return MustLoad(copy);
}

std::string ReadFile(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(PluginLibraryTest, APluginOfAbi10HasNoPluginExtensions) {
  TempFolder folder("domian-plugins");
  const auto probe = LoadProbeAs(folder, kProbeV10);
  ASSERT_TRUE(probe);
  EXPECT_EQ(probe->description().abi.minor, 0);
  // Its descriptor's first reserved slot is never taken for a function.
  EXPECT_FALSE(probe->has_config_check());
  EXPECT_FALSE(probe->has_safe_state());
  const absl::StatusOr<std::vector<std::string>> checked = probe->Validate("{}");
  EXPECT_EQ(PluginStatus(checked), DOMIAN_ERR_NOT_SUPPORTED);
  EXPECT_EQ(checked.status().message(),
            "abi-probe: the plugin does not check its configuration (plugin ABI 1.0)");
  const absl::Status safe = probe->MakeSafe("{}", folder.path(), nullptr);
  EXPECT_EQ(PluginStatus(safe), DOMIAN_ERR_NOT_SUPPORTED);
  EXPECT_EQ(safe.message(), "abi-probe: the plugin has no safe state (plugin ABI 1.0)");
  // And it still runs.
  auto started = StartInstance(probe, "{}", folder.path(), {}, std::nullopt);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(Reply((*started)->Invoke("echo", R"({"a":1})")), R"({"a":1})");
}

TEST(PluginLibraryTest, APluginOfAbi11WithoutExtensionsHasNone) {
  const auto echo = MustLoad(kPlugins / "echo-c.so");
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->description().abi.minor, DOMIAN_PLUGIN_ABI_MINOR);
  EXPECT_FALSE(echo->has_config_check());
  EXPECT_FALSE(echo->has_safe_state());
}

TEST(PluginLibraryTest, TheCProbesConfigurationCheckIsCalled) {
  TempFolder folder("domian-plugins");
  const auto probe = LoadProbeAs(folder, kProbe);
  ASSERT_TRUE(probe);
  ASSERT_TRUE(probe->has_config_check());
  EXPECT_FALSE(probe->has_safe_state());
  const absl::StatusOr<std::vector<std::string>> valid = probe->Validate("{ }");
  ASSERT_TRUE(valid.ok()) << valid.status();
  EXPECT_TRUE(valid->empty());
  const absl::StatusOr<std::vector<std::string>> invalid = probe->Validate(R"({"x":1})");
  ASSERT_TRUE(invalid.ok()) << invalid.status();
  EXPECT_THAT(*invalid, ElementsAre(": abi-probe takes no settings"));
}

TEST(PluginLibraryTest, ValidateGivesEveryProblemOfTheSdkPlugin) {
  const auto probe = MustLoad(kPlugins / "safety-probe.so");
  ASSERT_TRUE(probe);
  ASSERT_TRUE(probe->has_config_check());
  ASSERT_TRUE(probe->has_safe_state());
  const absl::StatusOr<std::vector<std::string>> valid =
      probe->Validate(R"({"level":3,"mode":"eco","sensors":[{"id":"28-1"}]})");
  ASSERT_TRUE(valid.ok()) << valid.status();
  EXPECT_TRUE(valid->empty());
  const absl::StatusOr<std::vector<std::string>> problems =
      probe->Validate(R"({"level":11,"colour":"red","sensors":[{"id":"a"},{"id":""}]})");
  ASSERT_TRUE(problems.ok()) << problems.status();
  EXPECT_THAT(*problems, ElementsAre("colour: unknown setting",
                                     "level: must be a whole number from 0 to 10, not 11",
                                     "mode: required with level",
                                     "sensors.1.id: must be a non-empty text"));
}

TEST(PluginLibraryTest, ValidateTakesABoundedNumberOfProblems) {
  const auto probe = MustLoad(kPlugins / "safety-probe.so");
  ASSERT_TRUE(probe);
  std::string config = "{";
  const size_t unknown = kMaxProblems + 10;
  for (size_t i = 0; i < unknown; ++i) {
    config += (i == 0 ? "" : ",") + std::string("\"k") + std::to_string(1000 + i) + "\":1";
  }
  config += "}";
  const absl::StatusOr<std::vector<std::string>> problems = probe->Validate(config);
  ASSERT_TRUE(problems.ok()) << problems.status();
  ASSERT_EQ(problems->size(), kMaxProblems + 1);
  EXPECT_EQ(problems->front(), "k1000: unknown setting");
  EXPECT_EQ(problems->back(), ": 10 more problem(s) not shown (at most " +
                                  std::to_string(kMaxProblems) + " are taken)");
}

TEST(PluginLibraryTest, ProblemsSplitIntoKeyAndMessage) {
  const ConfigProblem keyed = ParseConfigProblem("sensors.0.id: must be a non-empty text");
  EXPECT_EQ(keyed.key, "sensors.0.id");
  EXPECT_EQ(keyed.message, "must be a non-empty text");
  const ConfigProblem whole = ParseConfigProblem(": must be a mapping");
  EXPECT_EQ(whole.key, "");
  EXPECT_EQ(whole.message, "must be a mapping");
  // Not a key before the ": ": the whole line is the message.
  const ConfigProblem prose = ParseConfigProblem("cannot parse: bad input");
  EXPECT_EQ(prose.key, "");
  EXPECT_EQ(prose.message, "cannot parse: bad input");
}

TEST(PluginLibraryTest, MakeSafeRunsWithTheConfigurationAndLogs) {
  const auto probe = MustLoad(kPlugins / "safety-probe.so");
  ASSERT_TRUE(probe);
  TempFolder state("domian-safe");
  std::vector<std::pair<domian_log_level, std::string>> logged;
  const absl::Status safe = probe->MakeSafe(
      R"({"level":2})", state.path(),
      [&](domian_log_level level, const std::string& message) {
        logged.emplace_back(level, message);
      });
  ASSERT_TRUE(safe.ok()) << safe;
  EXPECT_EQ(ReadFile(state.path() / "safe-marker"), R"({"level":2})");
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_EQ(logged[0].first, DOMIAN_LOG_INFO);
  EXPECT_EQ(logged[0].second, "safe-probe: safe");

  const absl::Status failed = probe->MakeSafe(R"({"fail_safe":true})", state.path(), nullptr);
  EXPECT_EQ(PluginStatus(failed), DOMIAN_ERR_FAILED);
  EXPECT_EQ(failed.message(), "the relay did not answer");
}

TEST(PluginLibraryTest, AnInvalidConfigurationStopsTheStartWithEveryProblem) {
  const auto probe = MustLoad(kPlugins / "safety-probe.so");
  ASSERT_TRUE(probe);
  TempFolder state("domian-safe");
  auto started = StartInstance(probe, R"({"level":-1,"colour":"red"})", state.path(), {},
                               std::nullopt);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(PluginStatus(started), DOMIAN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(started.status().message(),
            "safety-probe: invalid configuration: colour: unknown setting; level: must be a "
            "whole number from 0 to 10, not -1; mode: required with level");
}

// The liveness host extension, on a clock the test moves.
// domian.host.state/1: save_now ties a save to the invoke that asked on
// its own thread; mark_dirty only counts.
TEST(PluginLibraryTest, SaveNowIsTakenOnlyInsideTheInvokeThatAsks) {
  const auto counter = MustLoad(kPlugins / "counter-cpp.so");
  ASSERT_TRUE(counter);
  TempFolder state("domian-save-now");
  auto started = StartInstance(counter, "{}", state.path(), {}, std::nullopt);
  ASSERT_TRUE(started.ok()) << started.status();
  PluginInstance& instance = **started;

  std::optional<PluginInstance::Saved> to_store;
  EXPECT_EQ(Reply(instance.Invoke("inc", "{}", &to_store)), R"({"value":1})");
  ASSERT_TRUE(to_store.has_value());
  EXPECT_EQ(to_store->bytes, "1");
  const uint64_t first = to_store->number;
  to_store.reset();
  EXPECT_EQ(Reply(instance.Invoke("inc", "{}", &to_store)), R"({"value":2})");
  ASSERT_TRUE(to_store.has_value());
  EXPECT_GT(to_store->number, first) << "saves are numbered in order";

  // Nobody to store it before the reply: counted as a change to save soon.
  const uint64_t changes = instance.state_changes();
  EXPECT_EQ(Reply(instance.Invoke("inc", "{}")), R"({"value":3})");
  EXPECT_EQ(instance.state_changes(), changes + 1);
  EXPECT_EQ(Reply(instance.Invoke("mark", "{}")), R"({"value":4})");
  EXPECT_EQ(instance.state_changes(), changes + 2);

  // From another thread than the invoke's: refused, nothing saved.
  to_store.reset();
  EXPECT_EQ(Reply(instance.Invoke("save_elsewhere", "{}", &to_store)), R"({"taken":false})");
  EXPECT_FALSE(to_store.has_value());
  // And a call that did not ask stores nothing.
  EXPECT_EQ(Reply(instance.Invoke("get", "{}", &to_store)), R"({"value":4})");
  EXPECT_FALSE(to_store.has_value());
}

TEST(PluginLibraryTest, ALivenessDeadlineIsMissedOnlyWhenTheLoopStopsReporting) {
  const auto probe = MustLoad(kPlugins / "safety-probe.so");
  ASSERT_TRUE(probe);
  TempFolder state("domian-liveness");
  FakeClock clock;
  auto started =
      StartInstance(probe, R"({"liveness_ms":200})", state.path(), {}, std::nullopt, clock);
  ASSERT_TRUE(started.ok()) << started.status();
  PluginInstance& instance = **started;
  EXPECT_EQ(instance.LivenessNow().deadline, std::chrono::milliseconds(200));
  EXPECT_FALSE(instance.LivenessNow().missed());
  EXPECT_EQ(instance.LivenessNow().left, std::chrono::milliseconds(200));
  clock.Advance(std::chrono::milliseconds(150));
  EXPECT_EQ(instance.LivenessNow().left, std::chrono::milliseconds(50));
  clock.Advance(std::chrono::milliseconds(50));  // exactly the deadline: still in time
  EXPECT_FALSE(instance.LivenessNow().missed());
  EXPECT_EQ(instance.LivenessNow().left, std::chrono::milliseconds(0));
  clock.Advance(std::chrono::milliseconds(50));
  EXPECT_TRUE(instance.LivenessNow().missed());
  EXPECT_EQ(instance.LivenessNow().missed_by, std::chrono::milliseconds(50));
  EXPECT_EQ(instance.LivenessNow().left, std::chrono::milliseconds(0));
  EXPECT_TRUE(instance.Invoke("alive", "{}").ok());
  EXPECT_FALSE(instance.LivenessNow().missed());
  clock.Advance(std::chrono::milliseconds(199));
  EXPECT_FALSE(instance.LivenessNow().missed());

  // Out of [DOMIAN_LIVENESS_MIN_MS, DOMIAN_LIVENESS_MAX_MS]: refused,
  // nothing changes.
  EXPECT_EQ(Reply(instance.Invoke("arm", R"({"ms":99})")), R"({"armed":false})");
  EXPECT_EQ(Reply(instance.Invoke("arm", R"({"ms":600001})")), R"({"armed":false})");
  EXPECT_EQ(instance.LivenessNow().deadline, std::chrono::milliseconds(200));
  // Re-arming counts as an alive.
  EXPECT_EQ(Reply(instance.Invoke("arm", R"({"ms":100})")), R"({"armed":true})");
  clock.Advance(std::chrono::milliseconds(100));
  EXPECT_FALSE(instance.LivenessNow().missed());
  // Disarmed: never missed.
  EXPECT_EQ(Reply(instance.Invoke("arm", R"({"ms":0})")), R"({"armed":true})");
  clock.Advance(std::chrono::hours(1));
  EXPECT_FALSE(instance.LivenessNow().missed());
  EXPECT_EQ(instance.LivenessNow().deadline, std::chrono::milliseconds(0));

  // Stopped: its loop is gone, nothing to watch.
  EXPECT_EQ(Reply(instance.Invoke("arm", R"({"ms":100})")), R"({"armed":true})");
  clock.Advance(std::chrono::seconds(1));
  EXPECT_TRUE(instance.LivenessNow().missed());
  instance.Stop();
  EXPECT_FALSE(instance.LivenessNow().missed());
}

// domian.entities/1 and domian.host.entities/1 through entity-probe: what
// publish_state takes (names that can be topics, a bounded size, only
// while started), and describe.
struct EntityCalls {
  std::mutex mu;
  std::vector<std::tuple<std::string, std::string, std::string>> states;
  int changed = 0;
};

HostCallbacks EntityCallbacks(EntityCalls& calls, bool keep = true) {
  HostCallbacks callbacks;
  callbacks.entity_state = [&calls, keep](const std::string& entity, const std::string& state,
                                          const std::string& data) {
    std::lock_guard lock(calls.mu);
    if (keep) calls.states.emplace_back(entity, state, data);
    return keep;
  };
  callbacks.entities_changed = [&calls] {
    std::lock_guard lock(calls.mu);
    ++calls.changed;
  };
  return callbacks;
}

// The domian_status the probe's publish_state got, from its reply.
std::string Published(PluginInstance& instance, const std::string& entity,
                      const std::string& state, const std::string& value) {
  return Reply(instance.Invoke(
      "publish", nlohmann::json{{"entity", entity}, {"state", state}, {"value", value}}.dump()));
}

TEST(PluginLibraryTest, PublishStateTakesOnlyNamesAndSizesThatCanBePublished) {
  const auto probe = MustLoad(kPlugins / "entity-probe.so");
  ASSERT_TRUE(probe);
  TempFolder state("domian-entities");
  EntityCalls calls;
  auto started = StartInstance(probe, "{}", state.path(), EntityCallbacks(calls), std::nullopt);
  ASSERT_TRUE(started.ok()) << started.status();
  PluginInstance& instance = **started;
  EXPECT_TRUE(instance.has_entities());

  const std::string ok = R"({"status":0})";
  const std::string invalid = R"({"status":1})";
  EXPECT_EQ(Reply(instance.Invoke("set", R"({"value":"ON"})")), ok);
  EXPECT_EQ(Published(instance, std::string(64, 'e'), std::string(32, 's'), "21.5"), ok);
  EXPECT_EQ(Published(instance, "lamp_2", "brightness_0", ""), ok) << "an empty value is one";
  // Names: 1-64 and 1-32 of [a-z0-9_], and no state named "set".
  EXPECT_EQ(Published(instance, "", "state", "x"), invalid);
  EXPECT_EQ(Published(instance, std::string(65, 'e'), "state", "x"), invalid);
  EXPECT_EQ(Published(instance, "Lamp", "state", "x"), invalid);
  EXPECT_EQ(Published(instance, "lamp-1", "state", "x"), invalid);
  EXPECT_EQ(Published(instance, "lamp/x", "state", "x"), invalid);
  EXPECT_EQ(Published(instance, "lamp", "", "x"), invalid);
  EXPECT_EQ(Published(instance, "lamp", std::string(33, 's'), "x"), invalid);
  EXPECT_EQ(Published(instance, "lamp", "set", "x"), invalid);
  EXPECT_EQ(Published(instance, "lamp", "st ate", "x"), invalid);
  // Size: up to DOMIAN_ENTITY_STATE_MAX_BYTES.
  EXPECT_EQ(Reply(instance.Invoke(
                "publish", R"({"entity":"cam","state":"image","bytes":)" +
                               std::to_string(DOMIAN_ENTITY_STATE_MAX_BYTES) + "}")),
            ok);
  EXPECT_EQ(Reply(instance.Invoke(
                "publish", R"({"entity":"cam","state":"image","bytes":)" +
                               std::to_string(DOMIAN_ENTITY_STATE_MAX_BYTES + 1) + "}")),
            invalid);

  std::lock_guard lock(calls.mu);
  ASSERT_EQ(calls.states.size(), 4U) << "only what was taken reaches the owner";
  EXPECT_EQ(calls.states[0], std::make_tuple("lamp", "state", "ON"));
  EXPECT_EQ(calls.states[1], std::make_tuple(std::string(64, 'e'), std::string(32, 's'), "21.5"));
  EXPECT_EQ(calls.states[2], std::make_tuple("lamp_2", "brightness_0", ""));
  EXPECT_EQ(std::get<2>(calls.states[3]).size(), size_t{DOMIAN_ENTITY_STATE_MAX_BYTES});
}

TEST(PluginLibraryTest, PublishStateIsRefusedBeforeStartAndWhenTheOwnerRefuses) {
  const auto probe = MustLoad(kPlugins / "entity-probe.so");
  ASSERT_TRUE(probe);
  TempFolder state("domian-entities");
  EntityCalls calls;
  // Published from create: not started, nobody told.
  auto started = StartInstance(probe, R"({"publish_in_create":true})", state.path(),
                               EntityCallbacks(calls, /*keep=*/false), std::nullopt);
  ASSERT_TRUE(started.ok()) << started.status();
  PluginInstance& instance = **started;
  EXPECT_EQ(Reply(instance.Invoke("create_publish", "{}")),
            "{\"status\":" + std::to_string(DOMIAN_ERR_UNAVAILABLE) + "}");
  // The owner keeps no more (a plugin host's bound): refused.
  EXPECT_EQ(Published(instance, "lamp", "state", "ON"),
            "{\"status\":" + std::to_string(DOMIAN_ERR_INVALID_ARGUMENT) + "}");
  std::lock_guard lock(calls.mu);
  EXPECT_TRUE(calls.states.empty());
}

TEST(PluginLibraryTest, DescribeAnswersOnlyAStartedInstanceWithinItsLimit) {
  const auto probe = MustLoad(kPlugins / "entity-probe.so");
  ASSERT_TRUE(probe);
  TempFolder state("domian-entities");
  EntityCalls calls;
  auto created = PluginInstance::Create(probe, "{}", state.path(), EntityCallbacks(calls));
  ASSERT_TRUE(created.ok()) << created.status();
  PluginInstance& instance = **created;
  EXPECT_EQ(PluginStatus(instance.DescribeEntities()), DOMIAN_ERR_UNAVAILABLE) << "not started";
  ASSERT_TRUE(instance.Start().ok());
  const absl::StatusOr<std::string> description = instance.DescribeEntities();
  ASSERT_TRUE(description.ok()) << description.status();
  const nlohmann::json parsed = nlohmann::json::parse(*description);
  ASSERT_EQ(parsed["entities"].size(), 1U);
  EXPECT_EQ(parsed["entities"][0]["id"], "lamp");

  // changed reaches the owner from inside the invoke, which describes
  // nothing itself.
  EXPECT_EQ(Reply(instance.Invoke("add", R"({"entity":"kitchen_temp"})")), "{}");
  {
    std::lock_guard lock(calls.mu);
    EXPECT_EQ(calls.changed, 1);
  }
  EXPECT_EQ(Reply(instance.Invoke("describes", "{}")), R"({"count":1,"during_invoke":0})");
  ASSERT_TRUE(instance.DescribeEntities().ok());
  EXPECT_EQ(nlohmann::json::parse(*instance.DescribeEntities())["entities"].size(), 2U);

  instance.Stop();
  EXPECT_EQ(PluginStatus(instance.DescribeEntities()), DOMIAN_ERR_UNAVAILABLE) << "stopped";
  EXPECT_EQ(Reply(instance.Invoke("describes", "{}")).find("(failed"), 0U);

  // Over DOMIAN_ENTITIES_MAX_DESCRIPTION_BYTES, or a describe that fails.
  auto huge = StartInstance(probe, R"({"describe":"huge"})", state.path(), {}, std::nullopt);
  ASSERT_TRUE(huge.ok());
  const absl::StatusOr<std::string> cut = (*huge)->DescribeEntities();
  EXPECT_EQ(PluginStatus(cut), DOMIAN_ERR_INTERNAL);
  EXPECT_THAT(std::string(cut.status().message()), HasSubstr("larger than the limit of 65536"));
  auto failing = StartInstance(probe, R"({"describe":"fail"})", state.path(), {}, std::nullopt);
  ASSERT_TRUE(failing.ok());
  const absl::StatusOr<std::string> refused = (*failing)->DescribeEntities();
  EXPECT_EQ(PluginStatus(refused), DOMIAN_ERR_FAILED);
  EXPECT_EQ(refused.status().message(), "describe fails as asked");
}

TEST(PluginLibraryTest, APluginWithoutEntitiesDescribesNoneAndPublishesNothing) {
  const auto counter = MustLoad(kPlugins / "counter-cpp.so");
  ASSERT_TRUE(counter);
  TempFolder state("domian-entities");
  auto started = StartInstance(counter, "{}", state.path(), {}, std::nullopt);
  ASSERT_TRUE(started.ok());
  EXPECT_FALSE((*started)->has_entities());
  EXPECT_EQ(PluginStatus((*started)->DescribeEntities()), DOMIAN_ERR_NOT_SUPPORTED);
}

}  // namespace
}  // namespace domian::services
