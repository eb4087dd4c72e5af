// A stranger on the LAN sending junk peer rows (issue 23, item 6), for the
// benchmark's detect variant: how much slower is a real crash detected
// while someone keeps telling every node about peers that do not exist?
//
// Every round it sends each target one ShareIdentityList, as a gRPC
// client of the protocol would: its own row as sender, and an identity
// list of `rows` fake peers, well formed (valid ids, counters and
// identities of the cluster) but at addresses nobody answers at. Their
// heartbeats grow each round, so to a node that believes them they look
// alive. One message with 1000 rows is ~66 KB.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace domian::bench {

class JunkSender {
 public:
  struct Options {
    std::string cluster = "test";
    size_t rows = 1000;
    // Once a second per node: a steady trickle an attacker can keep up
    // for hours, not a flood (a flood is issue 23's items 3 and 4).
    std::chrono::milliseconds interval{1000};
  };
  // What the targets answered: accepted (OK) or refused (any other status,
  // e.g. a node that caps the new ids one message may bring).
  struct Counts {
    uint64_t sent = 0;
    uint64_t accepted = 0;
    uint64_t refused = 0;
  };

  // `targets`: the nodes' addresses (host:port); a target that is down
  // (a killed victim) is simply sent to again next round.
  JunkSender(std::vector<std::string> targets, Options options);
  ~JunkSender();  // Stop()
  JunkSender(const JunkSender&) = delete;
  JunkSender& operator=(const JunkSender&) = delete;

  void Start();
  void Stop();
  Counts counts() const;

 private:
  void Run();

  std::vector<std::string> targets_;
  Options options_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  Counts counts_;          // guarded by mu_
};

}  // namespace domian::bench
