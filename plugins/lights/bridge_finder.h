// Finds a Hue bridge on the LAN: bridges announce `_hue._tcp` over
// mDNS/DNS-SD with a TXT record `bridgeid=...`. Asked through the system's
// avahi-daemon (Avahi client library, D-Bus), the way the core finds its
// peers; used when the configuration says `bridge: auto`.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <variant>

#include "plugins/lights/bridge_client.h"

namespace domian::lights {

inline constexpr char kHueServiceType[] = "_hue._tcp";
// A real bridge announces port 443 (API v2 over TLS); API v1 is also on
// plain HTTP port 80, which is what this client speaks.
inline constexpr uint16_t kHueTlsPort = 443;

struct FoundBridge {
  BridgeAddress address;
  std::string bridge_id;  // normalised; empty when the record has none
};

// Browses for up to `timeout` and returns the first bridge found (the one
// with `bridge_id` when that is not empty), or why none was. Returns early
// once `*cancel` is true.
std::variant<FoundBridge, std::string> FindBridge(std::chrono::milliseconds timeout,
                                                  const std::string& bridge_id,
                                                  const std::atomic<bool>* cancel);

}  // namespace domian::lights
