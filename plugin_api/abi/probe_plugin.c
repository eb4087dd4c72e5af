/*
 * The ABI probe: the smallest correct plugin, in plain C. It is built
 * twice, against the frozen 1.0 header (abi_probe_v1_0.so) and against the
 * current one (abi_probe.so), so that
 *  - check-exports sees what a C plugin exports (only domian_plugin_entry),
 *  - abidiff compares abi_probe.so with the committed baseline
 *    (baseline/abi_probe.abi), and
 *  - abi_probe_host loads both, as a host built from the current header.
 *
 * It has one command, "echo", which replies with its arguments, and no
 * instance extensions. Built against 1.1 or later it also answers
 * get_plugin_extension: domian.config/1, whose validate accepts only an
 * empty configuration ("{}"), and NULL for every other id. The source must
 * keep compiling against the 1.0 header: anything newer goes under
 * #if DOMIAN_PLUGIN_ABI_MINOR >= N.
 */
#include <domian/plugin.h>

#include <stdlib.h>
#include <string.h>

/* The plugin's own instance. The host sees it only as the opaque
 * domian_instance pointer; the probe keeps its own struct name (and casts)
 * so that domian_instance stays an incomplete type in the debug info the
 * abidiff baseline is made from, as it is in the header. */
typedef struct probe_instance {
  const domian_host *host;
  int started;
} probe_instance;

static probe_instance *probe_of(domian_instance *instance) {
  return (probe_instance *)(void *)instance;
}

static void probe_write(domian_out *out, const char *text) {
  if (out != NULL && out->write != NULL && text != NULL) {
    (void)out->write(out, text, strlen(text));
  }
}

static domian_status probe_start(domian_instance *instance, domian_out *error) {
  if (instance == NULL) {
    probe_write(error, "abi-probe: start without an instance");
    return DOMIAN_ERR_INVALID_ARGUMENT;
  }
  probe_of(instance)->started = 1;
  return DOMIAN_OK;
}

static void probe_stop(domian_instance *instance) {
  if (instance != NULL) probe_of(instance)->started = 0;
}

static void probe_destroy(domian_instance *instance) { free(instance); }

static domian_status probe_invoke(domian_instance *instance, const char *command,
                                  const char *args_json, domian_out *reply, domian_out *error) {
  if (instance == NULL || command == NULL) {
    probe_write(error, "abi-probe: invoke without an instance or command");
    return DOMIAN_ERR_INVALID_ARGUMENT;
  }
  if (strcmp(command, "echo") != 0) {
    probe_write(error, "abi-probe: unknown command: ");
    probe_write(error, command);
    return DOMIAN_ERR_UNKNOWN_COMMAND;
  }
  probe_write(reply, args_json != NULL ? args_json : "{}");
  return DOMIAN_OK;
}

static const void *probe_instance_extension(domian_instance *instance, const char *id) {
  (void)instance;
  (void)id;
  return NULL; /* the probe offers no extensions */
}

static domian_status probe_create(const domian_host *host, const char *config_json,
                                  domian_instance **instance, domian_out *error) {
  probe_instance *self;
  (void)config_json; /* the probe takes no configuration */
  if (host == NULL || instance == NULL) {
    probe_write(error, "abi-probe: create without a host or an instance pointer");
    return DOMIAN_ERR_INVALID_ARGUMENT;
  }
  self = (probe_instance *)calloc(1, sizeof *self);
  if (self == NULL) {
    probe_write(error, "abi-probe: out of memory");
    return DOMIAN_ERR_INTERNAL;
  }
  self->host = host;
  *instance = (domian_instance *)(void *)self;
  return DOMIAN_OK;
}

#if DOMIAN_PLUGIN_ABI_MINOR >= 1
/* The probe takes no settings: "{}" (any spacing) is valid, anything else
 * is one problem about the whole object (empty key). */
static domian_status probe_validate(const char *config_json, domian_out *problems) {
  const char *c = config_json;
  if (c == NULL) {
    probe_write(problems, ": abi-probe: no configuration");
    return DOMIAN_ERR_INVALID_ARGUMENT;
  }
  while (*c == ' ' || *c == '\n' || *c == '\t' || *c == '\r') ++c;
  if (*c == '{') {
    ++c;
    while (*c == ' ' || *c == '\n' || *c == '\t' || *c == '\r') ++c;
    if (*c == '}') {
      ++c;
      while (*c == ' ' || *c == '\n' || *c == '\t' || *c == '\r') ++c;
      if (*c == '\0') return DOMIAN_OK;
    }
  }
  probe_write(problems, ": abi-probe takes no settings");
  return DOMIAN_ERR_INVALID_ARGUMENT;
}

static const domian_config_ext probe_config_ext = {
    .struct_size = sizeof(domian_config_ext),
    .validate = probe_validate,
};

static const void *probe_plugin_extension(const char *id) {
  if (id != NULL && strcmp(id, DOMIAN_PLUGIN_EXT_CONFIG) == 0) return &probe_config_ext;
  return NULL;
}
#endif

/* Designated initialisers leave every reserved field zero / NULL. */
static const domian_command_info probe_commands[] = {
    {.struct_size = sizeof(domian_command_info),
     .name = "echo",
     .arguments = "any JSON document",
     .description = "replies with its arguments"},
};

static const domian_instance_api probe_instance_api = {
    .struct_size = sizeof(domian_instance_api),
    .start = probe_start,
    .stop = probe_stop,
    .destroy = probe_destroy,
    .invoke = probe_invoke,
    .get_extension = probe_instance_extension,
};

static const domian_plugin_descriptor probe_descriptor = {
    .struct_size = sizeof(domian_plugin_descriptor),
    .abi = {DOMIAN_PLUGIN_ABI_MAJOR, DOMIAN_PLUGIN_ABI_MINOR},
    .name = "abi-probe",
    .version = "1.0.0",
    .description = "plugin ABI probe (plugin_api/abi/)",
    .placement = DOMIAN_PLACEMENT_PER_NODE,
    .traits = NULL,
    .depends = NULL,
    .commands = probe_commands,
    .command_count = sizeof probe_commands / sizeof probe_commands[0],
    .create = probe_create,
    .instance_api = &probe_instance_api,
#if DOMIAN_PLUGIN_ABI_MINOR >= 1
    .get_plugin_extension = probe_plugin_extension,
#endif
};

/* Debug information only. No function of the probe reaches the extension
 * structs, and GCC describes only the types a translation unit uses; this
 * static table, kept by `used` but never read, makes the probe's debug
 * information (and so the abidiff baseline) describe them too. A struct
 * added to plugin.h in a later minor goes here, under
 * #if DOMIAN_PLUGIN_ABI_MINOR >= N (check-abidiff says when one is missing). */
#if defined(__GNUC__)
__attribute__((used))
#endif
static const struct probe_abi_types {
  const domian_state_ext *state;
  const domian_health_ext *health;
  domian_plugin_entry_fn entry;
#if DOMIAN_PLUGIN_ABI_MINOR >= 1
  const domian_config_ext *config;
  const domian_safe_state_ext *safe_state;
  const domian_host_liveness_ext *liveness;
  const domian_host_state_ext *host_state;
  const domian_entities_ext *entities;
  const domian_host_entities_ext *host_entities;
#endif
} probe_abi_types = {0};

/* The host compares the versions itself (and names both when the majors
 * differ), so the descriptor is returned whatever the host speaks. */
DOMIAN_PLUGIN_EXPORT const domian_plugin_descriptor *domian_plugin_entry(
    domian_abi_version host_abi) {
  (void)host_abi;
  return &probe_descriptor;
}
