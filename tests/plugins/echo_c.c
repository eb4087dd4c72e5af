/* A test plugin in plain C99, built only against <domian/plugin.h>.
 * Service "echo-c": echo (the arguments back), count (calls so far),
 * fail (an error with a message), publish (an endpoint), event (emits one),
 * crash (SIGSEGV), hang (never returns), and state (the call counter)
 * through domian.state/1. With {"crash_in_start": true} in its
 * configuration it aborts in start; with {"latin1_endpoint": true} the
 * endpoint it publishes is not UTF-8 ("caf\xe9:8080", as a plugin
 * writing Latin-1 would). */
#include <domian/plugin.h>

#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

struct domian_instance {
  const domian_host *host;
  unsigned long calls;
  int started;
  int abort_in_start;
  int latin1_endpoint;
};

static void put(domian_out *out, const char *text) { out->write(out, text, strlen(text)); }

static domian_status create(const domian_host *host, const char *config_json,
                            domian_instance **instance, domian_out *error) {
  domian_instance *self;
  if (strstr(config_json, "\"refuse\"") != NULL) {
    put(error, "configuration says refuse");
    return DOMIAN_ERR_INVALID_ARGUMENT;
  }
  self = (domian_instance *)calloc(1, sizeof *self);
  if (self == NULL) return DOMIAN_ERR_INTERNAL;
  self->host = host;
  self->abort_in_start = strstr(config_json, "\"crash_in_start\"") != NULL;
  self->latin1_endpoint = strstr(config_json, "\"latin1_endpoint\"") != NULL;
  *instance = self;
  return DOMIAN_OK;
}

static domian_status start(domian_instance *self, domian_out *error) {
  (void)error;
  if (self->abort_in_start) abort();
  self->started = 1;
  self->host->log(self->host, DOMIAN_LOG_INFO, "echo-c started");
  return DOMIAN_OK;
}

static void stop(domian_instance *self) { self->started = 0; }

static void destroy(domian_instance *self) { free(self); }

static domian_status invoke(domian_instance *self, const char *command, const char *args_json,
                            domian_out *reply, domian_out *error) {
  char text[64];
  ++self->calls;
  if (strcmp(command, "echo") == 0) {
    put(reply, args_json);
    return DOMIAN_OK;
  }
  if (strcmp(command, "count") == 0) {
    snprintf(text, sizeof text, "{\"calls\":%lu}", self->calls);
    put(reply, text);
    return DOMIAN_OK;
  }
  if (strcmp(command, "fail") == 0) {
    put(error, "failing as asked");
    return DOMIAN_ERR_FAILED;
  }
  if (strcmp(command, "publish") == 0) {
    put(reply, "{}");
    return self->host->publish_endpoint(self->host, "http",
                                        self->latin1_endpoint ? "caf\xe9:8080" : "127.0.0.1:8080");
  }
  if (strcmp(command, "event") == 0) {
    put(reply, "{}");
    return self->host->emit_event(self->host, "ping", args_json);
  }
  if (strcmp(command, "hang") == 0) {
    for (;;) pause();
  }
  if (strcmp(command, "crash") == 0) {
    raise(SIGSEGV);
    return DOMIAN_ERR_INTERNAL;
  }
  put(error, "no such command");
  return DOMIAN_ERR_UNKNOWN_COMMAND;
}

static domian_status save(domian_instance *self, domian_out *data, domian_out *error) {
  char text[32];
  (void)error;
  snprintf(text, sizeof text, "v1:%lu", self->calls);
  put(data, text);
  return DOMIAN_OK;
}

static domian_status load(domian_instance *self, const uint8_t *data, size_t size,
                          domian_out *error) {
  char text[32];
  if (size >= sizeof text || size < 3 || memcmp(data, "v1:", 3) != 0) {
    put(error, "unknown state layout");
    return DOMIAN_ERR_NOT_SUPPORTED;
  }
  memcpy(text, data + 3, size - 3);
  text[size - 3] = '\0';
  self->calls = strtoul(text, NULL, 10);
  return DOMIAN_OK;
}

static const domian_state_ext state_ext = {sizeof(domian_state_ext), 0, save, load, {0}};

static const void *get_extension(domian_instance *self, const char *id) {
  (void)self;
  return strcmp(id, DOMIAN_EXT_STATE) == 0 ? &state_ext : NULL;
}

static const char *const traits[] = {"test", NULL};

static const domian_command_info commands[] = {
    {sizeof(domian_command_info), 0, "echo", "any JSON", "replies with its arguments", {0}},
    {sizeof(domian_command_info), 0, "count", "{}", "calls so far", {0}},
    {sizeof(domian_command_info), 0, "fail", "{}", "fails with a message", {0}},
    {sizeof(domian_command_info), 0, "publish", "{}", "publishes an endpoint", {0}},
    {sizeof(domian_command_info), 0, "event", "any JSON", "emits it as an event", {0}},
    {sizeof(domian_command_info), 0, "crash", "{}", "segfaults", {0}},
    {sizeof(domian_command_info), 0, "hang", "{}", "never returns", {0}},
};

static const domian_instance_api instance_api = {
    sizeof(domian_instance_api), 0, start, stop, destroy, invoke, get_extension, {0}};

static const domian_plugin_descriptor descriptor = {
    sizeof(domian_plugin_descriptor),
    {DOMIAN_PLUGIN_ABI_MAJOR, DOMIAN_PLUGIN_ABI_MINOR},
    0,
    0,
    0,
    "echo-c",
    "1.0.0",
    "test plugin in C",
    DOMIAN_PLACEMENT_PER_NODE,
    0,
    traits,
    NULL,
    commands,
    sizeof commands / sizeof commands[0],
    create,
    &instance_api,
    NULL, /* get_plugin_extension (ABI 1.1): none */
    {0}};

DOMIAN_PLUGIN_EXPORT const domian_plugin_descriptor *domian_plugin_entry(
    domian_abi_version host_abi) {
  (void)host_abi;
  return &descriptor;
}
