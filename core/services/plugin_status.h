// Where a plugin's answer becomes the core's status. A plugin reports a
// domian_status (plugin_api/domian/plugin.h) and a message; the core
// speaks absl::Status, whose codes are gRPC's, so the status reaches the
// wire and domianctl unchanged. The mapping is here and nowhere else.
#pragma once

#include <domian/plugin.h>

#include <string_view>

#include "core/common/status.h"

namespace domian::services {

// `status` and the plugin's `message` as a Status:
//
//   DOMIAN_OK                    OK (the message is dropped)
//   DOMIAN_ERR_INVALID_ARGUMENT  INVALID_ARGUMENT
//   DOMIAN_ERR_UNKNOWN_COMMAND   UNIMPLEMENTED
//   DOMIAN_ERR_NOT_SUPPORTED     UNIMPLEMENTED
//   DOMIAN_ERR_UNAVAILABLE       FAILED_PRECONDITION
//   DOMIAN_ERR_FAILED            ABORTED
//   DOMIAN_ERR_INTERNAL, other   INTERNAL
//
// A service's failure never becomes UNAVAILABLE or DEADLINE_EXCEEDED:
// clients read those as "the node itself could not be reached". Nor
// NOT_FOUND, which ServiceHost::Invoke keeps for "not running here".
//
// The plugin's own status travels along as a payload (PluginStatusOf):
// the plugin host process hands it to domiand as it is.
absl::Status StatusFromPlugin(domian_status status, std::string_view message);

// The plugin's status a StatusFromPlugin result carries: DOMIAN_OK for OK,
// DOMIAN_ERR_INTERNAL for a failure that did not come from there.
domian_status PluginStatusOf(const absl::Status& status);

// "invalid argument", "unknown command", ... for messages.
std::string_view StatusName(domian_status status);

}  // namespace domian::services
