// Field-by-field copies between protobuf messages and core structs.
#include "core/rpc/convert.h"

namespace domian::rpc {
namespace {

template <typename Message>
void FillMessage(const IdentityListMessage& message, Message& out) {
  *out.mutable_sender() = ToProto(message.sender);
  out.mutable_identity_list()->Reserve(static_cast<int>(message.identity_list.size()));
  for (const IdentityEntry& entry : message.identity_list) {
    *out.add_identity_list() = ToProto(entry);
  }
}

template <typename Message>
IdentityListMessage ReadMessage(const Message& in) {
  IdentityListMessage message;
  message.sender = FromProto(in.sender());
  // A sender row without an identity is malformed; keep it absent so
  // validation says so.
  if (!in.sender().has_identity()) message.sender.identity.reset();
  message.identity_list.reserve(static_cast<size_t>(in.identity_list_size()));
  for (const v1::IdentityEntry& entry : in.identity_list()) {
    message.identity_list.push_back(FromProto(entry));
  }
  return message;
}

}  // namespace

v1::Identity ToProto(const Identity& identity) {
  v1::Identity out;
  out.set_id(identity.id);
  out.set_cluster(identity.cluster);
  out.set_version(identity.version);
  out.set_address(identity.address);
  out.set_protocol(identity.protocol);
  for (const ServiceRecord& service : identity.services) {
    v1::Service* s = out.mutable_service_list()->add_services();
    s->set_name(service.name);
    s->set_state(service.state);
    s->set_endpoint(service.endpoint);
    s->set_epoch(service.epoch);
    s->set_detail(service.detail);
    s->set_hand_over_to(service.hand_over_to);
    s->set_hand_over_epoch(service.hand_over_epoch);
  }
  for (const std::string& name : identity.hostable) out.add_hostable(name);
  for (const std::string& trait : identity.traits) out.add_traits(trait);
  for (const Offer& offer : identity.offers) {
    v1::Offer* o = out.add_offers();
    o->set_service(offer.service);
    o->set_run(offer.run);
    o->set_weight(offer.weight);
    o->set_listed(offer.listed);
    o->set_has_plugin(offer.has_plugin);
    o->set_placement(offer.placement);
    for (const std::string& trait : offer.traits) o->add_traits(trait);
    for (const std::string& depend : offer.depends) o->add_depends(depend);
    o->set_gave_up(offer.gave_up);
    o->set_gave_up_detail(offer.gave_up_detail);
    o->set_config_json(offer.config_json);
  }
  return out;
}

v1::PeerState ToProto(PeerState state) {
  switch (state) {
    case PeerState::kAlive:
      return v1::PEER_STATE_ALIVE;
    case PeerState::kSuspect:
      return v1::PEER_STATE_SUSPECT;
    case PeerState::kDead:
      return v1::PEER_STATE_DEAD;
  }
  return v1::PEER_STATE_UNSPECIFIED;
}

v1::IdentityEntry ToProto(const IdentityEntry& entry) {
  v1::IdentityEntry out;
  out.set_id(entry.id);
  out.set_incarnation(entry.counters.incarnation);
  out.set_heartbeat(entry.counters.heartbeat);
  out.set_revision(entry.revision);
  out.set_leaving(entry.leaving);
  out.set_state(ToProto(entry.state));
  if (entry.identity) *out.mutable_identity() = ToProto(*entry.identity);
  return out;
}

v1::PeerInfo ToProto(const membership::PeerView& peer) {
  v1::PeerInfo out;
  *out.mutable_identity() = ToProto(peer.identity);
  out.set_state(ToProto(peer.state));
  out.set_incarnation(peer.counters.incarnation);
  out.set_heartbeat(peer.counters.heartbeat);
  out.set_left(peer.left);
  out.set_last_heard_seconds_ago(std::chrono::duration<double>(peer.last_heard_ago).count());
  return out;
}

void ToProto(const IdentityListMessage& message, v1::ShareIdentityListRequest& out) {
  FillMessage(message, out);
}

void ToProto(const IdentityListMessage& message, v1::ShareIdentityListResponse& out) {
  FillMessage(message, out);
}

Identity FromProto(const v1::Identity& identity) {
  Identity out;
  out.id = identity.id();
  out.cluster = identity.cluster();
  out.version = identity.version();
  out.address = identity.address();
  out.protocol = identity.protocol();
  for (const v1::Service& service : identity.service_list().services()) {
    out.services.push_back({service.name(), service.state(), service.endpoint(), service.epoch(),
                            service.detail(), service.hand_over_to(), service.hand_over_epoch()});
  }
  out.hostable.assign(identity.hostable().begin(), identity.hostable().end());
  out.traits.assign(identity.traits().begin(), identity.traits().end());
  for (const v1::Offer& offer : identity.offers()) {
    out.offers.push_back({.service = offer.service(),
                          .run = offer.run(),
                          .weight = offer.weight(),
                          .listed = offer.listed(),
                          .has_plugin = offer.has_plugin(),
                          .placement = offer.placement(),
                          .traits = {offer.traits().begin(), offer.traits().end()},
                          .depends = {offer.depends().begin(), offer.depends().end()},
                          .gave_up = offer.gave_up(),
                          .gave_up_detail = offer.gave_up_detail(),
                          .config_json = offer.config_json()});
  }
  return out;
}

std::optional<PeerState> FromProto(v1::PeerState state) {
  switch (state) {
    case v1::PEER_STATE_ALIVE:
      return PeerState::kAlive;
    case v1::PEER_STATE_SUSPECT:
      return PeerState::kSuspect;
    case v1::PEER_STATE_DEAD:
      return PeerState::kDead;
    default:
      return std::nullopt;
  }
}

IdentityEntry FromProto(const v1::IdentityEntry& entry) {
  IdentityEntry out;
  out.id = entry.id();
  out.counters = {entry.incarnation(), entry.heartbeat()};
  out.revision = entry.revision();
  out.leaving = entry.leaving();
  // An unknown judgement (a newer peer's, or garbage) is treated as the
  // weakest claim: it refreshes nothing and accuses nobody.
  out.state = FromProto(entry.state()).value_or(PeerState::kSuspect);
  if (entry.has_identity()) out.identity = FromProto(entry.identity());
  return out;
}

IdentityListMessage FromProto(const v1::ShareIdentityListRequest& request) {
  return ReadMessage(request);
}

IdentityListMessage FromProto(const v1::ShareIdentityListResponse& response) {
  return ReadMessage(response);
}

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return {static_cast<grpc::StatusCode>(status.code()), std::string(status.message())};
}

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return {static_cast<absl::StatusCode>(status.error_code()), status.error_message()};
}

std::string CallerHost(const std::string& peer) {
  std::string_view rest = peer;
  for (const std::string_view scheme : {"ipv4:", "ipv6:"}) {
    if (rest.starts_with(scheme)) rest.remove_prefix(scheme.size());
  }
  if (rest.starts_with('[')) {
    const size_t close = rest.find(']');
    return std::string(rest.substr(1, close == std::string_view::npos ? rest.npos : close - 1));
  }
  const size_t colon = rest.rfind(':');
  return std::string(colon == std::string_view::npos ? rest : rest.substr(0, colon));
}

}  // namespace domian::rpc
