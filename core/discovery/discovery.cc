// Avahi glue. Everything below the public methods runs on Avahi's thread
// (callbacks and the retry timer), or with the poll lock held, or after
// the poll has stopped; the status is the only thing read from outside.
#include "core/discovery/discovery.h"

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <avahi-common/thread-watch.h>
#include <avahi-common/timeval.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <tuple>
#include <vector>

#include "core/discovery/peer_address.h"

namespace domian::discovery {
namespace {

// How often to try again when D-Bus is missing, or the client, the
// browser or the advertisement failed. While D-Bus is up but
// avahi-daemon is not, Avahi itself watches for the daemon
// (AVAHI_CLIENT_NO_FAIL) and this timer is idle.
constexpr std::chrono::milliseconds kRetryInterval{2000};
// Records followed at once. A LAN of homes has a handful; a device
// flooding the network with records must not grow memory without bound.
constexpr size_t kMaxRecords = 256;
// Instance names already mentioned in the log (malformed records, other
// clusters): one line per record, not one per re-announcement.
constexpr size_t kMaxNotedNames = 256;
// Local name collisions resolved in one go before giving up until the
// next retry (each step yields "name #2", "name #3", ...).
constexpr int kMaxRenames = 16;

std::vector<std::string> TxtStrings(AvahiStringList* list) {
  std::vector<std::string> out;
  for (AvahiStringList* it = list; it != nullptr; it = avahi_string_list_get_next(it)) {
    // Counting stops early: ParseTxt refuses more than this anyway.
    if (out.size() > kMaxTxtEntries) break;
    out.emplace_back(reinterpret_cast<const char*>(avahi_string_list_get_text(it)),
                     avahi_string_list_get_size(it));
  }
  return out;
}

std::string Printable(const char* text) {
  std::string out;
  for (const char* c = text; c && *c && out.size() < kMaxInstanceNameBytes; ++c) {
    out += (*c >= 0x20 && *c <= 0x7e) ? *c : '?';
  }
  return out;
}

}  // namespace

class Discovery::Avahi {
 public:
  Avahi(Options options, Sink& sink)
      : options_(std::move(options)), sink_(sink), name_(InstanceName(options_.self.id)) {}

  ~Avahi() { Stop(); }

  void Start() {
    poll_ = avahi_threaded_poll_new();
    if (poll_ == nullptr) {
      spdlog::error("mDNS discovery off: cannot create Avahi's event loop");
      SetState("failed");
      return;
    }
    const AvahiPoll* api = avahi_threaded_poll_get(poll_);
    retry_ = api->timeout_new(api, nullptr, &Avahi::OnRetry, this);
    Connect();
    if (avahi_threaded_poll_start(poll_) < 0) {
      spdlog::error("mDNS discovery off: cannot start Avahi's thread");
      SetState("failed");
      FreeAll();
    }
  }

  void Stop() {
    if (poll_ == nullptr) return;
    avahi_threaded_poll_stop(poll_);
    FreeAll();
  }

  void SetLonely(bool lonely) {
    if (poll_ == nullptr) return;
    avahi_threaded_poll_lock(poll_);
    lonely_ = lonely;
    if (running_) UpdateAdvertisement();
    avahi_threaded_poll_unlock(poll_);
  }

  DiscoveryStatus Status() const {
    std::lock_guard lock(status_mu_);
    return status_;
  }

 private:
  // One DNS-SD record as the browser reports it.
  using RecordKey = std::tuple<AvahiIfIndex, AvahiProtocol, std::string, std::string>;
  // One address family's resolver of a record, and what it last found.
  struct Lookup {
    AvahiServiceResolver* resolver = nullptr;
    std::string address;  // empty until resolved to a domain of our cluster
  };
  struct Record {
    Lookup v4;
    Lookup v6;
  };

  // --- connection ---

  void Connect() {
    int error = 0;
    AvahiClient* client = avahi_client_new(avahi_threaded_poll_get(poll_), AVAHI_CLIENT_NO_FAIL,
                                           &Avahi::OnClient, this, &error);
    if (client == nullptr) {
      // Only when D-Bus itself is unreachable: NO_FAIL covers a missing
      // avahi-daemon.
      WarnUnavailable(avahi_strerror(error));
      ScheduleRetry();
      return;
    }
    client_ = client;
  }

  static void OnClient(AvahiClient* client, AvahiClientState state, void* self) {
    static_cast<Avahi*>(self)->HandleClient(client, state);
  }

  void HandleClient(AvahiClient* client, AvahiClientState state) {
    // Called from inside avahi_client_new too, before it returns.
    client_ = client;
    switch (state) {
      case AVAHI_CLIENT_S_RUNNING:
        running_ = true;
        if (warned_) {
          spdlog::info("avahi-daemon is available: discovering peers over mDNS");
        } else {
          spdlog::info("discovering peers over mDNS ({})", kServiceType);
        }
        warned_ = false;
        SetState("running");
        UpdateAdvertisement();
        StartBrowsing();
        break;
      case AVAHI_CLIENT_S_REGISTERING:
      case AVAHI_CLIENT_S_COLLISION:
        // The host name is being (re)chosen; our records come back once
        // the server is running again.
        running_ = false;
        if (group_ != nullptr) avahi_entry_group_reset(group_);
        SetAdvertising(false);
        break;
      case AVAHI_CLIENT_CONNECTING:
        // avahi-daemon is not (or no longer) there; Avahi reconnects by
        // itself when it appears. What we had registered died with it.
        running_ = false;
        DropLookupsAndAdvertisement();
        WarnUnavailable("avahi-daemon is not running");
        break;
      case AVAHI_CLIENT_FAILURE:
        // D-Bus went away: start over with a new client from the timer
        // (a client is not freed from inside its own callback).
        running_ = false;
        DropLookupsAndAdvertisement();
        WarnUnavailable(avahi_strerror(avahi_client_errno(client)));
        client_failed_ = true;
        ScheduleRetry();
        break;
    }
  }

  void WarnUnavailable(const std::string& reason) {
    SetState("connecting");
    if (warned_) return;
    warned_ = true;
    spdlog::warn("mDNS discovery unavailable ({}): finding peers through seeds only until "
                 "avahi-daemon runs",
                 reason);
  }

  void ScheduleRetry() {
    timeval when;
    avahi_elapse_time(&when, static_cast<unsigned>(kRetryInterval.count()), 0);
    avahi_threaded_poll_get(poll_)->timeout_update(retry_, &when);
  }

  static void OnRetry(AvahiTimeout* /*timeout*/, void* self) {
    static_cast<Avahi*>(self)->HandleRetry();
  }

  void HandleRetry() {
    if (client_ == nullptr || client_failed_) {
      if (client_ != nullptr) avahi_client_free(client_);
      client_ = nullptr;
      client_failed_ = false;
      Connect();
      return;
    }
    if (running_) {
      UpdateAdvertisement();
      StartBrowsing();
    }
  }

  // --- advertising ---

  bool WantAdvertisement() const {
    return options_.advertise == AdvertiseMode::kAlways || lonely_;
  }

  void UpdateAdvertisement() {
    if (!WantAdvertisement()) {
      if (group_ != nullptr && !avahi_entry_group_is_empty(group_)) {
        // Withdrawing sends mDNS goodbyes, so browsers forget us now
        // rather than when the records expire.
        avahi_entry_group_reset(group_);
        spdlog::info("has live peers: no longer advertising over mDNS");
      }
      SetAdvertising(false);
      return;
    }
    if (group_ == nullptr) {
      group_ = avahi_entry_group_new(client_, &Avahi::OnGroup, this);
      if (group_ == nullptr) {
        spdlog::warn("cannot advertise over mDNS: {}", avahi_strerror(avahi_client_errno(client_)));
        ScheduleRetry();
        return;
      }
    }
    if (!avahi_entry_group_is_empty(group_)) return;  // already registered or registering
    Register();
  }

  void Register() {
    AvahiStringList* txt = nullptr;
    // Prepending in reverse keeps the TXT strings in EncodeTxt's order.
    const std::vector<std::string> strings = EncodeTxt(options_.self);
    for (auto it = strings.rbegin(); it != strings.rend(); ++it) {
      txt = avahi_string_list_add(txt, it->c_str());
    }
    int result = AVAHI_ERR_COLLISION;
    for (int renames = 0; result == AVAHI_ERR_COLLISION && renames <= kMaxRenames; ++renames) {
      if (renames > 0) Rename();
      result = avahi_entry_group_add_service_strlst(
          group_, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, static_cast<AvahiPublishFlags>(0),
          name_.c_str(), kServiceType, nullptr, nullptr, options_.port, txt);
    }
    avahi_string_list_free(txt);
    if (result >= 0) result = avahi_entry_group_commit(group_);
    if (result < 0) {
      spdlog::warn("cannot advertise '{}' over mDNS: {}", name_, avahi_strerror(result));
      avahi_entry_group_reset(group_);
      ScheduleRetry();
    }
  }

  void Rename() {
    char* alternative = avahi_alternative_service_name(name_.c_str());
    spdlog::info("mDNS name '{}' is taken on this network; advertising as '{}'", name_,
                 alternative);
    name_ = alternative;
    avahi_free(alternative);
  }

  static void OnGroup(AvahiEntryGroup* group, AvahiEntryGroupState state, void* self) {
    static_cast<Avahi*>(self)->HandleGroup(group, state);
  }

  void HandleGroup(AvahiEntryGroup* group, AvahiEntryGroupState state) {
    switch (state) {
      case AVAHI_ENTRY_GROUP_ESTABLISHED:
        spdlog::info("advertising '{}' over mDNS ({}, port {})", name_, kServiceType,
                     options_.port);
        SetAdvertising(true);
        break;
      case AVAHI_ENTRY_GROUP_COLLISION:
        // Another device registered the name first: pick the next one.
        // Identity is in the TXT id, so the name is only a label.
        Rename();
        avahi_entry_group_reset(group);
        if (WantAdvertisement()) Register();
        break;
      case AVAHI_ENTRY_GROUP_FAILURE:
        spdlog::warn("mDNS advertisement failed: {}",
                     avahi_strerror(avahi_client_errno(avahi_entry_group_get_client(group))));
        avahi_entry_group_reset(group);
        SetAdvertising(false);
        ScheduleRetry();
        break;
      case AVAHI_ENTRY_GROUP_UNCOMMITED:
      case AVAHI_ENTRY_GROUP_REGISTERING:
        break;
    }
  }

  // --- browsing and resolving ---

  void StartBrowsing() {
    if (browser_ != nullptr) return;
    browser_ = avahi_service_browser_new(client_, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC,
                                         kServiceType, nullptr, static_cast<AvahiLookupFlags>(0),
                                         &Avahi::OnBrowse, this);
    if (browser_ == nullptr) {
      spdlog::warn("cannot browse mDNS for {}: {}", kServiceType,
                   avahi_strerror(avahi_client_errno(client_)));
      ScheduleRetry();
    }
  }

  static void OnBrowse(AvahiServiceBrowser* browser, AvahiIfIndex interface,
                       AvahiProtocol protocol, AvahiBrowserEvent event, const char* name,
                       const char* type, const char* domain, AvahiLookupResultFlags /*flags*/,
                       void* self) {
    static_cast<Avahi*>(self)->HandleBrowse(browser, interface, protocol, event, name, type,
                                            domain);
  }

  void HandleBrowse(AvahiServiceBrowser* browser, AvahiIfIndex interface, AvahiProtocol protocol,
                    AvahiBrowserEvent event, const char* name, const char* type,
                    const char* domain) {
    switch (event) {
      case AVAHI_BROWSER_NEW: {
        RecordKey key{interface, protocol, name, domain};
        if (records_.contains(key)) return;
        if (records_.size() >= kMaxRecords) {
          if (Note("#limit")) {
            spdlog::warn("mDNS: more than {} {} records on the network; ignoring the rest",
                         kMaxRecords, kServiceType);
          }
          return;
        }
        Record& record = records_[key];
        // Both families: whichever this node can reach will answer, and
        // an IPv6-only (or IPv4-only) peer is found either way.
        record.v4.resolver = Resolve(key, type, AVAHI_PROTO_INET);
        record.v6.resolver = Resolve(key, type, AVAHI_PROTO_INET6);
        break;
      }
      case AVAHI_BROWSER_REMOVE: {
        // Not a death notice (membership decides that): only an address
        // no longer worth trying.
        const auto it = records_.find(RecordKey{interface, protocol, name, domain});
        if (it == records_.end()) return;
        DropRecord(it->second);
        records_.erase(it);
        UpdateSeen();
        break;
      }
      case AVAHI_BROWSER_FAILURE:
        spdlog::warn("mDNS browsing failed: {}",
                     avahi_strerror(avahi_client_errno(avahi_service_browser_get_client(browser))));
        DropLookups();
        avahi_service_browser_free(browser);
        browser_ = nullptr;
        ScheduleRetry();
        break;
      case AVAHI_BROWSER_ALL_FOR_NOW:
      case AVAHI_BROWSER_CACHE_EXHAUSTED:
        break;
    }
  }

  AvahiServiceResolver* Resolve(const RecordKey& key, const char* type, AvahiProtocol family) {
    const auto& [interface, protocol, name, domain] = key;
    // Kept open: Avahi reports again when the record's address or TXT
    // changes, until it is freed with the record.
    AvahiServiceResolver* resolver = avahi_service_resolver_new(
        client_, interface, protocol, name.c_str(), type, domain.c_str(), family,
        static_cast<AvahiLookupFlags>(0), &Avahi::OnResolve, this);
    if (resolver == nullptr) {
      spdlog::debug("mDNS: cannot resolve '{}': {}", Printable(name.c_str()),
                    avahi_strerror(avahi_client_errno(client_)));
      return nullptr;
    }
    resolvers_[resolver] = {key, family};
    return resolver;
  }

  static void OnResolve(AvahiServiceResolver* resolver, AvahiIfIndex interface,
                        AvahiProtocol /*protocol*/, AvahiResolverEvent event, const char* name,
                        const char* /*type*/, const char* /*domain*/, const char* /*host_name*/,
                        const AvahiAddress* address, uint16_t port, AvahiStringList* txt,
                        AvahiLookupResultFlags /*flags*/, void* self) {
    static_cast<Avahi*>(self)->HandleResolve(resolver, interface, event, name, address, port,
                                             txt);
  }

  void HandleResolve(AvahiServiceResolver* resolver, AvahiIfIndex interface,
                     AvahiResolverEvent event, const char* name, const AvahiAddress* address,
                     uint16_t port, AvahiStringList* txt) {
    const auto found = resolvers_.find(resolver);
    if (found == resolvers_.end()) return;
    const auto [key, family] = found->second;
    Record& record = records_.at(key);
    Lookup& lookup = family == AVAHI_PROTO_INET ? record.v4 : record.v6;
    if (event != AVAHI_RESOLVER_FOUND || address == nullptr) {
      // Typically a host without an address of this family.
      spdlog::debug("mDNS: '{}' has no {} address: {}", Printable(name),
                    family == AVAHI_PROTO_INET ? "IPv4" : "IPv6",
                    avahi_strerror(avahi_client_errno(client_)));
      DropLookup(lookup);
      return;
    }
    const auto parsed = ParseTxt(TxtStrings(txt));
    if (const auto* error = std::get_if<std::string>(&parsed)) {
      if (Note("bad " + std::get<2>(key))) {
        spdlog::warn("ignoring mDNS record '{}': {}", Printable(name), *error);
      }
      Forget(lookup);
      return;
    }
    const Advertisement& ad = std::get<Advertisement>(parsed);
    if (ad.id == options_.self.id) return;  // ourselves, on some interface
    if (ad.cluster != options_.self.cluster) {
      if (Note("cluster " + std::get<2>(key))) {
        spdlog::info("ignoring domain {} of cluster '{}' seen over mDNS", ad.id, ad.cluster);
      }
      Forget(lookup);
      return;
    }
    const std::string peer = PeerAddress(*address, interface, port);
    if (peer == lookup.address) return;
    Forget(lookup);
    lookup.address = peer;
    if (++address_refs_[peer] == 1) {
      spdlog::debug("mDNS: domain {} at {}", ad.id, peer);
      sink_.Discovered(ad.id, peer);
    }
    UpdateSeen();
  }

  // The lookup no longer gives an address.
  void Forget(Lookup& lookup) {
    if (lookup.address.empty()) return;
    const auto it = address_refs_.find(lookup.address);
    if (it != address_refs_.end() && --it->second <= 0) {
      address_refs_.erase(it);
      sink_.Vanished(lookup.address);
    }
    lookup.address.clear();
  }

  void DropLookup(Lookup& lookup) {
    Forget(lookup);
    if (lookup.resolver != nullptr) {
      resolvers_.erase(lookup.resolver);
      avahi_service_resolver_free(lookup.resolver);
      lookup.resolver = nullptr;
    }
  }

  void DropRecord(Record& record) {
    DropLookup(record.v4);
    DropLookup(record.v6);
  }

  void DropLookups() {
    for (auto& [key, record] : records_) DropRecord(record);
    records_.clear();
    UpdateSeen();
  }

  void DropLookupsAndAdvertisement() {
    DropLookups();
    if (browser_ != nullptr) avahi_service_browser_free(browser_);
    browser_ = nullptr;
    if (group_ != nullptr) avahi_entry_group_free(group_);
    group_ = nullptr;
    SetAdvertising(false);
  }

  void FreeAll() {
    if (client_ != nullptr) {
      DropLookupsAndAdvertisement();
      avahi_client_free(client_);
      client_ = nullptr;
    }
    const AvahiPoll* api = avahi_threaded_poll_get(poll_);
    if (retry_ != nullptr) api->timeout_free(retry_);
    retry_ = nullptr;
    avahi_threaded_poll_free(poll_);
    poll_ = nullptr;
    running_ = false;
    SetState("off");
  }

  // True the first time `key` is noted (bounded memory).
  bool Note(const std::string& key) {
    if (noted_.size() >= kMaxNotedNames) noted_.clear();
    return noted_.insert(key).second;
  }

  // --- status ---

  void SetState(const char* state) {
    std::lock_guard lock(status_mu_);
    status_.state = state;
  }
  void SetAdvertising(bool advertising) {
    std::lock_guard lock(status_mu_);
    status_.advertising = advertising;
    status_.instance_name = advertising ? name_ : std::string();
  }
  void UpdateSeen() {
    std::lock_guard lock(status_mu_);
    status_.domains_seen = address_refs_.size();
  }

  const Options options_;
  Sink& sink_;

  AvahiThreadedPoll* poll_ = nullptr;
  AvahiClient* client_ = nullptr;
  AvahiEntryGroup* group_ = nullptr;
  AvahiServiceBrowser* browser_ = nullptr;
  AvahiTimeout* retry_ = nullptr;
  bool running_ = false;        // the client is in AVAHI_CLIENT_S_RUNNING
  bool client_failed_ = false;  // the client must be replaced
  bool warned_ = false;         // "unavailable" logged since last running
  bool lonely_ = true;
  std::string name_;  // instance name; changes on collisions

  std::map<RecordKey, Record> records_;
  std::map<AvahiServiceResolver*, std::pair<RecordKey, AvahiProtocol>> resolvers_;
  std::map<std::string, int> address_refs_;  // address -> lookups giving it
  std::set<std::string> noted_;

  mutable std::mutex status_mu_;
  DiscoveryStatus status_;
};

Discovery::Discovery(Options options, Sink& sink)
    : avahi_(std::make_unique<Avahi>(std::move(options), sink)) {}

Discovery::~Discovery() { Stop(); }

void Discovery::Start() { avahi_->Start(); }
void Discovery::Stop() { avahi_->Stop(); }
void Discovery::SetLonely(bool lonely) { avahi_->SetLonely(lonely); }
DiscoveryStatus Discovery::Status() const { return avahi_->Status(); }

}  // namespace domian::discovery
