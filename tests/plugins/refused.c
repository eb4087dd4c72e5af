/* Plugins the core must refuse, one per REFUSED_KIND (see CMakeLists.txt):
 *  1 no entry symbol        2 ABI major 2        3 name differs from file
 *  4 declines the host's ABI    5 a command listed twice */
#include <domian/plugin.h>

#include <stddef.h>

#if REFUSED_KIND == 1
DOMIAN_PLUGIN_EXPORT int not_an_entry(void);
DOMIAN_PLUGIN_EXPORT int not_an_entry(void) { return 1; }
#else

static domian_status create(const domian_host *host, const char *config_json,
                            domian_instance **instance, domian_out *error) {
  (void)host; (void)config_json; (void)instance; (void)error;
  return DOMIAN_ERR_INTERNAL;
}
static domian_status start(domian_instance *i, domian_out *e) { (void)i; (void)e; return 0; }
static void stop(domian_instance *i) { (void)i; }
static void destroy(domian_instance *i) { (void)i; }
static domian_status invoke(domian_instance *i, const char *c, const char *a, domian_out *r,
                            domian_out *e) {
  (void)i; (void)c; (void)a; (void)r; (void)e;
  return 0;
}
static const domian_instance_api api = {sizeof(domian_instance_api), 0, start, stop, destroy,
                                        invoke, NULL, {0}};
static const domian_command_info commands[] = {
    {sizeof(domian_command_info), 0, "go", "{}", "", {0}},
    {sizeof(domian_command_info), 0, "go", "{}", "", {0}},
};
#if REFUSED_KIND == 2
#define MAJOR 2
#else
#define MAJOR DOMIAN_PLUGIN_ABI_MAJOR
#endif
#if REFUSED_KIND == 3
#define NAME "someone-else"
#else
#define NAME PLUGIN_FILE_NAME
#endif
static const domian_plugin_descriptor descriptor = {
    sizeof(domian_plugin_descriptor), {MAJOR, 3}, 0, 0, 0, NAME, "1.0.0", "", 0, 0, NULL, NULL,
    commands, REFUSED_KIND == 5 ? 2 : 1, create, &api, NULL, {0}};

DOMIAN_PLUGIN_EXPORT const domian_plugin_descriptor *domian_plugin_entry(domian_abi_version v) {
  (void)v;
  return REFUSED_KIND == 4 ? NULL : &descriptor;
}
#endif
