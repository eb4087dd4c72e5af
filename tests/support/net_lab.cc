// Namespaces, bridge and routes of NetLab, all made with iproute2 (the
// same commands a person would type), through RunCommand.
#include "tests/support/net_lab.h"

#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "tests/support/cluster.h"

namespace domian::testing {
namespace {

constexpr const char* kIp = "/usr/sbin/ip";
// Where `ip netns add` pins namespaces. A tmpfs of our own there keeps the
// lab's namespaces out of the host's list, and lets them vanish with the
// test's mount namespace when the test process exits.
constexpr const char* kNetnsDir = "/run/netns";
constexpr const char* kBridge = "dlab0";
// A private range no home network is likely to use; it exists only inside
// the test's namespaces anyway.
constexpr const char* kSubnet = "10.77.0.";
constexpr const char* kPrefixLength = "/24";
constexpr int kBridgeHost = 254;  // the test's own address on the bridge
constexpr int kMaxNodes = kBridgeHost - 1;
// Interface names are limited to 15 characters: "dlabh" + up to 3 digits.
constexpr const char* kHostVethPrefix = "dlabh";
constexpr const char* kNodeInterface = "eth0";  // the node's end, in its namespace
// `prohibit` rather than `blackhole`. With either, the cut namespace's
// kernel refuses the packet at the routing lookup instead of sending it
// into the void, so failures come promptly: a new connection fails at once
// (connect() returns EACCES for prohibit, EINVAL for blackhole), and a
// call on a connection opened before the cut fails at its gRPC deadline
// (the daemons' rpc_timeout) while TCP's retransmissions fail locally.
// Where they differ, prohibit is the better stand-in for a broken network:
// its error reads as what it is ("Permission denied", where EINVAL looks
// like a bug of ours), and a packet forwarded through such a route is
// answered with ICMP "administratively prohibited" instead of dropped
// silently, which would leave its sender waiting out its timeouts.
constexpr const char* kCutRouteType = "prohibit";

std::string& ProblemText() {
  static std::string problem = "NetLab::Enter() was not called";
  return problem;
}

bool& Entered() {
  static bool entered = false;
  return entered;
}

std::string Describe(const std::vector<std::string>& args) {
  std::string text = kIp;
  for (const std::string& arg : args) text += " " + arg;
  return text;
}

// Runs `ip args...`; throws with the command and its stderr on failure.
void Ip(const std::vector<std::string>& args) {
  const CommandResult result = RunCommand(kIp, args);
  if (result.exit_code != 0) {
    throw std::runtime_error(Describe(args) + " failed (exit " + std::to_string(result.exit_code) +
                             "): " + result.err);
  }
}

// Best effort, for cleanup: a failure is not worth a throw from a destructor.
void IpQuietly(const std::vector<std::string>& args) { RunCommand(kIp, args); }

}  // namespace

std::string NetLab::Enter() {
  std::string& problem = ProblemText();
  if (::geteuid() != 0) return problem = "needs root for private network namespaces";
  if (::unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) {
    return problem = std::string("unshare(CLONE_NEWNET | CLONE_NEWNS): ") + std::strerror(errno);
  }
  // Private mounts, so the tmpfs below (and the namespaces pinned on it)
  // never show up in the host's mount namespace.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return problem = std::string("cannot make mounts private: ") + std::strerror(errno);
  }
  std::error_code ignored;
  std::filesystem::create_directories(kNetnsDir, ignored);
  if (::mount("net-lab", kNetnsDir, "tmpfs", 0, "mode=0755") != 0) {
    return problem = std::string("cannot mount a tmpfs on ") + kNetnsDir + ": " +
                     std::strerror(errno);
  }
  // A new network namespace starts with lo down; Daemon picks its ports
  // on 127.0.0.1 here.
  const CommandResult lo = RunCommand(kIp, {"link", "set", "lo", "up"});
  if (lo.exit_code != 0) return problem = "ip link set lo up: " + lo.err;
  Entered() = true;
  problem.clear();
  return problem;
}

const std::string& NetLab::Problem() { return ProblemText(); }

NetLab::NetLab() {
  if (!Entered()) {
    throw std::logic_error("NetLab needs NetLab::Enter() first (" + ProblemText() +
                           "): it must never build in the host's network");
  }
  // No STP on a new bridge: ports forward as soon as they are up.
  Ip({"link", "add", kBridge, "type", "bridge"});
  bridge_ = true;
  Ip({"address", "add", kSubnet + std::to_string(kBridgeHost) + kPrefixLength, "dev", kBridge});
  Ip({"link", "set", kBridge, "up"});
}

NetLab::~NetLab() {
  // Deleting a namespace destroys the veth end in it, and with it the
  // pair's other end on the bridge.
  for (const auto& node : nodes_) IpQuietly({"netns", "delete", node.first});
  if (bridge_) IpQuietly({"link", "delete", kBridge});
}

std::string NetLab::AddNode(const std::string& name) {
  if (std::any_of(nodes_.begin(), nodes_.end(), [&](const auto& node) { return node.first == name; })) {
    throw std::logic_error("NetLab node " + name + " already exists");
  }
  if (nodes_.size() >= static_cast<size_t>(kMaxNodes)) throw std::logic_error("NetLab is full");
  const int host = static_cast<int>(nodes_.size()) + 1;
  const std::string address = kSubnet + std::to_string(host);
  const std::string host_end = kHostVethPrefix + std::to_string(host);
  Ip({"netns", "add", name});
  nodes_.emplace_back(name, address);  // from here on the destructor deletes it
  // The node's end is created right inside its namespace.
  Ip({"link", "add", host_end, "type", "veth", "peer", "name", kNodeInterface, "netns", name});
  Ip({"link", "set", host_end, "master", kBridge});
  Ip({"link", "set", host_end, "up"});
  Ip({"-n", name, "address", "add", address + kPrefixLength, "dev", kNodeInterface});
  Ip({"-n", name, "link", "set", kNodeInterface, "up"});
  Ip({"-n", name, "link", "set", "lo", "up"});
  return address;
}

std::vector<std::string> NetLab::Wrapper(const std::string& name) {
  // `ip netns exec` execs the command (no fork), so the process started
  // keeps the wrapper's pid: signals reach the program itself.
  return {kIp, "netns", "exec", name};
}

const std::string& NetLab::Address(const std::string& name) const {
  for (const auto& node : nodes_) {
    if (node.first == name) return node.second;
  }
  throw std::logic_error("no NetLab node " + name);
}

void NetLab::Cut(const std::string& from, const std::string& to) {
  if (from == to) throw std::logic_error("NetLab node " + from + " is on both sides");
  const std::string& blocked = Address(to);
  if (cuts_.count({from, blocked})) return;  // an earlier Partition() cut it already
  // A /32 beats the /24 of the node's own link, so only this peer is cut
  // off; the bridge address (the test's namespace) stays reachable.
  Ip({"-n", from, "route", "add", kCutRouteType, blocked + "/32"});
  cuts_.insert({from, blocked});
}

void NetLab::Partition(const std::vector<std::string>& side_a,
                       const std::vector<std::string>& side_b) {
  // Routes on both sides: each one only stops what its namespace sends,
  // and a partition must stop replies and new connections both ways.
  for (const std::string& a : side_a) {
    for (const std::string& b : side_b) {
      Cut(a, b);
      Cut(b, a);
    }
  }
}

void NetLab::Heal() {
  std::string failures;
  for (auto it = cuts_.begin(); it != cuts_.end();) {
    const std::vector<std::string> args = {"-n", it->first, "route", "delete", kCutRouteType,
                                           it->second + "/32"};
    const CommandResult result = RunCommand(kIp, args);
    if (result.exit_code == 0) {
      it = cuts_.erase(it);
    } else {
      failures += Describe(args) + " failed (exit " + std::to_string(result.exit_code) +
                  "): " + result.err;
      ++it;
    }
  }
  if (!failures.empty()) throw std::runtime_error(failures);
}

}  // namespace domian::testing
