#include "core/rpc/convert_services.h"

#include "core/common/utf8.h"

namespace domian::rpc {

void ToProto(const routing::ServiceLocation& location, v1::ServiceLocation& out) {
  out.set_name(location.name);
  out.set_node(location.node);
  out.set_address(location.address);
  out.set_state(location.state);
  out.set_epoch(location.epoch);
  out.set_endpoint(location.endpoint);
  out.set_detail(location.detail);
}

void ToProto(const placement::Unrun& unrun, v1::ServiceLocation& out) {
  out.set_name(unrun.service);
  out.set_node(unrun.node);
  out.set_state(std::string(placement::PlacementStateName(unrun.state)));
  // Why it runs nowhere: a dependency, no candidate, or the plugin's own
  // reason from a node that gave it up (protobuf strings must be UTF-8).
  out.set_detail(ToValidUtf8(unrun.detail));
}

void ToProto(const placement::Explanation& explanation, v1::ExplainResponse& out) {
  out.set_service(explanation.service);
  out.set_placement(explanation.placement);
  out.set_wanted(explanation.wanted);
  out.set_state(std::string(placement::PlacementStateName(explanation.state)));
  out.set_detail(explanation.detail);
  for (const std::string& node : explanation.chosen) out.add_chosen(node);
  for (const placement::Claim& claim : explanation.running) {
    v1::ServiceLocation* location = out.add_running();
    location->set_name(explanation.service);
    location->set_node(claim.node);
    location->set_address(claim.address);
    location->set_state(std::string(ServiceStateName(claim.state)));
    location->set_epoch(claim.epoch);
    location->set_endpoint(claim.endpoint);
  }
  for (const placement::Verdict& verdict : explanation.verdicts) {
    v1::Verdict* verdict_out = out.add_verdicts();
    verdict_out->set_node(verdict.node);
    verdict_out->set_candidate(verdict.candidate);
    verdict_out->set_reason(verdict.reason);
  }
  for (const std::string& depend : explanation.depends) out.add_depends(depend);
}

void ToProto(const services::CatalogEntry& entry, v1::PluginEntry& out) {
  out.set_path(ToValidUtf8(entry.path.string()));
  out.set_refusal(ToValidUtf8(entry.refusal));
  if (!entry.library) return;
  const services::PluginDescription& d = entry.library->description();
  out.set_name(ToValidUtf8(d.name));
  out.set_version(ToValidUtf8(d.version));
  out.set_description(ToValidUtf8(d.description));
  out.set_placement(d.placement == services::Placement::kSingleton ? "singleton" : "per-node");
  for (const std::string& trait : d.traits) out.add_traits(trait);
  for (const std::string& depend : d.depends) out.add_depends(depend);
  for (const services::CommandDescription& command : d.commands) {
    v1::PluginCommand* c = out.add_commands();
    c->set_name(ToValidUtf8(command.name));
    c->set_arguments(ToValidUtf8(command.arguments));
    c->set_description(ToValidUtf8(command.description));
  }
  out.set_abi(std::to_string(d.abi.major) + "." + std::to_string(d.abi.minor));
}

routing::ServiceCall FromProto(const v1::InvokeRequest& request) {
  return {request.service(), request.command(), request.args_json(), request.hops()};
}

placement::HandOverRequest FromProto(const v1::HandOverRequest& request) {
  placement::HandOverRequest out;
  out.service = request.service();
  out.epoch = request.epoch();
  out.from = request.from();
  out.cluster = request.cluster();
  if (request.has_state()) out.state = request.state();
  out.config_json = request.config_json();
  return out;
}

}  // namespace domian::rpc
