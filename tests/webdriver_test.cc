// The WebDriver client (tests/support/webdriver.h) against a small page
// served by cpp-httplib on 127.0.0.1: it starts chromedriver and headless
// Chromium, navigates, finds, clicks, reads text and attributes, runs
// scripts, waits with a bound, emulates a phone's viewport and writes
// screenshots; and it ends the driver and the browser when it goes.
#include "tests/support/webdriver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <fstream>
#include <thread>

#include "tests/support/cluster.h"

namespace domian::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kPage[] = R"(<!doctype html>
<html><head><meta name="viewport" content="width=device-width, initial-scale=1"><title>webdriver</title></head>
<body><h1 id="title">Counter</h1><button id="more" data-count="0">0 clicks</button>
<p id="late"></p><script src="page.js"></script></body></html>)";
constexpr char kScript[] = R"(
const button = document.getElementById('more');
button.addEventListener('click', () => {
  button.dataset.count = String(Number(button.dataset.count) + 1);
  button.textContent = `${button.dataset.count} clicks`;
  setTimeout(() => { document.getElementById('late').textContent = 'late text'; }, 300);
});
console.log('page script ran');
)";

class WebDriverClient : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ChromiumInstalled())
        << "chromium and chromium-driver are not installed: ./scripts/deps installs them";
    server_.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content(kPage, "text/html"); });
    server_.Get("/page.js", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(kScript, "text/javascript");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  void TearDown() override {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

  TempDir dir_{"domian-webdriver-test"};
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(WebDriverClient, NavigatesFindsClicksReadsAndWaits) {
  WebDriver browser(WebDriver::Options{.log = dir_.path() / "chromedriver.log"});
  browser.Navigate(Url());
  EXPECT_EQ(browser.CurrentUrl(), Url());
  EXPECT_EQ(browser.Text(browser.Find("#title")), "Counter");
  EXPECT_FALSE(browser.TryFind("#missing").has_value());
  EXPECT_THROW(browser.Find("#missing"), WebDriverError);

  const std::string button = browser.Find("#more");
  browser.Click(button);
  browser.Click(button);
  EXPECT_EQ(browser.Text(button), "2 clicks");
  EXPECT_EQ(browser.Attribute(button, "data-count"), "2");
  EXPECT_FALSE(browser.Attribute(button, "data-nothing").has_value());

  // Text that comes later: waited for, within a bound.
  EXPECT_TRUE(browser.WaitFor("document.getElementById('late').textContent === 'late text'", 5s));
  const auto began = std::chrono::steady_clock::now();
  EXPECT_FALSE(browser.WaitFor("document.title === 'never'", 500ms));
  EXPECT_LT(std::chrono::steady_clock::now() - began, 5s);
  EXPECT_FALSE(browser.WaitFor("no_such_variable.x", 200ms)) << "a script that throws is false";

  EXPECT_EQ(browser.Execute("return arguments[0] + arguments[1];", {2, 3}), 5);
  EXPECT_EQ(browser.Execute("return document.querySelectorAll('button').length;"), 1);
  EXPECT_THROW(browser.Execute("throw new Error('boom');"), WebDriverError);
  std::string console;
  for (const std::string& line : browser.ConsoleLog()) console += line + "\n";
  EXPECT_THAT(console, HasSubstr("page script ran"));
}

TEST_F(WebDriverClient, ScreenshotsAtDesktopAndPhoneWidths) {
  {
    WebDriver desktop(WebDriver::Options{.width = 1280, .height = 800});
    desktop.Navigate(Url());
    EXPECT_EQ(desktop.Execute("return [window.innerWidth, window.innerHeight];"), nlohmann::json({1280, 800}));
    desktop.Screenshot(dir_.path() / "desktop.png");
  }
  {
    WebDriver phone(WebDriver::Options{.width = 390, .height = 844, .phone = true});
    phone.Navigate(Url());
    EXPECT_EQ(phone.Execute("return [window.innerWidth, window.innerHeight];"), nlohmann::json({390, 844}));
    phone.Screenshot(dir_.path() / "phone.png");
  }
  for (const char* name : {"desktop.png", "phone.png"}) {
    std::ifstream in(dir_.path() / name, std::ios::binary);
    std::string head(8, '\0');
    in.read(head.data(), 8);
    EXPECT_EQ(head, std::string("\x89PNG\r\n\x1a\n", 8)) << name << " is not a PNG";
    EXPECT_GT(std::filesystem::file_size(dir_.path() / name), 1000U) << name;
  }
}

TEST_F(WebDriverClient, EndsTheDriverAndTheBrowserWhenItGoes) {
  int driver_group = -1;
  {
    WebDriver browser;
    browser.Navigate(Url());
    driver_group = browser.driver_pid();  // the leader of its process group
    ASSERT_GT(driver_group, 0);
    EXPECT_EQ(::kill(-driver_group, 0), 0);
    // The browser is in that group: chromedriver's child.
    const CommandResult pgrep = RunCommand("/usr/bin/pgrep", {"-g", std::to_string(driver_group), "-f", "chromium"});
    EXPECT_EQ(pgrep.exit_code, 0) << "no browser in the driver's process group";
  }
  EXPECT_TRUE(Eventually([&] { return ::kill(-driver_group, 0) != 0; }, 5s))
      << "the driver's process group (the browser's too) is still there";
}

}  // namespace
}  // namespace domian::testing
