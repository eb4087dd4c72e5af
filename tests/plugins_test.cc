// Services from plugins in real daemons: the test plugins (a C plugin and
// a C++ SDK plugin, tests/plugins) run inline, are called
// through domianctl on their node and through another node, are picked up
// when dropped into a plugin folder, keep their state across a restart,
// and refused files are listed with their reason.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>

#include <domian/plugin.h>

#include "tests/support/cluster.h"

namespace domian::testing {
namespace {

using ::testing::HasSubstr;

constexpr auto kSettle = 20s;  // generous: a drop-in is seen in ~0.2 s

const std::filesystem::path kTestPlugins = DOMIAN_TEST_PLUGIN_DIR;
// The ABI the test plugins are built against: the current header's.
const std::string kTestPluginAbi =
    std::to_string(DOMIAN_PLUGIN_ABI_MAJOR) + "." + std::to_string(DOMIAN_PLUGIN_ABI_MINOR);

class Plugins : public ::testing::Test {
 protected:
  void SetUp() override {
    LeaveSegvToTheKernel();  // echo-c crashes on purpose
    plugin_dir_ = dir_.path() / "plugins";
    MakePluginFolder(plugin_dir_, kTestPlugins, {});
  }

  void TearDown() override {
    if (!HasFailure()) return;
    for (Daemon* daemon : {a_.get(), b_.get()}) {
      if (daemon) std::cerr << "---- " << daemon->id() << " ----\n" << daemon->Log();
    }
  }

  // Copies a test plugin in the way packages install: a new file renamed
  // into place.
  void Install(const std::string& plugin, const std::string& as = "") {
    const auto target = plugin_dir_ / (as.empty() ? plugin + ".so" : as);
    const auto temporary = plugin_dir_ / ".incoming";
    std::filesystem::copy_file(kTestPlugins / (plugin + ".so"), temporary,
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::permissions(temporary, std::filesystem::perms(0644));
    std::filesystem::rename(temporary, target);
  }

  std::string PluginYaml(const std::string& services) {
    return "plugins:\n  dirs: [" + plugin_dir_.string() + "]\nservices:\n" + services;
  }

  // a runs the services (it has the plugins and the trait "test" echo-c
  // needs); b only knows a (its seed) and has no plugins.
  void StartPair(const std::string& services) {
    Daemon::Options options{.id = "node-a", .extra_yaml = PluginYaml(services)};
    options.traits = {"test"};
    a_ = std::make_unique<Daemon>(dir_.path(), options);
    a_->Start();
    b_ = std::make_unique<Daemon>(dir_.path(), Daemon::Options{.id = "node-b", .seeds = {a_->address()}});
    b_->Start();
    ASSERT_TRUE(AllSeeEachOtherAlive({a_.get(), b_.get()}, kSettle));
  }

  std::string ServiceState(const Daemon& asked, const std::string& service) {
    const auto services = Ctl(asked.address(), "services");
    if (!services) return "";
    for (const auto& entry : *services) {
      if (entry["name"] == service) return entry["state"].get<std::string>();
    }
    return "";
  }

  CommandResult Call(const Daemon& asked, const std::string& service, const std::string& command,
                     const std::string& args = "{}") {
    return CallService(asked, service, command, args);
  }

  TempDir dir_{"domian-plugins-test"};
  std::filesystem::path plugin_dir_;
  std::unique_ptr<Daemon> a_, b_;
};

TEST_F(Plugins, ServicesAnswerOnTheirNodeAndThroughAnother) {
  Install("echo-c");
  Install("counter-cpp");
  StartPair("  echo-c: {isolation: inline}\n  counter-cpp: {isolation: inline}\n");
  // b learns where they run from a's identity list.
  ASSERT_TRUE(Eventually([&] { return ServiceState(*b_, "echo-c") == "running"; }, kSettle));
  // counter-cpp depends on echo-c: it starts once echo-c runs.
  ASSERT_TRUE(Eventually([&] { return ServiceState(*b_, "counter-cpp") == "running"; }, kSettle));
  const auto services = Ctl(b_->address(), "services");
  ASSERT_TRUE(services);
  for (const auto& service : *services) {
    EXPECT_EQ(service["node"], "node-a");
    EXPECT_EQ(service["epoch"], 1);
  }

  const CommandResult local = Call(*a_, "echo-c", "echo", R"({"x":[1,2]})");
  EXPECT_EQ(local.exit_code, 0) << local.err;
  EXPECT_EQ(local.out, "{\"x\":[1,2]}\n");
  const CommandResult forwarded = Call(*b_, "counter-cpp", "inc");
  EXPECT_EQ(forwarded.exit_code, 0) << forwarded.err;
  EXPECT_EQ(forwarded.out, "{\"value\":1}\n");

  // Failures: a message on stderr and a non-zero exit.
  const CommandResult failed = Call(*b_, "echo-c", "fail");
  EXPECT_NE(failed.exit_code, 0);
  EXPECT_THAT(failed.err, HasSubstr("echo-c fail: failing as asked"));
  const CommandResult unknown = Call(*b_, "counter-cpp", "nope");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.err, HasSubstr("no command nope"));
  const CommandResult thrown = Call(*a_, "counter-cpp", "boom");
  EXPECT_NE(thrown.exit_code, 0);
  EXPECT_THAT(thrown.err, HasSubstr("boom as asked"));
  const CommandResult nowhere = Call(*b_, "lights", "status");
  EXPECT_NE(nowhere.exit_code, 0);
  EXPECT_THAT(nowhere.err, HasSubstr("service lights is not running on any live node"));
  const CommandResult bad_json = Call(*a_, "echo-c", "echo", "{oops");
  EXPECT_NE(bad_json.exit_code, 0);
  EXPECT_THAT(bad_json.err, HasSubstr("not valid JSON"));
  EXPECT_TRUE(a_->Running());
}

TEST_F(Plugins, PluginsAreListedAndRefusalsSayWhy) {
  Install("echo-c");
  Install("echo-c", "lights.so");  // a plugin under another service's name
  std::ofstream(plugin_dir_ / "junk.so") << "not a library";
  std::filesystem::permissions(plugin_dir_ / "junk.so", std::filesystem::perms(0644));
  StartPair("");
  const auto plugins = Ctl(a_->address(), "plugins");
  ASSERT_TRUE(plugins);
  ASSERT_EQ(plugins->size(), 3u) << plugins->dump();
  std::map<std::string, nlohmann::json> by_file;
  for (const auto& plugin : *plugins) {
    by_file[std::filesystem::path(plugin["path"].get<std::string>()).filename()] = plugin;
  }
  EXPECT_TRUE(by_file["echo-c.so"]["loaded"].get<bool>());
  EXPECT_EQ(by_file["echo-c.so"]["name"], "echo-c");
  EXPECT_EQ(by_file["echo-c.so"]["placement"], "per-node");
  EXPECT_EQ(by_file["echo-c.so"]["abi"], kTestPluginAbi);
  EXPECT_EQ(by_file["echo-c.so"]["commands"].size(), 7u);
  EXPECT_FALSE(by_file["lights.so"]["loaded"].get<bool>());
  EXPECT_THAT(by_file["lights.so"]["refusal"].get<std::string>(),
              HasSubstr("the plugin calls itself 'echo-c' but the file is lights.so"));
  EXPECT_FALSE(by_file["junk.so"]["loaded"].get<bool>());
  EXPECT_THAT(by_file["junk.so"]["refusal"].get<std::string>(),
              HasSubstr("not a loadable shared object"));
  EXPECT_THAT(a_->Log(), HasSubstr("plugin refused: " + (plugin_dir_ / "junk.so").string()));
}

TEST_F(Plugins, APluginDroppedInWhileRunningIsUsedWithinSeconds) {
  Install("echo-c");
  StartPair("  echo-c: {isolation: inline}\n  counter-cpp: {isolation: inline}\n");
  EXPECT_TRUE(Eventually([&] { return ServiceState(*a_, "counter-cpp") == "unplaced"; }, kSettle));
  Install("counter-cpp");
  EXPECT_TRUE(Eventually([&] { return ServiceState(*b_, "counter-cpp") == "running"; }, kSettle));
  const CommandResult call = Call(*b_, "counter-cpp", "inc");
  EXPECT_EQ(call.exit_code, 0) << call.err;
  EXPECT_THAT(a_->Log(), HasSubstr("plugin counter-cpp 2.1.0 (ABI " + kTestPluginAbi + ")"));
}

TEST_F(Plugins, AServiceKeepsItsStateAcrossARestart) {
  Install("echo-c");
  Install("counter-cpp");
  StartPair("  echo-c: {isolation: inline}\n  counter-cpp: {isolation: inline}\n");
  ASSERT_TRUE(Eventually([&] { return ServiceState(*a_, "counter-cpp") == "running"; }, kSettle));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Call(*a_, "counter-cpp", "inc").exit_code, 0);
  a_->Signal(SIGTERM);
  ASSERT_EQ(a_->WaitExit(kSettle), 0);
  a_->Start();
  ASSERT_TRUE(Eventually([&] { return ServiceState(*a_, "counter-cpp") == "running"; }, kSettle));
  const CommandResult value = Call(*a_, "counter-cpp", "get");
  EXPECT_EQ(value.out, "{\"value\":3}\n") << value.err;
}

bool ProcessGone(int pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

TEST_F(Plugins, ACrashingPluginNeverTakesTheDaemonDown) {
  Install("echo-c");
  Install("counter-cpp");
  StartPair("  echo-c: {isolation: process}\n  counter-cpp: {isolation: inline}\n");
  ASSERT_TRUE(Eventually([&] { return ServiceState(*b_, "counter-cpp") == "running"; }, kSettle));
  const int first = PluginHostPid(*a_, "echo-c");
  ASSERT_GT(first, 0);
  const CommandResult crash = Call(*b_, "echo-c", "crash");
  EXPECT_NE(crash.exit_code, 0);
  EXPECT_THAT(crash.err, HasSubstr("the plugin host did not answer"));
  EXPECT_TRUE(a_->Running());
  // The other service answers meanwhile, and echo-c comes back in a new
  // plugin host, under the same ownership epoch (it never left the node).
  EXPECT_EQ(Call(*a_, "counter-cpp", "inc").exit_code, 0);
  EXPECT_TRUE(Eventually(
      [&] {
        const int now = PluginHostPid(*a_, "echo-c");
        return now > 0 && now != first && ServiceState(*a_, "echo-c") == "running";
      },
      kSettle));
  const auto services = Ctl(a_->address(), "services");
  ASSERT_TRUE(services);
  for (const auto& service : *services) {
    if (service["name"] == "echo-c") {
      EXPECT_EQ(service["epoch"], 1);
    }
  }
  // b hears of the restart with the next heartbeats.
  EXPECT_TRUE(Eventually([&] { return ServiceState(*b_, "echo-c") == "running"; }, kSettle));
  EXPECT_EQ(Call(*b_, "echo-c", "echo", R"({"back":1})").out, "{\"back\":1}\n");
  EXPECT_THAT(a_->Log(), HasSubstr("the plugin host killed by SIGSEGV (Segmentation fault)"));
}

TEST_F(Plugins, AHungPluginIsKilledAndRestarted) {
  Install("echo-c");
  StartPair("  echo-c: {isolation: process}\n");
  ASSERT_TRUE(Eventually([&] { return ServiceState(*a_, "echo-c") == "running"; }, kSettle));
  const int first = PluginHostPid(*a_, "echo-c");
  const auto began = std::chrono::steady_clock::now();
  const CommandResult hang = CallService(*a_, "echo-c", "hang", "{}", 90s);
  // Health checks go on answering while a call runs (a call may wait for a
  // person, e.g. a Hue pairing): the call's own deadline (40 s) ends it, and
  // the host, which can take no further call, is killed and restarted.
  const auto took = std::chrono::steady_clock::now() - began;
  EXPECT_GE(took, 35s);
  EXPECT_LT(took, 60s);
  EXPECT_NE(hang.exit_code, 0);
  EXPECT_THAT(a_->Log(), HasSubstr("'hang' ran past the 40 s call deadline"));
  EXPECT_TRUE(Eventually([&] { return ProcessGone(first); }, kSettle));
  EXPECT_TRUE(Eventually([&] { return ServiceState(*a_, "echo-c") == "running"; }, kSettle));
  EXPECT_EQ(Call(*a_, "echo-c", "echo").exit_code, 0);
}

TEST_F(Plugins, AServiceThatKeepsCrashingIsGivenUpOnThisNode) {
  Install("echo-c");
  StartPair("  echo-c:\n    isolation: process\n    config: {crash_in_start: true}\n");
  EXPECT_TRUE(Eventually([&] { return ServiceState(*b_, "echo-c") == "failed"; }, kSettle));
  const std::string log = a_->Log();
  EXPECT_THAT(log, HasSubstr("restarting in 100 ms"));
  EXPECT_THAT(log, HasSubstr("restarting in 200 ms"));
  EXPECT_THAT(log, HasSubstr("failed 5 times in 60 s, giving up on this node"));
  // How each start ended: the signal, not just a closed connection.
  EXPECT_THAT(log, HasSubstr("the plugin host killed by SIGABRT (Aborted) while starting"));
  EXPECT_TRUE(a_->Running());
  const CommandResult call = Call(*b_, "echo-c", "echo");
  EXPECT_NE(call.exit_code, 0);
  EXPECT_THAT(call.err, HasSubstr("not running on any live node"));
}

TEST_F(Plugins, PluginHostsEndWithTheDaemonAndStateIsKept) {
  Install("echo-c");
  Install("counter-cpp");
  StartPair("  echo-c: {isolation: inline}\n  counter-cpp: {isolation: process}\n");
  ASSERT_TRUE(Eventually([&] { return ServiceState(*b_, "counter-cpp") == "running"; }, kSettle));
  for (int i = 0; i < 2; ++i) ASSERT_EQ(Call(*b_, "counter-cpp", "inc").exit_code, 0);
  int host = PluginHostPid(*a_, "counter-cpp");
  a_->Signal(SIGTERM);  // clean stop: the state is saved, the host exits
  ASSERT_EQ(a_->WaitExit(kSettle), 0);
  EXPECT_TRUE(ProcessGone(host));
  a_->Start();
  ASSERT_TRUE(Eventually([&] { return ServiceState(*a_, "counter-cpp") == "running"; }, kSettle));
  EXPECT_EQ(Call(*a_, "counter-cpp", "get").out, "{\"value\":2}\n");
  host = PluginHostPid(*a_, "counter-cpp");
  ASSERT_GT(host, 0);
  a_->Signal(SIGKILL);  // no chance to clean up: the kernel ends the host
  a_->WaitExit(kSettle);
  EXPECT_TRUE(Eventually([&] { return ProcessGone(host); }, kSettle));
}

}  // namespace
}  // namespace domian::testing
