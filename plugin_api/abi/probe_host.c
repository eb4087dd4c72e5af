/*
 * A minimal host, built against the current <domian/plugin.h>, that loads
 * one probe plugin and drives it through the whole ABI the way a core
 * does: dlopen, the entry symbol, the version and size checks
 * (min(struct_size, sizeof)), create, start, invoke, the extensions, stop
 * and destroy; for a plugin of minor 1 or later, the plugin extensions
 * (get_plugin_extension: NULL for an unknown id; domian.config/1's
 * validate on "{}"; domian.safe_state/1's make_safe), and it offers the
 * liveness host extension. Run by ctest on every probe, the one built
 * against the frozen 1.0 header included: a 1.0 plugin must keep loading,
 * and its descriptor's reserved room is never read as a function.
 *
 *   abi_probe_host <plugin.so> <expected name> [<expected ABI minor>]
 *
 * Without the minor, the plugin must have been built against this header.
 * Exits 0 when everything holds, 1 with a message naming what did not.
 */
#include <domian/plugin.h>

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *plugin_path = "";

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2), noreturn))
#endif
static void fail(const char *format, ...);
static void fail(const char *format, ...) {
  va_list args;
  fprintf(stderr, "abi_probe_host: %s: ", plugin_path);
  va_start(args, format);
  vfprintf(stderr, format, args);
  va_end(args);
  fputc('\n', stderr);
  exit(1);
}

/* Whether a struct filled in by the plugin is big enough to hold `field`,
 * by its struct_size: the host reads only what fits. */
#define HAS_FIELD(pointer, type, field) \
  ((pointer)->struct_size >= offsetof(type, field) + sizeof((pointer)->field))

/* ---- host-owned output streams ---- */

typedef struct buffer {
  char data[4096];
  size_t size;
} buffer;

static domian_status buffer_write(domian_out *out, const char *data, size_t size) {
  buffer *b = (buffer *)out->host_data;
  const size_t room = sizeof b->data - 1 - b->size;
  domian_status status = DOMIAN_OK;
  if (data == NULL && size != 0) return DOMIAN_ERR_INVALID_ARGUMENT;
  if (size > room) {
    size = room;
    status = DOMIAN_ERR_INVALID_ARGUMENT;
  }
  if (size != 0) memcpy(b->data + b->size, data, size);
  b->size += size;
  b->data[b->size] = '\0';
  return status;
}

static domian_out *out_init(domian_out *out, buffer *b) {
  memset(out, 0, sizeof *out);
  out->struct_size = (uint32_t)sizeof *out;
  out->host_data = b;
  out->write = buffer_write;
  b->size = 0;
  b->data[0] = '\0';
  return out;
}

/* ---- the host table ---- */

static void host_log(const domian_host *host, domian_log_level level, const char *message) {
  fprintf(stderr, "[%s] log %d: %s\n", host->service_name, (int)level, message);
}
static domian_status host_publish_endpoint(const domian_host *host, const char *name,
                                           const char *endpoint) {
  (void)host;
  return name != NULL && endpoint != NULL ? DOMIAN_OK : DOMIAN_ERR_INVALID_ARGUMENT;
}
static domian_status host_emit_event(const domian_host *host, const char *name,
                                     const char *json) {
  (void)host;
  return name != NULL && json != NULL ? DOMIAN_OK : DOMIAN_ERR_INVALID_ARGUMENT;
}
/* Liveness (1.1): the bounds the header promises; nothing watches. */
static unsigned liveness_deadline_ms;
static unsigned liveness_alive_calls;
static domian_status host_set_deadline(const domian_host *host, uint32_t deadline_ms) {
  (void)host;
  if (deadline_ms != 0 &&
      (deadline_ms < DOMIAN_LIVENESS_MIN_MS || deadline_ms > DOMIAN_LIVENESS_MAX_MS)) {
    return DOMIAN_ERR_INVALID_ARGUMENT;
  }
  liveness_deadline_ms = deadline_ms;
  return DOMIAN_OK;
}
static void host_alive(const domian_host *host) {
  (void)host;
  ++liveness_alive_calls;
}
static const domian_host_liveness_ext host_liveness = {
    (uint32_t)sizeof(domian_host_liveness_ext), 0, host_set_deadline, host_alive,
    {NULL, NULL, NULL, NULL}};

/* State (1.1): counted; save_now is taken only inside an invoke. */
static unsigned state_dirty_calls;
static unsigned state_save_now_calls;
static int in_invoke;
static void host_mark_dirty(const domian_host *host) {
  (void)host;
  ++state_dirty_calls;
}
static domian_status host_save_now(const domian_host *host) {
  (void)host;
  if (!in_invoke) return DOMIAN_ERR_INVALID_ARGUMENT;
  ++state_save_now_calls;
  return DOMIAN_OK;
}
static const domian_host_state_ext host_state = {
    (uint32_t)sizeof(domian_host_state_ext), 0, host_mark_dirty, host_save_now,
    {NULL, NULL, NULL, NULL}};

/* Entities (1.1): states counted (names as the header says, bounded
 * size); changed only counted. */
static unsigned entity_states;
static unsigned entity_changes;
static int entity_word(const char *name, size_t max) {
  size_t n = 0;
  if (name == NULL) return 0;
  for (; name[n] != '\0'; ++n) {
    const char c = name[n];
    if (n >= max || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return 0;
  }
  return n > 0;
}
static domian_status host_publish_state(const domian_host *host, const char *entity,
                                        const char *state, const uint8_t *data, size_t size) {
  (void)host;
  if (!entity_word(entity, 64) || !entity_word(state, 32) || strcmp(state, "set") == 0 ||
      size > DOMIAN_ENTITY_STATE_MAX_BYTES || (data == NULL && size > 0)) {
    return DOMIAN_ERR_INVALID_ARGUMENT;
  }
  ++entity_states;
  return DOMIAN_OK;
}
static void host_entities_changed(const domian_host *host) {
  (void)host;
  ++entity_changes;
}
static const domian_host_entities_ext host_entities = {
    (uint32_t)sizeof(domian_host_entities_ext), 0, host_publish_state, host_entities_changed,
    {NULL, NULL, NULL, NULL}};

static const void *host_get_extension(const domian_host *host, const char *id) {
  (void)host;
  if (id != NULL && strcmp(id, DOMIAN_HOST_EXT_LIVENESS) == 0) return &host_liveness;
  if (id != NULL && strcmp(id, DOMIAN_HOST_EXT_STATE) == 0) return &host_state;
  if (id != NULL && strcmp(id, DOMIAN_HOST_EXT_ENTITIES) == 0) return &host_entities;
  return NULL;
}

/* ---- checks ---- */

static void check_reserved_zero(const char *what, void *const *reserved, size_t count) {
  size_t i;
  for (i = 0; i < count; ++i) {
    if (reserved[i] != NULL) fail("%s.reserved[%zu] is not NULL", what, i);
  }
}

static const domian_command_info *find_command(const domian_plugin_descriptor *d,
                                               const char *name) {
  size_t i;
  if (d->commands == NULL) fail("commands is NULL with command_count %zu", d->command_count);
  for (i = 0; i < d->command_count; ++i) {
    const domian_command_info *c = &d->commands[i];
    if (!HAS_FIELD(c, domian_command_info, description)) {
      fail("command %zu: struct_size %u is smaller than 1.0's", i, (unsigned)c->struct_size);
    }
    if (c->name == NULL || c->arguments == NULL || c->description == NULL) {
      fail("command %zu has a NULL string", i);
    }
    if (c->reserved0 != 0) fail("command %s: reserved0 is not 0", c->name);
    if (HAS_FIELD(c, domian_command_info, reserved)) {
      check_reserved_zero("command", c->reserved, sizeof c->reserved / sizeof c->reserved[0]);
    }
    if (strcmp(c->name, name) == 0) return c;
  }
  return NULL;
}

static void check_state_ext(domian_instance *instance, const domian_state_ext *state) {
  domian_out data, error;
  buffer data_buffer, error_buffer;
  domian_status status;
  if (!HAS_FIELD(state, domian_state_ext, load) || state->save == NULL || state->load == NULL) {
    fail("%s: incomplete extension (struct_size %u)", DOMIAN_EXT_STATE,
         (unsigned)state->struct_size);
  }
  status = state->save(instance, out_init(&data, &data_buffer), out_init(&error, &error_buffer));
  if (status != DOMIAN_OK) fail("save: status %d: %s", (int)status, error_buffer.data);
  status = state->load(instance, (const uint8_t *)data_buffer.data, data_buffer.size,
                       out_init(&error, &error_buffer));
  if (status != DOMIAN_OK) fail("load: status %d: %s", (int)status, error_buffer.data);
}

static void check_health_ext(domian_instance *instance, const domian_health_ext *health) {
  domian_out detail;
  buffer detail_buffer;
  domian_status status;
  if (!HAS_FIELD(health, domian_health_ext, check) || health->check == NULL) {
    fail("%s: incomplete extension (struct_size %u)", DOMIAN_EXT_HEALTH,
         (unsigned)health->struct_size);
  }
  status = health->check(instance, out_init(&detail, &detail_buffer));
  if (status != DOMIAN_OK) fail("check: status %d: %s", (int)status, detail_buffer.data);
}

static void check_entities_ext(domian_instance *instance, const domian_entities_ext *entities) {
  domian_out out, error;
  buffer out_buffer, error_buffer;
  domian_status status;
  if (!HAS_FIELD(entities, domian_entities_ext, describe) || entities->describe == NULL) {
    fail("%s: incomplete extension (struct_size %u)", DOMIAN_EXT_ENTITIES,
         (unsigned)entities->struct_size);
  }
  status = entities->describe(instance, out_init(&out, &out_buffer),
                              out_init(&error, &error_buffer));
  if (status != DOMIAN_OK) fail("describe: status %d: %s", (int)status, error_buffer.data);
  if (strstr(out_buffer.data, "\"entities\"") == NULL) {
    fail("describe: no \"entities\" in \"%s\"", out_buffer.data);
  }
}

/* The plugin extensions of a 1.1 plugin, with no instance. */
static void check_plugin_extensions(const domian_plugin_descriptor *d, const domian_host *host) {
  const domian_config_ext *config;
  const domian_safe_state_ext *safe;
  domian_out out;
  buffer out_buffer;
  domian_status status;
  if (d->get_plugin_extension == NULL) return; /* allowed: "May be NULL" */
  if (d->get_plugin_extension("domian.no-such-extension/1") != NULL) {
    fail("get_plugin_extension answers an unknown id");
  }
  config = (const domian_config_ext *)d->get_plugin_extension(DOMIAN_PLUGIN_EXT_CONFIG);
  if (config != NULL) {
    if (!HAS_FIELD(config, domian_config_ext, validate) || config->validate == NULL) {
      fail("%s: incomplete extension (struct_size %u)", DOMIAN_PLUGIN_EXT_CONFIG,
           (unsigned)config->struct_size);
    }
    status = config->validate("{}", out_init(&out, &out_buffer));
    if (status != DOMIAN_OK) fail("validate {}: status %d: %s", (int)status, out_buffer.data);
    status = config->validate("{\"abi-probe-host\": \"not a setting\"}",
                              out_init(&out, &out_buffer));
    if (status != DOMIAN_OK && (status != DOMIAN_ERR_INVALID_ARGUMENT || out_buffer.size == 0)) {
      fail("validate of an unknown setting: status %d with %s problems", (int)status,
           out_buffer.size == 0 ? "no" : "some");
    }
  }
  safe = (const domian_safe_state_ext *)d->get_plugin_extension(DOMIAN_PLUGIN_EXT_SAFE_STATE);
  if (safe != NULL) {
    if (!HAS_FIELD(safe, domian_safe_state_ext, make_safe) || safe->make_safe == NULL) {
      fail("%s: incomplete extension (struct_size %u)", DOMIAN_PLUGIN_EXT_SAFE_STATE,
           (unsigned)safe->struct_size);
    }
    status = safe->make_safe(host, "{}", out_init(&out, &out_buffer));
    if (status != DOMIAN_OK) fail("make_safe: status %d: %s", (int)status, out_buffer.data);
  }
}

int main(int argc, char **argv) {
  const char *expected_name;
  long expected_minor = DOMIAN_PLUGIN_ABI_MINOR;
  void *library;
  void *symbol;
  domian_plugin_entry_fn entry;
  const domian_abi_version host_abi = {DOMIAN_PLUGIN_ABI_MAJOR, DOMIAN_PLUGIN_ABI_MINOR};
  const domian_plugin_descriptor *d;
  const domian_instance_api *api;
  domian_host host;
  domian_instance *instance = NULL;
  domian_out reply, error;
  buffer reply_buffer, error_buffer;
  domian_status status;
  const char *const echo_args = "{\"text\":\"h\\u00e9llo\",\"list\":[1,2,3]}";
  const void *extension;

  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: %s <plugin.so> <expected name> [<expected ABI minor>]\n", argv[0]);
    return 2;
  }
  plugin_path = argv[1];
  expected_name = argv[2];
  if (argc == 4) expected_minor = strtol(argv[3], NULL, 10);

  /* Load it the way the core does, and find the one entry symbol. */
  library = dlopen(plugin_path, RTLD_NOW | RTLD_LOCAL);
  if (library == NULL) fail("dlopen: %s", dlerror());
  symbol = dlsym(library, DOMIAN_PLUGIN_ENTRY_NAME);
  if (symbol == NULL) fail("no symbol %s: %s", DOMIAN_PLUGIN_ENTRY_NAME, dlerror());
  memcpy(&entry, &symbol, sizeof entry); /* ISO C has no object-to-function cast */

  d = entry(host_abi);
  if (d == NULL) fail("%s returned NULL for ABI %d.%d", DOMIAN_PLUGIN_ENTRY_NAME,
                      DOMIAN_PLUGIN_ABI_MAJOR, DOMIAN_PLUGIN_ABI_MINOR);

  /* Versions and sizes: a 1.x plugin fills in at least every 1.0 field. */
  if (!HAS_FIELD(d, domian_plugin_descriptor, instance_api)) {
    fail("descriptor struct_size %u is smaller than 1.0's", (unsigned)d->struct_size);
  }
  if (d->abi.major != DOMIAN_PLUGIN_ABI_MAJOR) {
    fail("plugin ABI %u.%u, host ABI %d.%d: the major versions differ", (unsigned)d->abi.major,
         (unsigned)d->abi.minor, DOMIAN_PLUGIN_ABI_MAJOR, DOMIAN_PLUGIN_ABI_MINOR);
  }
  if (d->abi.minor != expected_minor) {
    fail("plugin says ABI %u.%u, expected minor %ld", (unsigned)d->abi.major,
         (unsigned)d->abi.minor, expected_minor);
  }
  if (d->reserved0 != 0 || d->reserved1 != 0) fail("descriptor reserved0/1 are not 0");
  if (HAS_FIELD(d, domian_plugin_descriptor, reserved)) {
    check_reserved_zero("descriptor", d->reserved, sizeof d->reserved / sizeof d->reserved[0]);
  }
  if (d->abi.minor == 0 && HAS_FIELD(d, domian_plugin_descriptor, get_plugin_extension) &&
      d->get_plugin_extension != NULL) {
    fail("a 1.0 descriptor's first reserved slot (1.1's get_plugin_extension) is not NULL");
  }
  if (d->name == NULL || strcmp(d->name, expected_name) != 0) {
    fail("name \"%s\", expected \"%s\"", d->name != NULL ? d->name : "(null)", expected_name);
  }
  if (d->version == NULL || d->description == NULL) fail("version or description is NULL");
  if (d->placement != DOMIAN_PLACEMENT_SINGLETON && d->placement != DOMIAN_PLACEMENT_PER_NODE) {
    fail("unknown placement %d", (int)d->placement);
  }
  if (find_command(d, "echo") == NULL) fail("no command \"echo\"");
  if (d->create == NULL) fail("create is NULL");
  api = d->instance_api;
  if (api == NULL) fail("instance_api is NULL");
  if (!HAS_FIELD(api, domian_instance_api, get_extension)) {
    fail("instance_api struct_size %u is smaller than 1.0's", (unsigned)api->struct_size);
  }
  if (api->start == NULL || api->stop == NULL || api->destroy == NULL || api->invoke == NULL ||
      api->get_extension == NULL) {
    fail("instance_api has a NULL function");
  }
  if (api->reserved0 != 0) fail("instance_api reserved0 is not 0");
  if (HAS_FIELD(api, domian_instance_api, reserved)) {
    check_reserved_zero("instance_api", api->reserved,
                        sizeof api->reserved / sizeof api->reserved[0]);
  }

  /* One instance, through its whole life. */
  memset(&host, 0, sizeof host);
  host.struct_size = (uint32_t)sizeof host;
  host.abi = host_abi;
  host.service_name = d->name;
  host.state_dir = ".";
  host.log = host_log;
  host.publish_endpoint = host_publish_endpoint;
  host.emit_event = host_emit_event;
  host.get_extension = host_get_extension;

  /* Only a plugin of minor 1 or later has the slot; in a 1.0 plugin it is
   * reserved room (zero, which check_reserved_zero saw above). */
  if (d->abi.minor >= 1 && HAS_FIELD(d, domian_plugin_descriptor, get_plugin_extension)) {
    check_plugin_extensions(d, &host);
  }

  status = d->create(&host, "{}", &instance, out_init(&error, &error_buffer));
  if (status != DOMIAN_OK) fail("create: status %d: %s", (int)status, error_buffer.data);
  if (instance == NULL) fail("create returned DOMIAN_OK without an instance");

  if (api->get_extension(instance, "domian.no-such-extension/1") != NULL) {
    fail("get_extension answers an unknown id");
  }
  extension = api->get_extension(instance, DOMIAN_EXT_STATE);
  if (extension != NULL) check_state_ext(instance, (const domian_state_ext *)extension);

  status = api->start(instance, out_init(&error, &error_buffer));
  if (status != DOMIAN_OK) fail("start: status %d: %s", (int)status, error_buffer.data);

  in_invoke = 1;
  status = api->invoke(instance, "echo", echo_args, out_init(&reply, &reply_buffer),
                       out_init(&error, &error_buffer));
  in_invoke = 0;
  if (status != DOMIAN_OK) fail("invoke echo: status %d: %s", (int)status, error_buffer.data);
  if (strcmp(reply_buffer.data, echo_args) != 0) {
    fail("invoke echo: reply \"%s\", expected \"%s\"", reply_buffer.data, echo_args);
  }

  status = api->invoke(instance, "no-such-command", "{}", out_init(&reply, &reply_buffer),
                       out_init(&error, &error_buffer));
  if (status != DOMIAN_ERR_UNKNOWN_COMMAND) {
    fail("invoke of an unknown command: status %d, expected DOMIAN_ERR_UNKNOWN_COMMAND",
         (int)status);
  }
  if (error_buffer.size == 0) fail("invoke of an unknown command: no error message");

  extension = api->get_extension(instance, DOMIAN_EXT_HEALTH);
  if (extension != NULL) check_health_ext(instance, (const domian_health_ext *)extension);
  extension = api->get_extension(instance, DOMIAN_EXT_ENTITIES);
  if (extension != NULL) check_entities_ext(instance, (const domian_entities_ext *)extension);

  api->stop(instance);
  api->destroy(instance);

  /* The library stays loaded, as in the core: unloading is not part of the
   * contract. */
  if (liveness_deadline_ms != 0) fail("the liveness deadline is still armed after stop");
  printf("abi_probe_host: %s: \"%s\" %s, ABI %u.%u, loads and runs (host ABI %d.%d; "
         "liveness: %u alive calls; state: %u marked dirty, %u saved now; entities: %u "
         "states, %u changes)\n",
         plugin_path, d->name, d->version, (unsigned)d->abi.major, (unsigned)d->abi.minor,
         DOMIAN_PLUGIN_ABI_MAJOR, DOMIAN_PLUGIN_ABI_MINOR, liveness_alive_calls,
         state_dirty_calls, state_save_now_calls, entity_states, entity_changes);
  return 0;
}
