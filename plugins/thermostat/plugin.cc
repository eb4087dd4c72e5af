// The thermostat plugin's entry point: ThermostatService described to the host.
#include <domian/plugin.hpp>

#include "plugins/thermostat/thermostat_service.h"

DOMIAN_SDK_PLUGIN(domian::thermostat::ThermostatService,
                  (domian::sdk::PluginInfo{
                      .name = "thermostat",
                      .version = "1.1.0",
                      .description = "DS18B20 sensors (1-Wire) and a heating relay that fails safe",
                      .placement = DOMIAN_PLACEMENT_SINGLETON,
                      .traits = {"w1"},
                      .depends = {},
                      .commands = {
                          {"status", "{}",
                           "each sensor's reading, validity and age; the temperature acted on; "
                           "relay, target, mode, and why the relay last switched"},
                          {"set_target", "{\"target_c\": 21.5}",
                           "the target (with a schedule: until its next entry)"},
                          {"set_mode", "{\"mode\": \"heat\"}", "heat, or off (relay off at once)"},
                          {"set_schedule",
                           "{\"schedule\": [{\"days\": \"weekdays\", \"at\": \"06:30\", "
                           "\"target_c\": 21}]}",
                           "a weekly schedule of targets ([] clears it)"},
                          {"clear_alarm", "{}",
                           "clears the stuck-cold alarm: heating may resume"},
                          {"history", "{\"hours\": 6}",
                           "temperature, target and relay of the last 1 to 24 hours (all when "
                           "left out), a sample every 30 s at most"}}}))
