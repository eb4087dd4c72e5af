// Avahi glue. Everything below the public methods runs on Avahi's thread
// (callbacks, timers and the wake-up watch) or after that thread has
// stopped. Other threads touch only `lonely_` (an atomic, followed by a
// write to an eventfd that wakes Avahi's thread) and the status (under its
// own mutex): Avahi's calls are synchronous D-Bus round trips, and the
// core's threads must never wait for them.
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
#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <tuple>
#include <vector>

#include "core/discovery/peer_address.h"

namespace domian::discovery {
namespace {

using Millis = std::chrono::milliseconds;

// Pause before trying again when D-Bus is missing, or the client, the
// browser or the advertisement failed; doubled after each failure up to
// the maximum, so a lasting problem (publishing forbidden by the admin,
// say) costs a few D-Bus calls a minute, not a stream. While D-Bus is up
// but avahi-daemon is not, Avahi itself watches for the daemon
// (AVAHI_CLIENT_NO_FAIL) and this timer is idle.
constexpr Millis kFirstRetry{2000};
constexpr Millis kMaxRetry{30000};
// Pause before resolving again a record that resolved to no address at
// all (a lost packet, a host in power saving); doubled up to the maximum
// for as long as the record exists.
constexpr Millis kFirstResolveRetry{5000};
constexpr Millis kMaxResolveRetry{300000};
// Records of this cluster followed at once. A household has a handful; a
// device flooding the network with records must not grow memory without
// bound. Records that turn out not to be ours are not kept.
constexpr size_t kMaxRecords = 256;
// Things already mentioned in the log (malformed records, other
// clusters, repeated errors): one line each, not one per announcement.
constexpr size_t kMaxNoted = 256;
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

std::string Printable(const std::string& text) {
  std::string out;
  for (const char c : text.substr(0, kMaxInstanceNameBytes)) {
    out += (c >= 0x20 && c <= 0x7e) ? c : '?';
  }
  return out;
}

timeval After(Millis delay) {
  timeval when;
  avahi_elapse_time(&when, static_cast<unsigned>(delay.count()), 0);
  return when;
}

}  // namespace

class Discovery::Avahi {
 public:
  Avahi(Options options, Sink& sink)
      : options_(std::move(options)),
        sink_(sink),
        name_(InstanceName(options_.self.id)),
        wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

  ~Avahi() {
    Stop();
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  void Start() {
    if (wake_fd_ < 0) return Fail("cannot create an eventfd");
    poll_ = avahi_threaded_poll_new();
    if (poll_ == nullptr) return Fail("cannot create Avahi's event loop");
    const AvahiPoll* api = avahi_threaded_poll_get(poll_);
    retry_ = api->timeout_new(api, nullptr, &Avahi::OnRetry, this);
    wake_ = api->watch_new(api, wake_fd_, AVAHI_WATCH_IN, &Avahi::OnWake, this);
    Connect();
    if (avahi_threaded_poll_start(poll_) < 0) {
      FreeAll();
      Fail("cannot start Avahi's thread");
    }
  }

  void Stop() {
    if (poll_ == nullptr) return;
    avahi_threaded_poll_stop(poll_);
    FreeAll();
    SetState("off");
  }

  // No lock, no D-Bus: Avahi's thread acts on it when the eventfd wakes it.
  void SetLonely(bool lonely) {
    lonely_.store(lonely);
    if (wake_fd_ < 0) return;
    const uint64_t one = 1;
    // Cannot fail short of overflowing the counter; a wake-up that is
    // already pending does the same job.
    [[maybe_unused]] const ssize_t written = ::write(wake_fd_, &one, sizeof one);
  }

  DiscoveryStatus Status() const {
    absl::MutexLock lock(&status_mu_);
    return status_;
  }

 private:
  // One DNS-SD record as the browser reports it.
  using RecordKey = std::tuple<AvahiIfIndex, AvahiProtocol, std::string, std::string>;
  // One address family's resolver of a record, and what it last found.
  struct Lookup {
    AvahiServiceResolver* resolver = nullptr;
    std::string address;  // empty until resolved to a domain of our cluster
    std::string id;       // as the record claims it
  };
  struct Record {
    RecordKey key;
    std::string type;
    Lookup v4;
    Lookup v6;
    AvahiTimeout* retry = nullptr;  // re-resolve while no address was found
    Millis retry_delay = kFirstResolveRetry;
    Avahi* owner = nullptr;
    bool HasAddress() const { return !v4.address.empty() || !v6.address.empty(); }
  };

  void Fail(const char* why) {
    spdlog::error("mDNS discovery off: {}", why);
    SetState("failed");
  }

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
        retry_delay_ = kFirstRetry;
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

  // Logs a failure once per distinct message until discovery runs again.
  void WarnOnce(const std::string& message) {
    if (Note("error " + message)) spdlog::warn("{}", message);
  }

  void ScheduleRetry() {
    const timeval when = After(retry_delay_);
    avahi_threaded_poll_get(poll_)->timeout_update(retry_, &when);
    retry_delay_ = std::min(retry_delay_ * 2, kMaxRetry);
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

  static void OnWake(AvahiWatch* /*watch*/, int fd, AvahiWatchEvent /*event*/, void* self) {
    uint64_t count = 0;
    [[maybe_unused]] const ssize_t read = ::read(fd, &count, sizeof count);
    auto* avahi = static_cast<Avahi*>(self);
    if (avahi->running_) avahi->UpdateAdvertisement();
  }

  // --- advertising ---

  bool WantAdvertisement() const {
    return options_.advertise == config::AdvertiseMode::kAlways || lonely_.load();
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
        WarnOnce(std::string("cannot advertise over mDNS: ") +
                 avahi_strerror(avahi_client_errno(client_)));
        ScheduleRetry();
        return;
      }
    }
    if (!avahi_entry_group_is_empty(group_)) return;  // already registered or registering
    Register();
  }

  void Register() {
    AvahiStringList* txt = nullptr;
    // avahi_string_list_add prepends, and the list goes on the wire from
    // its tail: adding in order puts txtvers first on the wire, as RFC
    // 6763 6.7 asks.
    for (const std::string& text : EncodeTxt(options_.self)) {
      txt = avahi_string_list_add(txt, text.c_str());
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
      WarnOnce("cannot advertise '" + name_ + "' over mDNS: " + avahi_strerror(result));
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
        retry_delay_ = kFirstRetry;
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
        WarnOnce(std::string("mDNS advertisement failed: ") +
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
      WarnOnce(std::string("cannot browse mDNS for ") + kServiceType + ": " +
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
        record.key = key;
        record.type = type;
        record.owner = this;
        ResolveMissing(record);
        break;
      }
      case AVAHI_BROWSER_REMOVE: {
        // Not a death notice (membership decides that): only an address
        // no longer worth trying.
        const auto it = records_.find(RecordKey{interface, protocol, name, domain});
        if (it != records_.end()) Erase(it);
        break;
      }
      case AVAHI_BROWSER_FAILURE:
        WarnOnce(std::string("mDNS browsing failed: ") +
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

  // Starts a resolver for each family that has none; tries again later
  // if none could be started.
  void ResolveMissing(Record& record) {
    // Both families: whichever this node can reach will answer, and an
    // IPv6-only (or IPv4-only) peer is found either way.
    if (record.v4.resolver == nullptr) record.v4.resolver = Resolve(record, AVAHI_PROTO_INET);
    if (record.v6.resolver == nullptr) record.v6.resolver = Resolve(record, AVAHI_PROTO_INET6);
    if (record.v4.resolver == nullptr && record.v6.resolver == nullptr) {
      ScheduleResolveRetry(record);
    }
  }

  AvahiServiceResolver* Resolve(const Record& record, AvahiProtocol family) {
    const auto& [interface, protocol, name, domain] = record.key;
    // Kept open: Avahi reports again when the record's address or TXT
    // changes, until it is freed with the record.
    AvahiServiceResolver* resolver = avahi_service_resolver_new(
        client_, interface, protocol, name.c_str(), record.type.c_str(), domain.c_str(), family,
        static_cast<AvahiLookupFlags>(0), &Avahi::OnResolve, this);
    if (resolver == nullptr) {
      spdlog::debug("mDNS: cannot resolve '{}': {}", Printable(name),
                    avahi_strerror(avahi_client_errno(client_)));
      return nullptr;
    }
    resolvers_[resolver] = {record.key, family};
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
    const auto record_it = records_.find(key);
    Record& record = record_it->second;
    Lookup& lookup = family == AVAHI_PROTO_INET ? record.v4 : record.v6;
    if (event != AVAHI_RESOLVER_FOUND || address == nullptr) {
      // Typically a host without an address of this family; or a lost
      // packet, in which case the record would otherwise stay unknown
      // (the browser reports it only once).
      spdlog::debug("mDNS: '{}' has no {} address: {}", Printable(name),
                    family == AVAHI_PROTO_INET ? "IPv4" : "IPv6",
                    avahi_strerror(avahi_client_errno(client_)));
      DropLookup(lookup);
      if (!record.HasAddress() && record.v4.resolver == nullptr &&
          record.v6.resolver == nullptr) {
        ScheduleResolveRetry(record);
      }
      return;
    }
    const absl::StatusOr<Advertisement> parsed = ParseTxt(TxtStrings(txt));
    if (!parsed.ok()) {
      if (Note("bad " + std::get<2>(key))) {
        spdlog::warn("ignoring mDNS record '{}': {}", Printable(name),
                     StatusMessage(parsed.status()));
      }
      Erase(record_it);  // not ours to follow; frees this resolver too
      return;
    }
    const Advertisement& ad = *parsed;
    if (ad.id == options_.self.id) {  // ourselves, on some interface
      Erase(record_it);
      return;
    }
    if (ad.cluster != options_.self.cluster) {
      if (Note("cluster " + std::get<2>(key))) {
        spdlog::info("ignoring domain {} of cluster '{}' seen over mDNS", ad.id, ad.cluster);
      }
      Erase(record_it);
      return;
    }
    const std::string peer = PeerAddress(*address, interface, port);
    if (peer != lookup.address) {
      Forget(lookup);
      lookup.address = peer;
      ++address_refs_[peer];
      spdlog::debug("mDNS: domain {} at {}", ad.id, peer);
    }
    lookup.id = ad.id;
    record.retry_delay = kFirstResolveRetry;
    // Every report, not only new addresses: a record announced again
    // often means the domain restarted, and is worth a call now.
    sink_.Discovered(ad.id, peer);
    UpdateSeen();
  }

  void ScheduleResolveRetry(Record& record) {
    const AvahiPoll* api = avahi_threaded_poll_get(poll_);
    const timeval when = After(record.retry_delay);
    if (record.retry == nullptr) {
      record.retry = api->timeout_new(api, &when, &Avahi::OnResolveRetry, &record);
    } else {
      api->timeout_update(record.retry, &when);
    }
    record.retry_delay = std::min(record.retry_delay * 2, kMaxResolveRetry);
  }

  static void OnResolveRetry(AvahiTimeout* /*timeout*/, void* data) {
    // std::map nodes never move, so the record's address is stable until
    // it is erased, which frees this timer first.
    auto* record = static_cast<Record*>(data);
    record->owner->ResolveMissing(*record);
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
    lookup.id.clear();
  }

  void DropLookup(Lookup& lookup) {
    Forget(lookup);
    if (lookup.resolver != nullptr) {
      resolvers_.erase(lookup.resolver);
      avahi_service_resolver_free(lookup.resolver);
      lookup.resolver = nullptr;
    }
  }

  void Erase(std::map<RecordKey, Record>::iterator it) {
    Record& record = it->second;
    DropLookup(record.v4);
    DropLookup(record.v6);
    if (record.retry != nullptr) avahi_threaded_poll_get(poll_)->timeout_free(record.retry);
    records_.erase(it);
    UpdateSeen();
  }

  void DropLookups() {
    while (!records_.empty()) Erase(records_.begin());
  }

  void DropLookupsAndAdvertisement() {
    DropLookups();
    if (browser_ != nullptr) avahi_service_browser_free(browser_);
    browser_ = nullptr;
    if (group_ != nullptr) avahi_entry_group_free(group_);
    group_ = nullptr;
    SetAdvertising(false);
  }

  // After the poll stopped (or never started): frees everything.
  void FreeAll() {
    if (client_ != nullptr) {
      DropLookupsAndAdvertisement();
      avahi_client_free(client_);
      client_ = nullptr;
    }
    const AvahiPoll* api = avahi_threaded_poll_get(poll_);
    if (retry_ != nullptr) api->timeout_free(retry_);
    retry_ = nullptr;
    if (wake_ != nullptr) api->watch_free(wake_);
    wake_ = nullptr;
    avahi_threaded_poll_free(poll_);
    poll_ = nullptr;
    running_ = false;
  }

  // True the first time `key` is noted (bounded memory).
  bool Note(const std::string& key) {
    if (noted_.size() >= kMaxNoted) noted_.clear();
    return noted_.insert(key).second;
  }

  // --- status ---

  void SetState(const char* state) {
    absl::MutexLock lock(&status_mu_);
    status_.state = state;
  }
  void SetAdvertising(bool advertising) {
    absl::MutexLock lock(&status_mu_);
    status_.advertising = advertising;
    status_.instance_name = advertising ? name_ : std::string();
  }
  void UpdateSeen() {
    std::set<std::string> ids;
    for (const auto& [key, record] : records_) {
      for (const Lookup* lookup : {&record.v4, &record.v6}) {
        if (!lookup->address.empty()) ids.insert(lookup->id);
      }
    }
    absl::MutexLock lock(&status_mu_);
    status_.domains_seen = ids.size();
  }

  const Options options_;
  Sink& sink_;

  AvahiThreadedPoll* poll_ = nullptr;
  AvahiClient* client_ = nullptr;
  AvahiEntryGroup* group_ = nullptr;
  AvahiServiceBrowser* browser_ = nullptr;
  AvahiTimeout* retry_ = nullptr;
  Millis retry_delay_ = kFirstRetry;
  AvahiWatch* wake_ = nullptr;
  bool running_ = false;        // the client is in AVAHI_CLIENT_S_RUNNING
  bool client_failed_ = false;  // the client must be replaced
  bool warned_ = false;         // "unavailable" logged since last running
  std::string name_;            // instance name; changes on collisions

  std::map<RecordKey, Record> records_;
  std::map<AvahiServiceResolver*, std::pair<RecordKey, AvahiProtocol>> resolvers_;
  std::map<std::string, int> address_refs_;  // address -> lookups giving it
  std::set<std::string> noted_;

  // Shared with other threads.
  const int wake_fd_;                  // SetLonely() -> Avahi's thread
  std::atomic<bool> lonely_{true};     // a domain starts lonely
  mutable absl::Mutex status_mu_;
  DiscoveryStatus status_ ABSL_GUARDED_BY(status_mu_);
};

Discovery::Discovery(Options options, Sink& sink)
    : avahi_(std::make_unique<Avahi>(std::move(options), sink)) {}

Discovery::~Discovery() { Stop(); }

void Discovery::Start() { avahi_->Start(); }
void Discovery::Stop() { avahi_->Stop(); }
void Discovery::SetLonely(bool lonely) { avahi_->SetLonely(lonely); }
DiscoveryStatus Discovery::Status() const { return avahi_->Status(); }

}  // namespace domian::discovery
