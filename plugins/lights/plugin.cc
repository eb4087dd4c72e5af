// The lights plugin's entry point: LightsService described to the host.
#include <domian/plugin.hpp>

#include "plugins/lights/lights_service.h"

DOMIAN_SDK_PLUGIN(domian::lights::LightsService,
                  (domian::sdk::PluginInfo{
                      .name = "lights",
                      .version = "1.0.0",
                      .description = "Philips Hue lights through a Hue bridge (API v1)",
                      .placement = DOMIAN_PLACEMENT_SINGLETON,
                      .traits = {},
                      .depends = {},
                      .commands = {
                          {"status", "{}",
                           "the bridge (id, API version, reachable), pairing, queued commands"},
                          {"pair", "{\"timeout_s\": 30}",
                           "pair with the bridge: press its link button within the time given"},
                          {"lights", "{}", "every light with its current state"},
                          {"groups", "{}", "every group (0 is all lights)"},
                          {"set",
                           "{\"light\": \"id or name\", \"on\": true, \"bri\": 1-254, \"ct\": "
                           "153-500, \"xy\": [x, y], \"hue\": 0-65535, \"sat\": 0-254, "
                           "\"transition_ms\": 400, \"wait\": true}",
                           "change a light; wait:false queues it and returns at once"},
                          {"group_set", "{\"group\": \"id or name\", ...as set}",
                           "change a group of lights (group 0 is all lights)"},
                          {"scene", "{\"scene\": \"id or name\", \"group\": \"id or name\"}",
                           "recall a scene (in its own group unless one is given)"},
                          {"ha_set",
                           "{\"light\" or \"group\": \"id\", \"ha\": {\"state\": \"ON\", "
                           "\"brightness\": 1-254, \"color\": {\"x\", \"y\"} or {\"h\", \"s\"}, "
                           "\"color_temp\": mirek, \"transition\": s}}",
                           "Home Assistant's JSON light command, as set (every field sets)"}}}))
