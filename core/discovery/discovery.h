// Discovery: finds the other domains of this cluster on the LAN over
// mDNS/DNS-SD, through the system's avahi-daemon (Avahi client library,
// D-Bus), and makes this domain findable.
//
// Every domain browses for _domian._tcp and resolves what it sees; a
// record of this cluster that is not this domain is handed to the core as
// an address worth a ShareIdentityList. A lonely domain advertises itself
// (with `advertise: always`, every domain does). mDNS only introduces
// peers: a record that disappears says nothing about whether the peer
// lives, which stays the membership protocol's call.
//
// Avahi runs on its own threaded poll; its callbacks run on that thread
// and hand results over through the Sink without waiting for the core.
// Avahi being absent, late or restarting is normal: this object connects
// when it can and re-registers whenever avahi-daemon comes back.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/config/node_config.h"
#include "core/discovery/txt_record.h"

namespace domian::discovery {

// Where the results go. Called on Avahi's thread: must not block.
class Sink {
 public:
  virtual ~Sink() = default;
  // A domain of this cluster (not this one) may be reached at `address`
  // ("host:port", IPv6 bracketed, link-local with its %interface).
  virtual void Discovered(const std::string& id, const std::string& address) = 0;
  // The record that gave `address` is gone (or Avahi went away).
  virtual void Vanished(const std::string& address) = 0;
};

// What `domianctl status` shows of discovery.
struct DiscoveryStatus {
  // "off", "connecting" (waiting for avahi-daemon), "running", "failed".
  std::string state = "off";
  bool advertising = false;
  std::string instance_name;  // as registered, after any collision
  size_t domains_seen = 0;    // records of this cluster being followed
};

class Discovery {
 public:
  struct Options {
    Advertisement self;   // what this domain advertises; its id is ignored when seen
    uint16_t port = 0;    // the gRPC port
    config::AdvertiseMode advertise = config::AdvertiseMode::kAlways;
  };

  Discovery(Options options, Sink& sink);
  ~Discovery();  // Stop()
  Discovery(const Discovery&) = delete;
  Discovery& operator=(const Discovery&) = delete;

  // Starts Avahi's thread and connects; never fails (Avahi may come later).
  void Start();
  // Withdraws the advertisement (mDNS goodbye) and stops the thread.
  void Stop();

  // The core's loneliness changed; with `advertise: lonely` this starts
  // or withdraws the advertisement. After Start(); any thread but Avahi's.
  // A domain starts lonely.
  void SetLonely(bool lonely);

  DiscoveryStatus Status() const;

 private:
  class Avahi;
  std::unique_ptr<Avahi> avahi_;
};

}  // namespace domian::discovery
