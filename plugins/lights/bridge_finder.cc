#include "plugins/lights/bridge_finder.h"

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/simple-watch.h>

#include <memory>
#include <optional>

#include "plugins/lights/hue_api.h"

namespace domian::lights {
namespace {

// How long one poll iteration may sleep, so the deadline is kept.
constexpr int kPollSliceMs = 100;

struct Search {
  std::string want_id;
  AvahiClient* client = nullptr;
  std::optional<FoundBridge> found;
  std::string problem;
  bool failed = false;  // the search cannot go on (browser or client failure)
  int resolving = 0;
};

void OnClient(AvahiClient* client, AvahiClientState state, void* data) {
  auto* search = static_cast<Search*>(data);
  if (state == AVAHI_CLIENT_FAILURE) {
    search->failed = true;
    search->problem = std::string("lost avahi-daemon while looking for a bridge: ") +
                      avahi_strerror(avahi_client_errno(client));
  }
}

std::string TxtValue(AvahiStringList* txt, const char* key) {
  AvahiStringList* entry = avahi_string_list_find(txt, key);
  if (entry == nullptr) return "";
  char* name = nullptr;
  char* value = nullptr;
  if (avahi_string_list_get_pair(entry, &name, &value, nullptr) != 0) return "";
  std::string text = value != nullptr ? value : "";
  avahi_free(name);
  avahi_free(value);
  return text;
}

void OnResolve(AvahiServiceResolver* resolver, AvahiIfIndex /*interface*/,
               AvahiProtocol /*protocol*/, AvahiResolverEvent event, const char* /*name*/,
               const char* /*type*/, const char* /*domain*/, const char* /*host_name*/,
               const AvahiAddress* address, uint16_t port, AvahiStringList* txt,
               AvahiLookupResultFlags /*flags*/, void* data) {
  auto* search = static_cast<Search*>(data);
  --search->resolving;
  if (event == AVAHI_RESOLVER_FOUND && address != nullptr && !search->found) {
    const std::string id = NormalizeBridgeId(TxtValue(txt, "bridgeid"));
    if (search->want_id.empty() || id == search->want_id) {
      char text[AVAHI_ADDRESS_STR_MAX] = {};
      avahi_address_snprint(text, sizeof(text), address);
      search->found = FoundBridge{
          BridgeAddress{text, port == kHueTlsPort ? kBridgeHttpPort : port}, id};
    } else {
      search->problem = "found bridge " + id + ", not " + search->want_id;
    }
  }
  avahi_service_resolver_free(resolver);
}

void OnBrowse(AvahiServiceBrowser* /*browser*/, AvahiIfIndex interface, AvahiProtocol protocol,
              AvahiBrowserEvent event, const char* name, const char* type, const char* domain,
              AvahiLookupResultFlags /*flags*/, void* data) {
  auto* search = static_cast<Search*>(data);
  if (event == AVAHI_BROWSER_FAILURE) {
    search->failed = true;
    search->problem = std::string("mDNS browsing failed: ") +
                      avahi_strerror(avahi_client_errno(search->client));
    return;
  }
  if (event != AVAHI_BROWSER_NEW) return;
  // IPv4 first: bridges are reached over IPv4 on almost every LAN.
  if (avahi_service_resolver_new(search->client, interface, protocol, name, type, domain,
                                 AVAHI_PROTO_INET, static_cast<AvahiLookupFlags>(0), &OnResolve,
                                 search) != nullptr) {
    ++search->resolving;
  }
}

}  // namespace

std::variant<FoundBridge, std::string> FindBridge(std::chrono::milliseconds timeout,
                                                  const std::string& bridge_id,
                                                  const std::atomic<bool>* cancel) {
  std::unique_ptr<AvahiSimplePoll, decltype(&avahi_simple_poll_free)> poll(
      avahi_simple_poll_new(), &avahi_simple_poll_free);
  if (!poll) return std::string("cannot set up an mDNS search");
  Search search;
  search.want_id = NormalizeBridgeId(bridge_id);
  int error = 0;
  std::unique_ptr<AvahiClient, decltype(&avahi_client_free)> client(
      avahi_client_new(avahi_simple_poll_get(poll.get()), static_cast<AvahiClientFlags>(0),
                       &OnClient, &search, &error),
      &avahi_client_free);
  if (!client) {
    return std::string("cannot reach avahi-daemon to look for a bridge over mDNS (") +
           avahi_strerror(error) + "); set bridge: to its address";
  }
  search.client = client.get();
  AvahiServiceBrowser* browser = avahi_service_browser_new(
      client.get(), AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, kHueServiceType, nullptr,
      static_cast<AvahiLookupFlags>(0), &OnBrowse, &search);
  if (browser == nullptr) {
    return std::string("cannot browse for ") + kHueServiceType + ": " +
           avahi_strerror(avahi_client_errno(client.get()));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!search.found && !search.failed && !*cancel &&
         std::chrono::steady_clock::now() < deadline) {
    if (avahi_simple_poll_iterate(poll.get(), kPollSliceMs) != 0) break;
  }
  // Freeing the client frees the browser and any resolver still running.
  avahi_service_browser_free(browser);
  if (search.found) return *search.found;
  if (!search.problem.empty()) return search.problem;
  return "no Hue bridge (" + std::string(kHueServiceType) + ") answered over mDNS within " +
         std::to_string(timeout.count()) + " ms" +
         (search.want_id.empty() ? "" : " with id " + search.want_id);
}

}  // namespace domian::lights
