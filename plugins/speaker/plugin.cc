// The speaker plugin's entry point: SpeakerService described to the host.
#include <domian/plugin.hpp>

#include "plugins/speaker/speaker_service.h"

DOMIAN_SDK_PLUGIN(domian::speaker::SpeakerService,
                  (domian::sdk::PluginInfo{
                      .name = "speaker",
                      .version = "0.1.0",
                      .description = "sound on this node's ALSA device",
                      .placement = DOMIAN_PLACEMENT_PER_NODE,
                      .traits = {"speaker"},
                      .depends = {},
                      .commands = {
                          {"tone", "{\"frequency_hz\": 440, \"duration_ms\": 1000, \"level\": 0.5}",
                           "queue a sine tone"},
                          {"play", "{\"file\": \"/path/to/sound.wav\"}",
                           "queue a sound file (WAV, FLAC, Ogg)"},
                          {"say", "{\"text\": \"the front door is open\", \"voice\": \"en\"}",
                           "queue text spoken by espeak-ng"},
                          {"stop", "{}", "end what plays and empty the queue"},
                          {"volume", "{\"percent\": 40, \"muted\": false}",
                           "read or set the mixer element's volume (both keys optional)"},
                          {"status", "{}",
                           "device, what plays, the queue, underruns recovered, negotiated format"}}}))
