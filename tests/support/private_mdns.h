// A private mDNS world for tests, the C++ twin of tests/mdns/private-mdns:
// this process moves into network and mount namespaces of its own (only a
// loopback interface, with multicast), then runs its own D-Bus system bus
// and avahi-daemon there, configured from tests/mdns/. domiand, avahi-browse
// and avahi-publish started by the test find them via
// DBUS_SYSTEM_BUS_ADDRESS. Nothing reaches or hears the real network, and
// the machine's own system bus and avahi-daemon are out of sight.
#pragma once

#include <chrono>
#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/cluster.h"

namespace domian::testing {

// Call first thing in main(), before any thread exists (namespaces are
// per thread until then). Empty on success, otherwise why not (not root,
// no unshare support); the caller skips what needs it.
std::string EnterPrivateNetwork();
// What EnterPrivateNetwork said, for GTEST_SKIP messages.
const std::string& PrivateNetworkProblem();

class PrivateMdns {
 public:
  // Picks the bus address and exports it; starts nothing yet.
  explicit PrivateMdns(const std::filesystem::path& dir);
  ~PrivateMdns();  // stops whatever runs
  PrivateMdns(const PrivateMdns&) = delete;
  PrivateMdns& operator=(const PrivateMdns&) = delete;

  // Both, bus first; returns once avahi-daemon's server is running.
  void Start();
  void StartBus();
  void StartAvahi();
  // Kills avahi-daemon (SIGKILL: no goodbyes, as in a crash) and waits.
  void KillAvahi();
  void StopBus();

  const std::string& bus_address() const { return bus_address_; }
  std::string AvahiLog() const;

  // `avahi-browse -rpt _domian._tcp`: the resolved ('=') lines, split at
  // ';' (fields: event, interface, protocol, name, type, domain, host,
  // address, port, txt).
  std::vector<std::vector<std::string>> Browse();

  // A service registered with avahi-publish, until destroyed.
  class Publication {
   public:
    explicit Publication(std::unique_ptr<struct PublishProcess> process);
    ~Publication();
    Publication(const Publication&) = delete;
    Publication& operator=(const Publication&) = delete;

   private:
    std::unique_ptr<struct PublishProcess> process_;
  };
  // `type` is the DNS-SD service type (another device's, e.g. a Hue
  // bridge's _hue._tcp, as well as this project's).
  std::unique_ptr<Publication> Publish(const std::string& name, uint16_t port,
                                       const std::vector<std::string>& txt,
                                       const std::string& type = "_domian._tcp");

 private:
  struct Process;
  bool AvahiServerRunning();
  std::filesystem::path dir_;
  std::string bus_address_;
  std::unique_ptr<Process> bus_;
  std::unique_ptr<Process> avahi_;
  int avahi_starts_ = 0;
};

// Listens to mDNS traffic on lo (inside the private network), the way any
// other device on a LAN would hear it.
class MdnsCapture {
 public:
  MdnsCapture();  // joins 224.0.0.251:5353 on lo; throws on failure
  ~MdnsCapture();
  MdnsCapture(const MdnsCapture&) = delete;
  MdnsCapture& operator=(const MdnsCapture&) = delete;
  // The first packet received from now on that contains `needle`.
  std::optional<std::string> PacketContaining(const std::string& needle,
                                              std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
};

}  // namespace domian::testing
