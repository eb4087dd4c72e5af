#include "tests/support/webdriver.h"

#include <httplib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <fstream>
#include <thread>

#include "tests/support/cluster.h"

namespace domian::testing {
namespace {

namespace bp = boost::process;
using nlohmann::json;

// The key under which WebDriver names an element (the spec's constant).
constexpr char kElementKey[] = "element-6066-11e4-a52e-4f735466cecf";
// How long chromedriver may take to answer its first /status, and to end
// once asked to.
constexpr auto kDriverStart = 20s;
constexpr auto kDriverStop = 3s;
// Beyond a command's own timeout, for the HTTP exchange around it.
constexpr auto kRequestMargin = 5s;

// chromedriver in a process group of its own (the browser joins it), killed
// by the kernel if the test dies.
struct OwnGroupDyingWithParent : bp::extend::handler {
  template <typename Executor>
  void on_exec_setup(Executor& /*executor*/) const {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  }
};

std::string Base64Decode(const std::string& text) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    if (c == '=' || c == '\n' || c == '\r') continue;
    const size_t value = kAlphabet.find(c);
    if (value == std::string::npos) throw WebDriverError("a screenshot that is not base64");
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

std::string JsonOrText(const std::string& body) {
  const json parsed = json::parse(body, nullptr, false);
  return parsed.is_discarded() ? body.substr(0, 400) : parsed.dump().substr(0, 400);
}

}  // namespace

struct WebDriver::Process {
  bp::child child;
};

bool ChromiumInstalled() {
  return ::access(kChromedriverPath, X_OK) == 0 && ::access(kChromiumPath, X_OK) == 0;
}

WebDriver::WebDriver(Options options) : options_(std::move(options)) {
  StartDriver();
  json chrome = {
      {"binary", kChromiumPath},
      {"args",
       {"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--no-default-browser-check",
        "--window-size=" + std::to_string(options_.width) + "," + std::to_string(options_.height)}}};
  if (options_.phone) {
    chrome["mobileEmulation"] = {{"deviceMetrics",
                                  {{"width", options_.width},
                                   {"height", options_.height},
                                   {"pixelRatio", options_.pixel_ratio}}}};
  }
  const auto ms = options_.timeout.count();
  const json capabilities = {{"capabilities",
                              {{"alwaysMatch",
                                {{"browserName", "chrome"},
                                 {"timeouts", {{"pageLoad", ms}, {"script", ms}, {"implicit", 0}}},
                                 {"goog:chromeOptions", chrome},
                                 {"goog:loggingPrefs", {{"browser", "ALL"}}}}}}}};
  try {
    const json value = Command("POST", "/session", capabilities);
    session_ = value.at("sessionId").get<std::string>();
    // --window-size is the window's; the page's viewport is what counts.
    if (!options_.phone) {
      const json inner = Execute("return [window.innerWidth, window.innerHeight];");
      const json rect = SessionCommand("GET", "/window/rect");
      SessionCommand("POST", "/window/rect",
                     {{"width", rect["width"].get<int>() + options_.width - inner[0].get<int>()},
                      {"height", rect["height"].get<int>() + options_.height - inner[1].get<int>()}});
    }
  } catch (const std::exception& e) {
    StopDriver();
    throw WebDriverError(std::string("no browser session: ") + e.what());
  }
}

WebDriver::~WebDriver() {
  try {
    Quit();
  } catch (const std::exception&) {
    // The driver is ended below either way.
  }
  StopDriver();
}

void WebDriver::StartDriver() {
  port_ = FreeLoopbackPort();
  // No --allowed-ips: with it chromedriver would listen on every interface;
  // without, on loopback only.
  std::vector<std::string> args = {"--port=" + std::to_string(port_)};
  if (!options_.log.empty()) args.push_back("--log-path=" + options_.log.string());
  std::error_code error;
  driver_ = std::make_unique<Process>(Process{bp::child(
      bp::exe(kChromedriverPath), bp::args(args), bp::std_out > bp::null, bp::std_err > bp::null,
      bp::std_in < bp::null, OwnGroupDyingWithParent{}, error)});
  if (error) throw WebDriverError(std::string("cannot start ") + kChromedriverPath + ": " + error.message());
  const auto until = std::chrono::steady_clock::now() + kDriverStart;
  while (true) {
    try {
      if (Command("GET", "/status").value("ready", false)) return;
    } catch (const WebDriverError&) {
      // Not listening yet.
    }
    if (!driver_->child.running()) {
      StopDriver();
      throw WebDriverError("chromedriver exited at start");
    }
    if (std::chrono::steady_clock::now() >= until) {
      StopDriver();
      throw WebDriverError("chromedriver did not answer within " + std::to_string(kDriverStart.count()) + " s");
    }
    std::this_thread::sleep_for(50ms);
  }
}

void WebDriver::StopDriver() {
  if (!driver_) return;
  const pid_t group = driver_->child.id();
  ::kill(-group, SIGTERM);
  const auto until = std::chrono::steady_clock::now() + kDriverStop;
  while (driver_->child.running() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
  }
  ::kill(-group, SIGKILL);  // the browser's processes too, if any stayed
  std::error_code ignored;
  driver_->child.wait(ignored);
  driver_.reset();
}

int WebDriver::driver_pid() const { return driver_ ? driver_->child.id() : -1; }

void WebDriver::Quit() {
  if (session_.empty()) return;
  const std::string session = session_;
  session_.clear();
  Command("DELETE", "/session/" + session);
}

json WebDriver::Command(const std::string& method, const std::string& path, const json& body) {
  httplib::Client client("127.0.0.1", port_);
  const auto deadline = options_.timeout + kRequestMargin;
  client.set_connection_timeout(std::chrono::duration_cast<std::chrono::seconds>(deadline));
  client.set_read_timeout(std::chrono::duration_cast<std::chrono::seconds>(deadline));
  client.set_write_timeout(std::chrono::duration_cast<std::chrono::seconds>(deadline));
  httplib::Result result =
      method == "GET"      ? client.Get(path)
      : method == "DELETE" ? client.Delete(path)
                           : client.Post(path, body.is_null() ? "{}" : body.dump(), "application/json");
  if (!result) {
    throw WebDriverError(method + " " + path + ": no answer from chromedriver (" +
                         httplib::to_string(result.error()) + ")");
  }
  const json reply = json::parse(result->body, nullptr, false);
  if (reply.is_discarded() || !reply.contains("value")) {
    throw WebDriverError(method + " " + path + ": HTTP " + std::to_string(result->status) + ", " +
                         JsonOrText(result->body));
  }
  const json& value = reply["value"];
  if (result->status != 200 || (value.is_object() && value.contains("error"))) {
    throw WebDriverError(method + " " + path + ": " + value.value("error", "error") + ": " +
                         value.value("message", "").substr(0, 600));
  }
  return value;
}

json WebDriver::SessionCommand(const std::string& method, const std::string& path, const json& body) {
  if (session_.empty()) throw WebDriverError("no session");
  return Command(method, "/session/" + session_ + path, body);
}

void WebDriver::Navigate(const std::string& url) { SessionCommand("POST", "/url", {{"url", url}}); }

std::string WebDriver::CurrentUrl() { return SessionCommand("GET", "/url").get<std::string>(); }

void WebDriver::Refresh() { SessionCommand("POST", "/refresh", json::object()); }

std::string WebDriver::Find(const std::string& selector) {
  const json value = SessionCommand("POST", "/element", {{"using", "css selector"}, {"value", selector}});
  return value.at(kElementKey).get<std::string>();
}

std::optional<std::string> WebDriver::TryFind(const std::string& selector) {
  const std::vector<std::string> all = FindAll(selector);
  if (all.empty()) return std::nullopt;
  return all.front();
}

std::vector<std::string> WebDriver::FindAll(const std::string& selector) {
  const json value = SessionCommand("POST", "/elements", {{"using", "css selector"}, {"value", selector}});
  std::vector<std::string> elements;
  for (const json& element : value) elements.push_back(element.at(kElementKey).get<std::string>());
  return elements;
}

void WebDriver::Click(const std::string& element) {
  SessionCommand("POST", "/element/" + element + "/click", json::object());
}

std::string WebDriver::Text(const std::string& element) {
  return SessionCommand("GET", "/element/" + element + "/text").get<std::string>();
}

std::optional<std::string> WebDriver::Attribute(const std::string& element, const std::string& name) {
  const json value = SessionCommand("GET", "/element/" + element + "/attribute/" + name);
  if (value.is_null()) return std::nullopt;
  return value.get<std::string>();
}

json WebDriver::Execute(const std::string& script, const json& args) {
  return SessionCommand("POST", "/execute/sync", {{"script", script}, {"args", args}});
}

bool WebDriver::WaitFor(const std::string& expression, std::chrono::milliseconds timeout,
                        std::chrono::milliseconds poll) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  const std::string script = "try { return !!(" + expression + "); } catch (e) { return false; }";
  while (true) {
    if (Execute(script) == true) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(poll);
  }
}

void WebDriver::Screenshot(const std::filesystem::path& path) {
  const std::string png = Base64Decode(SessionCommand("GET", "/screenshot").get<std::string>());
  std::ofstream out(path, std::ios::binary);
  out.write(png.data(), static_cast<std::streamsize>(png.size()));
  if (!out.flush()) throw WebDriverError("cannot write " + path.string());
}

std::vector<std::string> WebDriver::ConsoleLog() {
  std::vector<std::string> lines;
  // chromedriver's own command (not in the W3C set), as Selenium uses it.
  for (const json& entry : SessionCommand("POST", "/se/log", {{"type", "browser"}})) {
    lines.push_back(entry.value("level", "") + " " + entry.value("message", ""));
  }
  return lines;
}

}  // namespace domian::testing
