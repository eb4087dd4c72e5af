// Conversion between the wire (protobuf) and the core's types for the
// service RPCs: GetServices, ListPlugins, Explain, Invoke and HandOver.
// Identity lists are converted in convert.h.
#pragma once

#include "core/placement/placement.h"
#include "core/routing/service_router.h"
#include "core/services/plugin_catalog.h"
#include "domian/v1/domian.pb.h"

namespace domian::rpc {

void ToProto(const routing::ServiceLocation& location, v1::ServiceLocation& out);
void ToProto(const placement::Unrun& unrun, v1::ServiceLocation& out);
void ToProto(const placement::Explanation& explanation, v1::ExplainResponse& out);
// Plugin text (names, descriptions, file names) is made valid UTF-8: a
// reply that is not would not even parse in domianctl.
void ToProto(const services::CatalogEntry& entry, v1::PluginEntry& out);

routing::ServiceCall FromProto(const v1::InvokeRequest& request);
placement::HandOverRequest FromProto(const v1::HandOverRequest& request);

}  // namespace domian::rpc
