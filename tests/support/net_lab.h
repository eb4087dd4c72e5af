// A small private network for partition tests: the test process moves into
// network and mount namespaces of its own (NetLab::Enter), then a NetLab
// puts each domiand node in a network namespace of its own, all joined by
// one bridge in the test's namespace:
//
//     test namespace: bridge dlab0 10.77.0.254/24  (domianctl runs here)
//        |-- veth --> namespace "a": eth0 10.77.0.1/24
//        |-- veth --> namespace "b": eth0 10.77.0.2/24
//        `-- ...
//
// Partition() cuts nodes off from each other with routes inside their
// namespaces while the test's namespace still reaches every node, so the
// test can keep asking each side what it sees. Every namespace, the bridge
// and /run/netns itself live inside the test's private namespaces: nothing
// touches the host's real network, and when the test process exits they
// all go away even if it crashed before cleaning up.
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace domian::testing {

class NetLab {
 public:
  // Call first thing in main(), before any thread exists (unshare() moves
  // only the calling thread, and only a single-threaded process may enter
  // a new mount namespace). Empty on success, otherwise why not (not root,
  // no namespace support); the caller skips what needs it.
  static std::string Enter();
  // What Enter() said, for GTEST_SKIP messages.
  static const std::string& Problem();

  // Creates the bridge; throws unless Enter() succeeded (so a NetLab never
  // builds anything in the host's network) or when a command fails.
  NetLab();
  ~NetLab();  // deletes the namespaces and the bridge, best effort
  NetLab(const NetLab&) = delete;
  NetLab& operator=(const NetLab&) = delete;

  // A namespace `name` plugged into the bridge; returns its IPv4 address
  // ("10.77.0.N", N counting from 1 in order of creation).
  std::string AddNode(const std::string& name);
  // The command prefix that runs a program inside node `name`'s namespace
  // (for Daemon::Options::wrapper).
  static std::vector<std::string> Wrapper(const std::string& name);
  // The address AddNode returned for `name`; throws for an unknown node.
  const std::string& Address(const std::string& name) const;

  // Nodes on side A can no longer reach side B and vice versa; the test's
  // namespace still reaches everyone. May be called again to cut more.
  void Partition(const std::vector<std::string>& side_a, const std::vector<std::string>& side_b);
  // Undoes every Partition().
  void Heal();

 private:
  // Adds the routes that stop `from` from sending to `to`'s address.
  void Cut(const std::string& from, const std::string& to);

  std::vector<std::pair<std::string, std::string>> nodes_;  // (name, address)
  std::set<std::pair<std::string, std::string>> cuts_;       // (namespace, blocked address)
  bool bridge_ = false;
};

}  // namespace domian::testing
