/* A test plugin in plain C99, built only against <domian/plugin.h>.
 * Service "slow-health": its health check (domian.health/1) takes
 * kCheckMilliseconds, as one that asks a device over the network might,
 * and fails if it is ever run on a stopped instance; echo replies with
 * its arguments. For races between a call in progress and a stop
 * (core/plugin_host/plugin_host_process_test.cc). */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <domian/plugin.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { kCheckMilliseconds = 30 };

struct domian_instance {
  int started;
};

static domian_status create(const domian_host *host, const char *config_json,
                            domian_instance **instance, domian_out *error) {
  (void)host;
  (void)config_json;
  (void)error;
  *instance = (domian_instance *)calloc(1, sizeof **instance);
  return *instance != NULL ? DOMIAN_OK : DOMIAN_ERR_INTERNAL;
}

static domian_status start(domian_instance *self, domian_out *error) {
  (void)error;
  self->started = 1;
  return DOMIAN_OK;
}

static void stop(domian_instance *self) { self->started = 0; }

static void destroy(domian_instance *self) { free(self); }

static domian_status invoke(domian_instance *self, const char *command, const char *args_json,
                            domian_out *reply, domian_out *error) {
  (void)self;
  if (strcmp(command, "echo") == 0) return reply->write(reply, args_json, strlen(args_json));
  error->write(error, "no such command", strlen("no such command"));
  return DOMIAN_ERR_UNKNOWN_COMMAND;
}

static domian_status check(domian_instance *self, domian_out *detail) {
  const struct timespec pause = {0, kCheckMilliseconds * 1000000L};
  nanosleep(&pause, NULL);
  if (self->started) return DOMIAN_OK;
  detail->write(detail, "checked while stopped", strlen("checked while stopped"));
  return DOMIAN_ERR_FAILED;
}

static const domian_health_ext health_ext = {sizeof(domian_health_ext), 0, check, {0}};

static const void *get_extension(domian_instance *self, const char *id) {
  (void)self;
  return strcmp(id, DOMIAN_EXT_HEALTH) == 0 ? &health_ext : NULL;
}

static const domian_command_info commands[] = {
    {sizeof(domian_command_info), 0, "echo", "any JSON", "replies with its arguments", {0}},
};

static const domian_instance_api instance_api = {
    sizeof(domian_instance_api), 0, start, stop, destroy, invoke, get_extension, {0}};

static const domian_plugin_descriptor descriptor = {
    sizeof(domian_plugin_descriptor),
    {DOMIAN_PLUGIN_ABI_MAJOR, DOMIAN_PLUGIN_ABI_MINOR},
    0,
    0,
    0,
    "slow-health",
    "1.0.0",
    "test plugin whose health check takes a while",
    DOMIAN_PLACEMENT_PER_NODE,
    0,
    NULL,
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
