// domian-hue-bridge: the Hue bridge stand-in (hue_bridge.h) as a program,
// for scripts/demo and for trying the lights plugin by hand without a
// bridge. It serves on 127.0.0.1 only.
//
//   domian-hue-bridge [LIGHT_NAME...]     (default: Desk Hall Porch)
//
// It prints "listening on 127.0.0.1:PORT" once it serves. SIGUSR1 presses
// the link button (pairing is open for 30 s); SIGINT or SIGTERM stop it.
// Every light also belongs to group 1 ("Home") with a scene "evening".
#include <signal.h>

#include <iostream>
#include <string>
#include <vector>

#include "tests/support/hue_bridge.h"

int main(int argc, char** argv) {
  std::vector<std::string> names(argv + 1, argv + argc);
  if (!names.empty() && (names[0] == "-h" || names[0] == "--help")) {
    std::cout << "usage: domian-hue-bridge [LIGHT_NAME...]\n"
                 "Serves a Hue bridge (API v1) on 127.0.0.1; SIGUSR1 presses its link button.\n";
    return 0;
  }
  if (names.empty()) names = {"Desk", "Hall", "Porch"};

  // Signals are taken with sigwait() here, so block them before the
  // server's threads start (they inherit the mask).
  sigset_t signals;
  sigemptyset(&signals);
  for (const int number : {SIGUSR1, SIGINT, SIGTERM}) sigaddset(&signals, number);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  domian::testing::HueBridge bridge;
  std::vector<std::string> ids;
  std::map<std::string, nlohmann::json> evening;
  for (const std::string& name : names) {
    ids.push_back(bridge.AddLight(name));
    evening[ids.back()] = {{"on", true}, {"bri", 90}, {"ct", 447}};
  }
  const std::string home = bridge.AddGroup("Home", ids);
  bridge.AddScene("evening", home, evening);
  std::cout << "listening on " << bridge.address() << std::endl;

  while (true) {
    int number = 0;
    if (sigwait(&signals, &number) != 0) return 1;
    if (number != SIGUSR1) break;
    bridge.PressLinkButton();
    std::cout << "link button pressed" << std::endl;
  }
  return 0;
}
