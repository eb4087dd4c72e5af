/*
 * domian plugin ABI, version 1.1 (1.0 plus the plugin extensions found
 * through the descriptor's get_plugin_extension, and the host extensions
 * for liveness, state and entities; see "ABI 1.1" in
 * plugin_api/README.md).
 *
 * A service plugin is a shared object (<service>.so) that exports exactly
 * one symbol, the function domian_plugin_entry. The core calls it with the
 * ABI version it speaks and gets back a description of the plugin: its
 * name, version, placement, the traits and services it needs, its
 * commands, and the functions that create and drive instances.
 *
 * Compatibility rules (the same for plugins and cores):
 *  - The major version must match; the core refuses any other, naming both.
 *  - A core of minor N loads every plugin of minor <= N, and a plugin of a
 *    newer minor as long as it does not need what the core lacks: new
 *    functions are only ever added as extensions found by string id
 *    (get_extension), which an older side answers with NULL.
 *  - Every struct begins with its size (struct_size, in bytes, set by
 *    whoever fills it in) and ends with reserved room. A reader uses only
 *    the fields that fit in min(struct_size, sizeof(the struct it knows)).
 *    Reserved fields are zero / NULL.
 *  - Nothing is freed across the boundary: each side frees what it
 *    allocated. Output (replies, error messages, saved state) goes into
 *    host-owned streams (domian_out).
 *  - No C++ exception, and no C++ type, ever crosses the boundary.
 *
 * Thread rules are written on every function:
 *  [host-serial]  the host calls it from one thread at a time for a given
 *                 instance (never two of these concurrently for the same
 *                 instance), so the plugin needs no locks for host calls.
 *  [any-thread]   may be called from any thread, concurrently.
 *
 * Instance states follow the thread rule on every instance function, as
 * in [host-serial; started]; the host calls a function only in the
 * states written on it:
 *  created  create returned DOMIAN_OK; not started yet, or start failed
 *  started  start returned DOMIAN_OK; stop not called yet
 *  stopped  stop returned
 * An instance is started at most once, so its life is one of
 *   create, [load], start, (invoke | check | save)..., stop, [save], destroy
 *   create, [load], start that fails, destroy
 *   create, destroy
 * A host that wants the service again creates a new instance.
 *
 * Libraries are never unloaded. The host never calls dlclose on a plugin:
 * its code and static data stay mapped until the process exits, after
 * the last destroy too, so a thread or callback that outlives its
 * instance by mistake does not run unmapped code. For the same reason a
 * plugin must not count on its library destructors (C++ static
 * destructors, __attribute__((destructor))) running at a given time: at
 * process exit at the earliest, and not at all when the process is
 * killed. Release everything in stop and destroy. A plugin is replaced
 * by installing a new file, which a new plugin host process loads.
 *
 * Every string that crosses the ABI, in either direction, is UTF-8 (and
 * NUL-terminated where a function takes a const char *):
 *  - what the host passes (service_name, state_dir, config_json, command,
 *    args_json) is valid UTF-8;
 *  - what a plugin passes or writes (descriptor strings, log messages,
 *    endpoint names and values, event names and JSON, replies, error
 *    messages, health details) must be UTF-8. domiand replaces each byte
 *    that does not begin a well-formed character with U+FFFD before the
 *    text goes into a message to another process or node (the protocol's
 *    messages must be UTF-8), so a bad byte shows as a replacement
 *    character instead of costing the whole message; emit_event refuses
 *    JSON that is not UTF-8.
 * Saved state (domian_state_ext) is bytes, not text: any values.
 *
 * This header compiles as C99 and as C++ (checked with -Wall -Wextra
 * -pedantic -Werror), and its layout is pinned by static assertions and an
 * abidiff baseline (plugin_api/abi/).
 */
#ifndef DOMIAN_PLUGIN_H
#define DOMIAN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DOMIAN_PLUGIN_ABI_MAJOR 1
#define DOMIAN_PLUGIN_ABI_MINOR 1

/* The name of the one symbol a plugin exports. */
#define DOMIAN_PLUGIN_ENTRY_NAME "domian_plugin_entry"

#if defined(__GNUC__) || defined(__clang__)
#define DOMIAN_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define DOMIAN_PLUGIN_EXPORT
#endif

/* ------------------------------------------------------------------ */
/* Basic types                                                          */

typedef struct domian_abi_version {
  uint16_t major;
  uint16_t minor;
} domian_abi_version;

/* Results of plugin functions. Fixed-width, not an enum, so that its size
 * never depends on the compiler. */
typedef int32_t domian_status;
#define DOMIAN_OK 0
#define DOMIAN_ERR_INVALID_ARGUMENT 1 /* bad arguments or configuration */
#define DOMIAN_ERR_UNKNOWN_COMMAND 2  /* invoke: no such command */
#define DOMIAN_ERR_UNAVAILABLE 3      /* the device or remote is not reachable now */
#define DOMIAN_ERR_FAILED 4           /* the operation was tried and failed */
#define DOMIAN_ERR_INTERNAL 5         /* a bug in the plugin */
#define DOMIAN_ERR_NOT_SUPPORTED 6    /* e.g. state of a newer, unknown layout */

/* Log levels for domian_host.log. */
typedef int32_t domian_log_level;
#define DOMIAN_LOG_TRACE 0
#define DOMIAN_LOG_DEBUG 1
#define DOMIAN_LOG_INFO 2
#define DOMIAN_LOG_WARN 3
#define DOMIAN_LOG_ERROR 4

/* Placement: where the cluster runs the service. */
typedef int32_t domian_placement;
#define DOMIAN_PLACEMENT_SINGLETON 0 /* exactly once in the cluster, on the best node */
#define DOMIAN_PLACEMENT_PER_NODE 1  /* on every node that can and wants to */

/* A byte stream owned by the host, handed to a plugin function for its
 * output (a JSON reply, an error message, saved state). Valid only during
 * the call it was passed to; the plugin must not keep it. */
typedef struct domian_out {
  uint32_t struct_size;
  uint32_t reserved0;
  void *host_data; /* the host's; the plugin does not touch it */
  /* [the thread of the call it was passed to] Appends `size` bytes of
   * `data` (not NUL-terminated). Returns DOMIAN_OK, or
   * DOMIAN_ERR_INVALID_ARGUMENT when the host's limit for this output is
   * exceeded (the output is then truncated and the plugin should stop
   * writing). */
  domian_status (*write)(struct domian_out *out, const char *data, size_t size);
  void *reserved[4];
} domian_out;

/* ------------------------------------------------------------------ */
/* What the host offers a plugin instance                               */

typedef struct domian_host {
  uint32_t struct_size;
  domian_abi_version abi; /* the version the host speaks */
  uint16_t reserved0;
  uint16_t reserved1;
  uint32_t reserved2;
  void *host_data; /* the host's; the plugin does not touch it */
  /* NUL-terminated, owned by the host, valid until the instance is
   * destroyed. [a-z0-9_-], the plugin's name. */
  const char *service_name;
  /* A folder for this service's files on this node; it exists and is
   * writable. UTF-8, owned by the host, valid until destroy. */
  const char *state_dir;

  /* The functions below may be called from create until destroy returns,
   * in every state. */

  /* [any-thread] Writes `message` (NUL-terminated, copied) to the
   * daemon's log, tagged with the service name. */
  void (*log)(const struct domian_host *host, domian_log_level level, const char *message);

  /* [any-thread] Publishes (or, with endpoint NULL, withdraws) an endpoint
   * of this service, e.g. name "http", endpoint "192.168.1.20:8080". It
   * appears in the node's ServiceList and in GetServices. Strings are
   * copied. Returns DOMIAN_OK or DOMIAN_ERR_INVALID_ARGUMENT. */
  domian_status (*publish_endpoint)(const struct domian_host *host, const char *name,
                                    const char *endpoint);

  /* [any-thread] Emits an event: `name` (NUL-terminated) and a JSON
   * document (NUL-terminated); both copied. Returns DOMIAN_OK or
   * DOMIAN_ERR_INVALID_ARGUMENT (e.g. the JSON does not parse). */
  domian_status (*emit_event)(const struct domian_host *host, const char *name,
                              const char *json);

  /* [any-thread] A host extension by id (e.g. "domian.host.foo/1"), or
   * NULL when this host does not offer it. The result is owned by the host
   * and valid until the instance is destroyed. */
  const void *(*get_extension)(const struct domian_host *host, const char *id);

  void *reserved[8];
} domian_host;

/* ------------------------------------------------------------------ */
/* What a plugin offers                                                 */

/* An opaque plugin-owned object: one running service. */
typedef struct domian_instance domian_instance;

/* One command a service answers through invoke. Strings NUL-terminated,
 * owned by the plugin, valid while the library is loaded. */
typedef struct domian_command_info {
  uint32_t struct_size;
  uint32_t reserved0;
  const char *name;        /* e.g. "set" */
  const char *arguments;   /* short description of the JSON arguments, e.g. "{light, on, bri}" */
  const char *description; /* one line for people */
  void *reserved[2];
} domian_command_info;

/* The functions of an instance. */
typedef struct domian_instance_api {
  uint32_t struct_size;
  uint32_t reserved0;

  /* [host-serial; created] Starts the service (threads, devices,
   * sockets); called once. On failure returns an error code and writes a
   * message to `error`; the instance then stays created, and the next
   * call is destroy. */
  domian_status (*start)(domian_instance *instance, domian_out *error);

  /* [host-serial; started] Stops the service and joins every thread it
   * started; called once. After it returns, no code of the plugin runs
   * for this instance except the calls written for the stopped state
   * (save, destroy). */
  void (*stop)(domian_instance *instance);

  /* [host-serial; created or stopped] Frees the instance; the last call
   * for it. Never called on a started instance: the host stops it first. */
  void (*destroy)(domian_instance *instance);

  /* [host-serial; started] Runs `command` (NUL-terminated) with
   * `args_json` (a NUL-terminated JSON document, "{}" when there are
   * none), writing a JSON reply to `reply`; on failure returns an error
   * code and writes a message to `error`. Both strings are valid during
   * the call only. A call that reaches the host after stop is answered by
   * the host (unavailable) and never reaches the plugin. */
  domian_status (*invoke)(domian_instance *instance, const char *command, const char *args_json,
                          domian_out *reply, domian_out *error);

  /* [host-serial; created, started or stopped] An instance extension by
   * id (see the DOMIAN_EXT_* below), or NULL. domiand asks right after
   * create, once per id. The result is owned by the plugin and valid
   * until destroy. */
  const void *(*get_extension)(domian_instance *instance, const char *id);

  void *reserved[8];
} domian_instance_api;

/* The plugin's description. Everything it points to is owned by the
 * plugin and valid while the library is loaded (static data, typically). */
typedef struct domian_plugin_descriptor {
  uint32_t struct_size;
  domian_abi_version abi; /* the version the plugin was built against */
  uint16_t reserved0;
  uint16_t reserved1;
  uint32_t reserved2;
  const char *name;        /* the service name: [a-z0-9_-], 1-63, the .so's base name */
  const char *version;     /* the plugin's own version, e.g. "1.2.0" */
  const char *description; /* one line for people */
  domian_placement placement;
  uint32_t reserved3;
  const char *const *traits;  /* NULL-terminated list of traits the node needs; may be NULL */
  const char *const *depends; /* NULL-terminated list of services needed first; may be NULL */
  const domian_command_info *commands;
  size_t command_count;

  /* [host-serial] Creates an instance for `host` (which stays valid until
   * destroy) with its configuration `config_json` (a NUL-terminated JSON
   * object, valid during the call). On success stores it in *instance and
   * returns DOMIAN_OK: the instance is created. Otherwise returns an error
   * code and writes a message to `error`, and there is no instance. A
   * library may have more than one instance at a time (a new one may be
   * created before the last one is destroyed), each with its own host:
   * keep what belongs to an instance in it, not in globals. */
  domian_status (*create)(const domian_host *host, const char *config_json,
                          domian_instance **instance, domian_out *error);

  const domian_instance_api *instance_api;

  /* ABI 1.1. [any-thread; no instance] A plugin extension by id (the
   * DOMIAN_PLUGIN_EXT_* below), or NULL for an id it does not offer or
   * know: what the plugin offers without an instance, about its
   * configuration and its hardware. May itself be NULL. The host reads
   * this field only from a plugin whose abi.minor is at least 1 and whose
   * struct_size covers it (in a 1.0 plugin it is reserved room), and uses
   * an extension only when its struct_size covers the function. The
   * result is owned by the plugin and valid while the library is loaded. */
  const void *(*get_plugin_extension)(const char *id);

  void *reserved[7];
} domian_plugin_descriptor;

/* The one exported symbol. The host passes the ABI version it speaks;
 * the plugin returns its descriptor (which names the version it was built
 * against), or NULL when it cannot work with that host. [host-serial; no
 * instance needed] Called when the host loads the library, and may be
 * called again when it looks at the file again: it should only return the
 * descriptor. The result stays valid while the library is loaded, which
 * is until the process exits. */
typedef const domian_plugin_descriptor *(*domian_plugin_entry_fn)(domian_abi_version host_abi);

DOMIAN_PLUGIN_EXPORT const domian_plugin_descriptor *domian_plugin_entry(
    domian_abi_version host_abi);

/* ------------------------------------------------------------------ */
/* Optional instance extensions                                         */

/* State that travels with a service when it moves to another node (and
 * across restarts). The bytes are the plugin's own; it should version
 * them itself. */
#define DOMIAN_EXT_STATE "domian.state/1"
typedef struct domian_state_ext {
  uint32_t struct_size;
  uint32_t reserved0;
  /* [host-serial; started or stopped] Writes the state to `data`, any
   * bytes. domiand (1.1) saves a started service in both isolation modes:
   * just before stop, and while it runs when the service says its state
   * changed (domian.host.state/1); never before start. (domiand 1.0 saved
   * an inline service just after stop: a plugin must accept both.)
   * domiand takes at most 1 MiB of state (so that any saved state can
   * travel with the service); over that, `data`'s write fails and the
   * state is not saved. */
  domian_status (*save)(domian_instance *instance, domian_out *data, domian_out *error);
  /* [host-serial; created] Restores state saved by this or another
   * version of the plugin, after create and before start, at most once.
   * `data` is valid during the call. Unknown layouts:
   * DOMIAN_ERR_NOT_SUPPORTED with a message; the service then starts
   * without the state. */
  domian_status (*load)(domian_instance *instance, const uint8_t *data, size_t size,
                        domian_out *error);
  void *reserved[4];
} domian_state_ext;

/* A health check the host runs periodically on a started instance. */
#define DOMIAN_EXT_HEALTH "domian.health/1"
typedef struct domian_health_ext {
  uint32_t struct_size;
  uint32_t reserved0;
  /* [host-serial; started] DOMIAN_OK when healthy; otherwise
   * DOMIAN_ERR_UNAVAILABLE or DOMIAN_ERR_FAILED with a reason in `detail`.
   * Must return quickly (well under a second). The host skips a check
   * while another call of the instance runs. */
  domian_status (*check)(domian_instance *instance, domian_out *detail);
  void *reserved[4];
} domian_health_ext;

/* The service's entities, for home automation (Home Assistant over MQTT):
 * what it offers people to see and switch, described in the terms of
 * Home Assistant's MQTT platforms, so that the core stays ignorant of
 * lights and thermostats. The description is JSON (UTF-8, at most
 * DOMIAN_ENTITIES_MAX_DESCRIPTION_BYTES):
 *
 *   {"entities": [{
 *      "id": "kitchen",        // 1-64 of [a-z0-9_], unique in the service
 *                              // and stable: it is part of the entity's
 *                              // unique id, across restarts and nodes
 *      "platform": "light",    // light, climate, sensor, binary_sensor,
 *                              // switch, number, select, text, button,
 *                              // notify, camera
 *      "name": "Kitchen",      // a string, or null for the service's
 *                              // main entity (named after the service)
 *      "config": {...},        // the platform's own keys, passed on as
 *                              // they are ("schema", "modes", templates);
 *                              // no topics, availability, device or ids:
 *                              // domiand adds those
 *      "states": {"state_topic": "state"},
 *                              // each topic key of the platform that
 *                              // carries a state -> the state's name
 *                              // (1-32 of [a-z0-9_], not "set"); several
 *                              // keys may share one state (with templates)
 *      "commands": {"command_topic": {"command": "set", "arg": "value",
 *                   "as": "json", "args": {"light": "kitchen"}}}
 *                              // each command topic key -> the invoke it
 *                              // becomes: `command` with `args` (default
 *                              // {}) plus, when "arg" is given, the
 *                              // message's payload as args[arg]: "as"
 *                              // "text" (the default: a string), "number"
 *                              // (always a JSON double: 50 is 50.0) or
 *                              // "json"; a payload that is not what "as"
 *                              // says is refused and logged; without
 *                              // "arg" the payload is not passed on
 *   }]}
 *
 * Commands may arrive twice (MQTT's QoS 1 delivers at least once): map
 * them to commands that set rather than toggle. Anyone the broker lets
 * publish can send any payload, whatever the config's min, max or
 * options say: a command checks its arguments as for any caller. Empty,
 * retained and oversized (over 4 KiB) command messages are ignored. At
 * most DOMIAN_ENTITIES_MAX entities. domiand refuses a description that
 * breaks a rule above, as a whole, and logs why. */
#define DOMIAN_EXT_ENTITIES "domian.entities/1"
#define DOMIAN_ENTITIES_MAX 64
#define DOMIAN_ENTITIES_MAX_DESCRIPTION_BYTES 65536
typedef struct domian_entities_ext {
  uint32_t struct_size;
  uint32_t reserved0;
  /* [host-serial; started] Writes the description to `out`. domiand asks
   * after start returned, and again after the service says its entities
   * changed (domian.host.entities/1 changed), so a service may describe
   * what it found once running (the bulbs a bridge reported). A service
   * with nothing to offer yet writes {"entities": []}. */
  domian_status (*describe)(domian_instance *instance, domian_out *out, domian_out *error);
  void *reserved[4];
} domian_entities_ext;

/* ------------------------------------------------------------------ */
/* Plugin extensions (ABI 1.1): no instance needed                      */

/* Checks a configuration the way create would, without touching any
 * hardware or starting anything, so that `domiand --check-config` and a
 * configuration change are refused before a service is stopped for it. */
#define DOMIAN_PLUGIN_EXT_CONFIG "domian.config/1"
typedef struct domian_config_ext {
  uint32_t struct_size;
  uint32_t reserved0;
  /* [any-thread; no instance] `config_json` is what create would get (a
   * NUL-terminated JSON object, valid during the call). Returns DOMIAN_OK,
   * or DOMIAN_ERR_INVALID_ARGUMENT and writes to `problems` one line per
   * problem: "<key>: <message>", where <key> is the path of the value
   * inside the configuration ("hysteresis_c", "sensors.0.id"; empty for
   * the whole object), e.g. "hysteresis_c: must be between 0.1 and 5,
   * not -1". domiand prefixes each line with the file, line and
   * services.<name>.config. */
  domian_status (*validate)(const char *config_json, domian_out *problems);
  void *reserved[4];
} domian_config_ext;

/* Puts the hardware a service drives into its safe state when the service
 * is not in control of it. */
#define DOMIAN_PLUGIN_EXT_SAFE_STATE "domian.safe_state/1"
/* How long make_safe may take before domiand kills the process running it
 * (and logs that the hardware may not be safe). */
#define DOMIAN_SAFE_STATE_TIMEOUT_MS 5000
typedef struct domian_safe_state_ext {
  uint32_t struct_size;
  uint32_t reserved0;
  /* [host-serial; no instance] Makes the hardware safe using only
   * `config_json`, the last configuration the service started with (not
   * necessarily one that today's validate accepts: it may be the one
   * before a bad change). The thermostat turns its relay OFF. domiand runs
   * it in a fresh plugin host process, never beside a running instance of
   * the service on this node, when the service is not in control:
   *  - its plugin host crashed, hung, or missed its liveness deadline;
   *  - it was marked failed, or stopped (moved away, removed, shutdown);
   *  - its new configuration is invalid, so it cannot start;
   *  - at start, for every service that ran when domiand last ended
   *    without stopping it (a crash, a kill, a power cut).
   * So it must be idempotent and quick (DOMIAN_SAFE_STATE_TIMEOUT_MS), and
   * leave nothing running when it returns. `host` offers log (and
   * service_name, state_dir); its other functions refuse. Returns
   * DOMIAN_OK when the hardware is safe; otherwise an error code and a
   * message in `error` (domiand logs it as critical). */
  domian_status (*make_safe)(const domian_host *host, const char *config_json,
                             domian_out *error);
  void *reserved[4];
} domian_safe_state_ext;

/* ------------------------------------------------------------------ */
/* Host extensions (ABI 1.1): domian_host.get_extension                 */

/* Liveness: a deadline on the service's own progress, so that a control
 * loop that hangs (while the process, and its health check, still
 * answer) is found and treated as a crash: the plugin host is killed,
 * the safe state runs, the service restarts. */
#define DOMIAN_HOST_EXT_LIVENESS "domian.host.liveness/1"
#define DOMIAN_LIVENESS_MIN_MS 100
#define DOMIAN_LIVENESS_MAX_MS 600000
typedef struct domian_host_liveness_ext {
  uint32_t struct_size;
  uint32_t reserved0;
  /* [any-thread; started] Arms the deadline (deadline_ms within
   * [DOMIAN_LIVENESS_MIN_MS, DOMIAN_LIVENESS_MAX_MS]) or disarms it (0):
   * from now on alive must be called at least every deadline_ms. Arming
   * counts as a first alive. Returns DOMIAN_OK, or
   * DOMIAN_ERR_INVALID_ARGUMENT out of bounds (nothing changes). */
  domian_status (*set_deadline)(const struct domian_host *host, uint32_t deadline_ms);
  /* [any-thread; started] The loop the deadline watches made progress.
   * Cheap: call it every period. */
  void (*alive)(const struct domian_host *host);
  void *reserved[4];
} domian_host_liveness_ext;

/* State that changes while the service runs: saved when it changes, not
 * only when the service stops, so a crash, a kill or a power cut does not
 * take it back. Needs domian.state/1 (the host saves through its save).
 * Without this extension 1.0's rule holds: saved at stop. */
#define DOMIAN_HOST_EXT_STATE "domian.host.state/1"
typedef struct domian_host_state_ext {
  uint32_t struct_size;
  uint32_t reserved0;
  /* [any-thread; started] The state changed. The host calls save soon
   * after, on its own thread (at most about once a second however often
   * this is called: changes in between are saved together). Cheap: an
   * atomic counter. What is lost in a crash is at most the last second's
   * marked changes; use save_now for a change a caller is told about. */
  void (*mark_dirty)(const struct domian_host *host);
  /* [the invoke's own thread, inside invoke; started] The call being
   * answered changed the state, and its caller must not hear of it before
   * it is kept: after invoke returns, the host calls save and stores the
   * state before the reply is sent (a reply the host cannot store becomes
   * an error). Returns DOMIAN_OK; DOMIAN_ERR_INVALID_ARGUMENT outside an
   * invoke of this instance (nothing happens: use mark_dirty there). */
  domian_status (*save_now)(const struct domian_host *host);
  void *reserved[4];
} domian_host_state_ext;

/* The latest value of each entity state a service described
 * (domian.entities/1), pushed as it changes: a wall switch seen by a
 * poll, a temperature read, a command carried out. domiand keeps the
 * latest value of each and publishes it (retained) while the service runs
 * here, and again when Home Assistant or the broker comes back; so a
 * service publishes each of its states once it runs, then only changes.
 * A host that publishes no entities (a node without Home Assistant)
 * answers NULL for this extension and never calls describe: a service
 * then prepares no states (the camera takes no stills). */
#define DOMIAN_HOST_EXT_ENTITIES "domian.host.entities/1"
#define DOMIAN_ENTITY_STATE_MAX_BYTES (512 * 1024)
typedef struct domian_host_entities_ext {
  uint32_t struct_size;
  uint32_t reserved0;
  /* [any-thread; from the call of start until stop is called]
   * `entity` and `state` as in the description (NUL-terminated); `data`
   * (`size` bytes, valid during the call) is published as it is: JSON for
   * a state read through templates, a plain value ("heat", "21.5", "ON"),
   * or an image for a camera. Returns DOMIAN_OK; DOMIAN_ERR_UNAVAILABLE
   * outside those times; DOMIAN_ERR_NOT_SUPPORTED from a plugin without
   * domian.entities/1; DOMIAN_ERR_INVALID_ARGUMENT for a name that cannot
   * be one (see the description's rules), more than
   * DOMIAN_ENTITY_STATE_MAX_BYTES, or more states than the host keeps
   * (DOMIAN_ENTITIES_MAX * 16 pairs of entity and state). Nothing is kept
   * when it refuses. A state of an entity the current description lacks
   * is kept and published once described. */
  domian_status (*publish_state)(const struct domian_host *host, const char *entity,
                                 const char *state, const uint8_t *data, size_t size);
  /* [any-thread; started] The entities changed: domiand calls describe
   * again soon, on its own thread (calls in between are merged). */
  void (*changed)(const struct domian_host *host);
  void *reserved[4];
} domian_host_entities_ext;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DOMIAN_PLUGIN_H */
