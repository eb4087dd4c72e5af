// Dashboard benchmark: three real domiand on 127.0.0.1 (lights on the Hue
// bridge stand-in, the thermostat on a w1 sysfs tree), the first serving
// the dashboard (http: in node.yaml), looked at with Debian's headless
// Chromium over WebDriver (tests/support/webdriver.h).
//
//   load:  N loads of the page by a browser that is logged in: from the
//          navigation's start to the cluster view rendered with data (the
//          mark `domian-cluster-rendered` the page sets, read from the
//          browser's own performance timeline).
//   idle:  the CPU time (utime + stime, /proc/PID/stat) the serving
//          domiand uses over S seconds with no dashboard open, then over S
//          seconds with one open and idle (its event stream, its refreshes
//          and the panels' polls), and what the three daemons use together.
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "bench/plugin_bench_main.h"
#include "tests/support/cluster.h"
#include "tests/support/hue_bridge.h"
#include "tests/support/w1_sysfs.h"
#include "tests/support/webdriver.h"

using namespace domian::testing;
using domian::bench::Fixed;
using domian::bench::MeasuredMs;
using domian::bench::PrintRow;
using domian::bench::Summary;
using domian::bench::Verdict;
using nlohmann::json;

namespace {

constexpr auto kReady = 60s;
// After start-up and after the page opened, before counting CPU: services
// starting, the panels' first loads.
constexpr auto kQuiet = 10s;
constexpr char kSensor[] = "28-0000000a1b2c";
constexpr char kRenderedMark[] = "domian-cluster-rendered";
// Goals of this project's own (issue 29 names none): a phone shows the
// house within a second, and an open page costs the node that serves it
// under 1% of one core.
constexpr double kGoalLoadP99Ms = 1000;
constexpr double kGoalIdleExtraPercent = 1.0;

// utime + stime of `pid`, in ms.
double CpuMs(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t end = stat.rfind(')');
  if (end == std::string::npos) throw std::runtime_error("cannot read /proc/" + std::to_string(pid) + "/stat");
  std::istringstream fields(stat.substr(end + 2));
  std::string field;
  long long utime = 0, stime = 0;
  // After the command: state (field 3) ... utime (14), stime (15).
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  return static_cast<double>(utime + stime) * 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

struct Setup {
  TempDir dir{"domian-dashboard-bench"};
  HueBridge bridge;
  W1Sysfs sysfs{dir.path() / "devices"};
  uint16_t http_port = FreeLoopbackPort();
  std::vector<std::unique_ptr<Daemon>> nodes;

  Setup() {
    if (!ChromiumInstalled()) throw std::runtime_error("chromium and chromium-driver are not installed");
    MakePluginFolder(dir.path() / "plugins", DOMIAN_PLUGIN_DIR, {"lights", "thermostat"});
    bridge.AddLight("Desk");
    bridge.AddLight("Hall");
    const std::string user = bridge.AddUser();
    sysfs.Reading(kSensor, 19500);
    // Only hall serves the dashboard.
    Add("hall", {}, "  listen: 127.0.0.1:" + std::to_string(http_port) + "\n  static_dir: " +
                        std::string(DOMIAN_DASHBOARD_DIR) + "\n",
        "  lights:\n    run: prefer\n    config: {bridge: \"" + bridge.address() + "\", username: " + user +
            "}\n");
    Add("kitchen", {"w1"}, "",
        "  thermostat:\n    config:\n      sysfs_root: " + sysfs.root().string() +
            "\n      relay: {backend: file, path: " + (dir.path() / "relay").string() + "}\n");
    Add("porch", {}, "", "");
    std::vector<Daemon*> all;
    for (auto& node : nodes) all.push_back(node.get());
    if (!AllSeeEachOtherAlive(all, kReady)) throw std::runtime_error("the nodes did not see each other");
    if (!Eventually([&] { return ServiceOwners(*nodes[0], "lights").size() == 1 &&
                                 ServiceOwners(*nodes[0], "thermostat").size() == 1; }, kReady)) {
      throw std::runtime_error("lights and thermostat did not start");
    }
  }

  // A node with these traits, http: section (empty: no HTTP server) and
  // services (lines of its services: section).
  void Add(const std::string& id, std::vector<std::string> traits, const std::string& http,
           const std::string& services) {
    Daemon::Options options{.id = id, .log_level = "info"};
    options.traits = std::move(traits);
    options.http = http;
    options.extra_yaml = "plugins:\n  dirs: [" + (dir.path() / "plugins").string() + "]\n" +
                         (services.empty() ? "" : "services:\n" + services);
    if (!nodes.empty()) options.seeds = {nodes.front()->address()};
    nodes.push_back(std::make_unique<Daemon>(dir.path(), options));
    nodes.back()->Start();
  }

  std::string Base() const { return "http://127.0.0.1:" + std::to_string(http_port) + "/"; }

  // Logs `browser` in through a link from `domianctl dashboard`.
  void LogIn(WebDriver& browser) {
    const auto link = Ctl(nodes[0]->address(), "dashboard");
    if (!link || !link->contains("url")) throw std::runtime_error("domianctl dashboard gave no link");
    browser.Navigate((*link)["url"].get<std::string>());
    WaitRendered(browser);
  }

  static void WaitRendered(WebDriver& browser) {
    if (!browser.WaitFor(std::string("performance.getEntriesByName('") + kRenderedMark + "').length > 0",
                         kReady, 5ms)) {
      throw std::runtime_error("the cluster view did not render");
    }
  }

  // CPU ms of hall's domiand, and of all three, over `seconds`.
  std::pair<double, double> CpuOver(int seconds) {
    std::vector<double> before;
    for (auto& node : nodes) before.push_back(CpuMs(node->Pid()));
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    double all = 0;
    for (size_t i = 0; i < nodes.size(); ++i) all += CpuMs(nodes[i]->Pid()) - before[i];
    return {CpuMs(nodes[0]->Pid()) - before[0], all};
  }
};

json RunLoad(int loads) {
  Setup setup;
  WebDriver browser;
  setup.LogIn(browser);
  std::vector<double> ms;
  for (int i = 0; i < loads; ++i) {
    browser.Navigate(setup.Base());
    Setup::WaitRendered(browser);
    ms.push_back(browser.Execute(std::string("return performance.getEntriesByName('") + kRenderedMark +
                                 "')[0].startTime;").get<double>());
  }
  return {{"scenario", "dashboard-load"}, {"loads", loads}, {"rendered_ms", Summary(ms)}};
}

json RunIdle(int seconds) {
  Setup setup;
  std::this_thread::sleep_for(kQuiet);
  const auto [none_hall, none_all] = setup.CpuOver(seconds);
  WebDriver browser;
  setup.LogIn(browser);
  std::this_thread::sleep_for(kQuiet);
  const auto [open_hall, open_all] = setup.CpuOver(seconds);
  const auto percent = [seconds](double cpu_ms) { return cpu_ms / (seconds * 1000.0) * 100.0; };
  return {{"scenario", "dashboard-idle"},
          {"seconds", seconds},
          {"hall_none_percent", percent(none_hall)},
          {"hall_open_percent", percent(open_hall)},
          {"all_none_percent", percent(none_all)},
          {"all_open_percent", percent(open_all)}};
}

void ReportResult(const json& r) {
  const std::string scenario = r.value("scenario", "");
  if (scenario == "dashboard-load") {
    const auto& s = r["rendered_ms"];
    PrintRow("page load -> cluster view rendered (" + std::to_string(r.value("loads", 0)) + ")",
             "p99<=" + Fixed(kGoalLoadP99Ms, 0) + "ms", MeasuredMs(s, 0), Verdict(s["p99"] <= kGoalLoadP99Ms));
  } else if (scenario == "dashboard-idle") {
    const double extra = r["hall_open_percent"].get<double>() - r["hall_none_percent"].get<double>();
    PrintRow("serving domiand CPU, " + std::to_string(r.value("seconds", 0)) + " s: none / one open",
             "+" + Fixed(kGoalIdleExtraPercent, 1) + "% of a core",
             Fixed(r["hall_none_percent"], 2) + "% / " + Fixed(r["hall_open_percent"], 2) + "% (" +
                 (extra >= 0 ? "+" : "") + Fixed(extra, 2) + ")",
             Verdict(extra <= kGoalIdleExtraPercent));
    PrintRow("three domiand together: none / one open", "(reported)",
             Fixed(r["all_none_percent"], 2) + "% / " + Fixed(r["all_open_percent"], 2) + "%", "");
  }
}

}  // namespace

int main(int argc, char** argv) {
  return domian::bench::PluginBenchMain(
      argc, argv, "dashboard_bench", "dashboard scenario",
      {{"loads", 20, "page loads (load)"}, {"seconds", 60, "each CPU window (idle)"}},
      {{"load", [](const auto& counts) { return RunLoad(counts.at("loads")); }},
       {"idle", [](const auto& counts) { return RunIdle(counts.at("seconds")); }}},
      ReportResult);
}
