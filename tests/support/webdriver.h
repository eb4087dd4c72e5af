// A W3C WebDriver client (https://www.w3.org/TR/webdriver2/) for the
// dashboard's browser test and benchmark: it starts Debian's chromedriver
// on a free port of 127.0.0.1, opens one session of headless Chromium, and
// speaks the protocol's JSON over HTTP (cpp-httplib, nlohmann-json).
//
// Every request has a deadline, and every wait a bound. The driver runs in
// a process group of its own, which the destructor ends (the browser
// included, which chromedriver starts as its child) and which the kernel
// ends too when the test process dies. Tests run as root, so Chromium
// needs --no-sandbox.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace domian::testing {

using namespace std::chrono_literals;

// A failed WebDriver command: its error code and message, or why the
// driver could not be asked at all.
class WebDriverError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What the programs are called in Debian's chromium and chromium-driver.
inline constexpr char kChromedriverPath[] = "/usr/bin/chromedriver";
inline constexpr char kChromiumPath[] = "/usr/lib/chromium/chromium";

// Whether chromedriver and Chromium are installed (scripts/deps installs
// them); a test skips, saying so, when they are not.
bool ChromiumInstalled();

class WebDriver {
 public:
  struct Options {
    // The page's viewport, in CSS pixels.
    int width = 1280;
    int height = 800;
    // A phone: the page sees this width and height as its viewport (a
    // desktop window cannot be narrower than about 500 px).
    bool phone = false;
    double pixel_ratio = 1;  // with phone: device pixels per CSS pixel
    // Every request to the driver; a page load or a script waits at most
    // this long too.
    std::chrono::milliseconds timeout = 30s;
    // chromedriver's own log (empty: none).
    std::filesystem::path log;
  };

  // Starts chromedriver and a session; throws WebDriverError when either
  // does not come up within the timeout.
  explicit WebDriver(Options options);
  WebDriver() : WebDriver(Options{}) {}
  // Deletes the session, then ends chromedriver and the browser.
  ~WebDriver();
  WebDriver(const WebDriver&) = delete;
  WebDriver& operator=(const WebDriver&) = delete;

  // Loads `url` and waits until the document has loaded.
  void Navigate(const std::string& url);
  std::string CurrentUrl();
  void Refresh();

  // An element's id for the other calls: the first that matches the CSS
  // `selector` (WebDriverError when none does), or nullopt / every match.
  std::string Find(const std::string& selector);
  std::optional<std::string> TryFind(const std::string& selector);
  std::vector<std::string> FindAll(const std::string& selector);
  void Click(const std::string& element);
  // The element's text as rendered (what a person reads).
  std::string Text(const std::string& element);
  std::optional<std::string> Attribute(const std::string& element, const std::string& name);

  // Runs `script` as a function body in the page (`return` gives the
  // result) with `arguments` = `args`; its result as JSON.
  nlohmann::json Execute(const std::string& script, const nlohmann::json& args = nlohmann::json::array());
  // Evaluates `expression` every `poll` until it is truthy or `timeout`
  // passes; whether it became truthy. A script that throws counts as false.
  bool WaitFor(const std::string& expression, std::chrono::milliseconds timeout,
               std::chrono::milliseconds poll = 50ms);

  // The viewport as a PNG file at `path`.
  void Screenshot(const std::filesystem::path& path);
  // What the page logged to its console, one line each (Chromium's log,
  // for a failing test's output).
  std::vector<std::string> ConsoleLog();

  // Ends the session (the destructor's first step; safe to call twice).
  void Quit();

  // chromedriver's process id (the id of its process group), -1 once ended.
  int driver_pid() const;

 private:
  // `method` `path` with `body`; the command's "value", or WebDriverError.
  nlohmann::json Command(const std::string& method, const std::string& path,
                         const nlohmann::json& body = nullptr);
  nlohmann::json SessionCommand(const std::string& method, const std::string& path,
                                const nlohmann::json& body = nullptr);
  void StartDriver();
  void StopDriver();

  Options options_;
  uint16_t port_ = 0;
  std::string session_;
  struct Process;
  std::unique_ptr<Process> driver_;
};

}  // namespace domian::testing
