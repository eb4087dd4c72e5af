/*
 * Pins the layout of every struct of the plugin ABI 1.x, and the values
 * that travel across it, with compile-time assertions. Included by the
 * header checks (check_header.c as C99 and C11, check_header.cc as C++17
 * and C++20), so a change that moves a field breaks the build.
 *
 * The structs hold only uint16_t, uint32_t, int32_t, size_t and pointers,
 * so their layout depends only on the width of pointers and size_t. Each
 * line below gives it for both data models Debian builds plugins for:
 *  - LP64 (amd64, arm64): 8-byte pointers and size_t;
 *  - ILP32 (armhf, i386, a 32-bit Raspberry Pi OS): 4-byte ones, every
 *    field aligned to at most 4.
 * The numbers were measured by compiling plugin.h 1.0 (gcc 12 for amd64
 * and armhf, clang 14 for i386), not worked out by hand; armhf and i386
 * agree. The 1.1 lines were measured the same way (gcc 12, amd64 and
 * armhf). A target of another data model fails to compile this file until
 * its column is measured and added. The build checks the column of the
 * machine it runs on; the test plugin_abi_layout_ilp32 compiles the
 * header checks for armhf (README.md).
 *
 * Rules for later 1.x minors:
 *  - An offset never changes. A reserved slot may be given a name and a
 *    type of the same size; update its line here (and the abidiff
 *    baseline, see README.md).
 *  - A struct may only grow at its end; update its size line.
 *
 * No struct has implicit padding in either data model: every byte belongs
 * to a field, so every reserved byte is zero and can be given a meaning
 * later.
 */
#ifndef DOMIAN_ABI_LAYOUT_H
#define DOMIAN_ABI_LAYOUT_H

#include <domian/plugin.h>

#include <stddef.h>
#include <stdint.h>

#if defined(__cplusplus)
#define DOMIAN_ABI_ASSERT(cond, message) static_assert(cond, message)
#define DOMIAN_ABI_MEMBER_SIZE(type, field) sizeof(type::field)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define DOMIAN_ABI_ASSERT(cond, message) _Static_assert(cond, message)
#define DOMIAN_ABI_MEMBER_SIZE(type, field) sizeof(((type *)0)->field)
#else
/* C99 has no _Static_assert: an array of negative size does the job. */
#define DOMIAN_ABI_CONCAT2(a, b) a##b
#define DOMIAN_ABI_CONCAT(a, b) DOMIAN_ABI_CONCAT2(a, b)
#define DOMIAN_ABI_ASSERT(cond, message) \
  typedef char DOMIAN_ABI_CONCAT(domian_abi_assert_line_, __LINE__)[(cond) ? 1 : -1]
#define DOMIAN_ABI_MEMBER_SIZE(type, field) sizeof(((type *)0)->field)
#endif

#if UINTPTR_MAX == 0xffffffffffffffffu && SIZE_MAX == 0xffffffffffffffffu
#define DOMIAN_ABI_BY_MODEL(lp64, ilp32) (lp64)
#elif UINTPTR_MAX == 0xffffffffu && SIZE_MAX == 0xffffffffu
#define DOMIAN_ABI_BY_MODEL(lp64, ilp32) (ilp32)
#else
#error "plugin ABI: pointers and size_t are neither 64 nor 32 bits: measure this target's layout"
#endif

/* DOMIAN_ABI_SIZE(type, LP64 size, ILP32 size)
 * DOMIAN_ABI_FIELD(type, field, LP64 offset, LP64 size, ILP32 offset, ILP32 size) */
#define DOMIAN_ABI_SIZE(type, lp64, ilp32)                           \
  DOMIAN_ABI_ASSERT(sizeof(type) == DOMIAN_ABI_BY_MODEL(lp64, ilp32), \
                    "plugin ABI: sizeof(" #type ") changed")
#define DOMIAN_ABI_FIELD(type, field, lp64_offset, lp64_size, ilp32_offset, ilp32_size)      \
  DOMIAN_ABI_ASSERT(offsetof(type, field) == DOMIAN_ABI_BY_MODEL(lp64_offset, ilp32_offset) && \
                        DOMIAN_ABI_MEMBER_SIZE(type, field) ==                              \
                            DOMIAN_ABI_BY_MODEL(lp64_size, ilp32_size),                     \
                    "plugin ABI: " #type "." #field " moved or changed size")

/* Values every target agrees on. */
DOMIAN_ABI_ASSERT(DOMIAN_PLUGIN_ABI_MAJOR == 1, "plugin ABI: this file pins major version 1");
DOMIAN_ABI_ASSERT(DOMIAN_PLUGIN_ABI_MINOR >= 0, "plugin ABI: bad minor version");
DOMIAN_ABI_ASSERT(sizeof(domian_status) == 4, "plugin ABI: domian_status is 32 bits");
DOMIAN_ABI_ASSERT(sizeof(domian_log_level) == 4, "plugin ABI: domian_log_level is 32 bits");
DOMIAN_ABI_ASSERT(sizeof(domian_placement) == 4, "plugin ABI: domian_placement is 32 bits");
DOMIAN_ABI_ASSERT(DOMIAN_OK == 0 && DOMIAN_ERR_INVALID_ARGUMENT == 1 &&
                      DOMIAN_ERR_UNKNOWN_COMMAND == 2 && DOMIAN_ERR_UNAVAILABLE == 3 &&
                      DOMIAN_ERR_FAILED == 4 && DOMIAN_ERR_INTERNAL == 5 &&
                      DOMIAN_ERR_NOT_SUPPORTED == 6,
                  "plugin ABI: status codes are fixed");
DOMIAN_ABI_ASSERT(DOMIAN_LOG_TRACE == 0 && DOMIAN_LOG_DEBUG == 1 && DOMIAN_LOG_INFO == 2 &&
                      DOMIAN_LOG_WARN == 3 && DOMIAN_LOG_ERROR == 4,
                  "plugin ABI: log levels are fixed");
DOMIAN_ABI_ASSERT(DOMIAN_PLACEMENT_SINGLETON == 0 && DOMIAN_PLACEMENT_PER_NODE == 1,
                  "plugin ABI: placements are fixed");
/* 1.1: bounds a plugin relies on (it sizes its control loop by them). */
DOMIAN_ABI_ASSERT(DOMIAN_SAFE_STATE_TIMEOUT_MS == 5000,
                  "plugin ABI: the safe state's time limit is fixed");
DOMIAN_ABI_ASSERT(DOMIAN_LIVENESS_MIN_MS == 100 && DOMIAN_LIVENESS_MAX_MS == 600000,
                  "plugin ABI: the liveness deadline's bounds are fixed");
DOMIAN_ABI_ASSERT(DOMIAN_ENTITIES_MAX == 64 && DOMIAN_ENTITIES_MAX_DESCRIPTION_BYTES == 65536 &&
                      DOMIAN_ENTITY_STATE_MAX_BYTES == 512 * 1024,
                  "plugin ABI: the entities' bounds are fixed");

/* Each field: LP64 offset and size, then ILP32 offset and size. */
DOMIAN_ABI_SIZE(domian_abi_version,                         4,         4);
DOMIAN_ABI_FIELD(domian_abi_version, major,                 0,  2,     0,  2);
DOMIAN_ABI_FIELD(domian_abi_version, minor,                 2,  2,     2,  2);

DOMIAN_ABI_SIZE(domian_out,                                56,        32);
DOMIAN_ABI_FIELD(domian_out, struct_size,                   0,  4,     0,  4);
DOMIAN_ABI_FIELD(domian_out, reserved0,                     4,  4,     4,  4);
DOMIAN_ABI_FIELD(domian_out, host_data,                     8,  8,     8,  4);
DOMIAN_ABI_FIELD(domian_out, write,                        16,  8,    12,  4);
DOMIAN_ABI_FIELD(domian_out, reserved,                     24, 32,    16, 16);

DOMIAN_ABI_SIZE(domian_host,                              136,        76);
DOMIAN_ABI_FIELD(domian_host, struct_size,                  0,  4,     0,  4);
DOMIAN_ABI_FIELD(domian_host, abi,                          4,  4,     4,  4);
DOMIAN_ABI_FIELD(domian_host, reserved0,                    8,  2,     8,  2);
DOMIAN_ABI_FIELD(domian_host, reserved1,                   10,  2,    10,  2);
DOMIAN_ABI_FIELD(domian_host, reserved2,                   12,  4,    12,  4);
DOMIAN_ABI_FIELD(domian_host, host_data,                   16,  8,    16,  4);
DOMIAN_ABI_FIELD(domian_host, service_name,                24,  8,    20,  4);
DOMIAN_ABI_FIELD(domian_host, state_dir,                   32,  8,    24,  4);
DOMIAN_ABI_FIELD(domian_host, log,                         40,  8,    28,  4);
DOMIAN_ABI_FIELD(domian_host, publish_endpoint,            48,  8,    32,  4);
DOMIAN_ABI_FIELD(domian_host, emit_event,                  56,  8,    36,  4);
DOMIAN_ABI_FIELD(domian_host, get_extension,               64,  8,    40,  4);
DOMIAN_ABI_FIELD(domian_host, reserved,                    72, 64,    44, 32);

DOMIAN_ABI_SIZE(domian_command_info,                       48,        28);
DOMIAN_ABI_FIELD(domian_command_info, struct_size,          0,  4,     0,  4);
DOMIAN_ABI_FIELD(domian_command_info, reserved0,            4,  4,     4,  4);
DOMIAN_ABI_FIELD(domian_command_info, name,                 8,  8,     8,  4);
DOMIAN_ABI_FIELD(domian_command_info, arguments,           16,  8,    12,  4);
DOMIAN_ABI_FIELD(domian_command_info, description,         24,  8,    16,  4);
DOMIAN_ABI_FIELD(domian_command_info, reserved,            32, 16,    20,  8);

DOMIAN_ABI_SIZE(domian_instance_api,                      112,        60);
DOMIAN_ABI_FIELD(domian_instance_api, struct_size,          0,  4,     0,  4);
DOMIAN_ABI_FIELD(domian_instance_api, reserved0,            4,  4,     4,  4);
DOMIAN_ABI_FIELD(domian_instance_api, start,                8,  8,     8,  4);
DOMIAN_ABI_FIELD(domian_instance_api, stop,                16,  8,    12,  4);
DOMIAN_ABI_FIELD(domian_instance_api, destroy,             24,  8,    16,  4);
DOMIAN_ABI_FIELD(domian_instance_api, invoke,              32,  8,    20,  4);
DOMIAN_ABI_FIELD(domian_instance_api, get_extension,       40,  8,    24,  4);
DOMIAN_ABI_FIELD(domian_instance_api, reserved,            48, 64,    28, 32);

DOMIAN_ABI_SIZE(domian_plugin_descriptor,                 160,        92);
DOMIAN_ABI_FIELD(domian_plugin_descriptor, struct_size,     0,  4,     0,  4);
DOMIAN_ABI_FIELD(domian_plugin_descriptor, abi,             4,  4,     4,  4);
DOMIAN_ABI_FIELD(domian_plugin_descriptor, reserved0,       8,  2,     8,  2);
DOMIAN_ABI_FIELD(domian_plugin_descriptor, reserved1,      10,  2,    10,  2);
DOMIAN_ABI_FIELD(domian_plugin_descriptor, reserved2,      12,  4,    12,  4);
DOMIAN_ABI_FIELD(domian_plugin_descriptor, name,           16,  8,    16,  4);
DOMIAN_ABI_FIELD(domian_plugin_descriptor, version,        24,  8,    20,  4);
DOMIAN_ABI_FIELD(domian_plugin_descriptor, description,    32,  8,    24,  4);
DOMIAN_ABI_FIELD(domian_plugin_descriptor, placement,      40,  4,    28,  4);
DOMIAN_ABI_FIELD(domian_plugin_descriptor, reserved3,      44,  4,    32,  4);
DOMIAN_ABI_FIELD(domian_plugin_descriptor, traits,         48,  8,    36,  4);
DOMIAN_ABI_FIELD(domian_plugin_descriptor, depends,        56,  8,    40,  4);
DOMIAN_ABI_FIELD(domian_plugin_descriptor, commands,       64,  8,    44,  4);
DOMIAN_ABI_FIELD(domian_plugin_descriptor, command_count,  72,  8,    48,  4);
DOMIAN_ABI_FIELD(domian_plugin_descriptor, create,         80,  8,    52,  4);
DOMIAN_ABI_FIELD(domian_plugin_descriptor, instance_api,   88,  8,    56,  4);
/* 1.1: the first reserved slot became get_plugin_extension. */
DOMIAN_ABI_FIELD(domian_plugin_descriptor, get_plugin_extension, 96, 8, 60,  4);
DOMIAN_ABI_FIELD(domian_plugin_descriptor, reserved,      104, 56,    64, 28);

DOMIAN_ABI_SIZE(domian_state_ext,                          56,        32);
DOMIAN_ABI_FIELD(domian_state_ext, struct_size,             0,  4,     0,  4);
DOMIAN_ABI_FIELD(domian_state_ext, reserved0,               4,  4,     4,  4);
DOMIAN_ABI_FIELD(domian_state_ext, save,                    8,  8,     8,  4);
DOMIAN_ABI_FIELD(domian_state_ext, load,                   16,  8,    12,  4);
DOMIAN_ABI_FIELD(domian_state_ext, reserved,               24, 32,    16, 16);

DOMIAN_ABI_SIZE(domian_health_ext,                         48,        28);
DOMIAN_ABI_FIELD(domian_health_ext, struct_size,            0,  4,     0,  4);
DOMIAN_ABI_FIELD(domian_health_ext, reserved0,              4,  4,     4,  4);
DOMIAN_ABI_FIELD(domian_health_ext, check,                  8,  8,     8,  4);
DOMIAN_ABI_FIELD(domian_health_ext, reserved,              16, 32,    12, 16);

DOMIAN_ABI_SIZE(domian_entities_ext,                       48,        28);
DOMIAN_ABI_FIELD(domian_entities_ext, struct_size,          0,  4,     0,  4);
DOMIAN_ABI_FIELD(domian_entities_ext, reserved0,            4,  4,     4,  4);
DOMIAN_ABI_FIELD(domian_entities_ext, describe,             8,  8,     8,  4);
DOMIAN_ABI_FIELD(domian_entities_ext, reserved,            16, 32,    12, 16);

/* 1.1 */
DOMIAN_ABI_SIZE(domian_config_ext,                         48,        28);
DOMIAN_ABI_FIELD(domian_config_ext, struct_size,            0,  4,     0,  4);
DOMIAN_ABI_FIELD(domian_config_ext, reserved0,              4,  4,     4,  4);
DOMIAN_ABI_FIELD(domian_config_ext, validate,               8,  8,     8,  4);
DOMIAN_ABI_FIELD(domian_config_ext, reserved,              16, 32,    12, 16);

DOMIAN_ABI_SIZE(domian_safe_state_ext,                     48,        28);
DOMIAN_ABI_FIELD(domian_safe_state_ext, struct_size,        0,  4,     0,  4);
DOMIAN_ABI_FIELD(domian_safe_state_ext, reserved0,          4,  4,     4,  4);
DOMIAN_ABI_FIELD(domian_safe_state_ext, make_safe,          8,  8,     8,  4);
DOMIAN_ABI_FIELD(domian_safe_state_ext, reserved,          16, 32,    12, 16);

DOMIAN_ABI_SIZE(domian_host_liveness_ext,                  56,        32);
DOMIAN_ABI_FIELD(domian_host_liveness_ext, struct_size,     0,  4,     0,  4);
DOMIAN_ABI_FIELD(domian_host_liveness_ext, reserved0,       4,  4,     4,  4);
DOMIAN_ABI_FIELD(domian_host_liveness_ext, set_deadline,    8,  8,     8,  4);
DOMIAN_ABI_FIELD(domian_host_liveness_ext, alive,          16,  8,    12,  4);
DOMIAN_ABI_FIELD(domian_host_liveness_ext, reserved,       24, 32,    16, 16);

DOMIAN_ABI_SIZE(domian_host_state_ext,                     56,        32);
DOMIAN_ABI_FIELD(domian_host_state_ext, struct_size,        0,  4,     0,  4);
DOMIAN_ABI_FIELD(domian_host_state_ext, reserved0,          4,  4,     4,  4);
DOMIAN_ABI_FIELD(domian_host_state_ext, mark_dirty,         8,  8,     8,  4);
DOMIAN_ABI_FIELD(domian_host_state_ext, save_now,          16,  8,    12,  4);
DOMIAN_ABI_FIELD(domian_host_state_ext, reserved,          24, 32,    16, 16);

DOMIAN_ABI_SIZE(domian_host_entities_ext,                  56,        32);
DOMIAN_ABI_FIELD(domian_host_entities_ext, struct_size,     0,  4,     0,  4);
DOMIAN_ABI_FIELD(domian_host_entities_ext, reserved0,       4,  4,     4,  4);
DOMIAN_ABI_FIELD(domian_host_entities_ext, publish_state,   8,  8,     8,  4);
DOMIAN_ABI_FIELD(domian_host_entities_ext, changed,        16,  8,    12,  4);
DOMIAN_ABI_FIELD(domian_host_entities_ext, reserved,       24, 32,    16, 16);

#if defined(__cplusplus)
/* C++ can also pin the exact type of every field, function pointers
 * included (parameter and return types, const), on every target. */
#include <string_view>
#include <type_traits>

#define DOMIAN_ABI_TYPE(type, field, ...)                                  \
  static_assert(std::is_same<decltype(type::field), __VA_ARGS__>::value, \
                "plugin ABI: type of " #type "." #field " changed")

static_assert(std::is_same<domian_status, int32_t>::value, "plugin ABI: domian_status");
static_assert(std::is_same<domian_log_level, int32_t>::value, "plugin ABI: domian_log_level");
static_assert(std::is_same<domian_placement, int32_t>::value, "plugin ABI: domian_placement");
static_assert(std::is_same<domian_plugin_entry_fn,
                           const domian_plugin_descriptor *(*)(domian_abi_version)>::value,
              "plugin ABI: domian_plugin_entry_fn");
static_assert(std::is_same<decltype(&domian_plugin_entry), domian_plugin_entry_fn>::value,
              "plugin ABI: domian_plugin_entry does not match domian_plugin_entry_fn");
static_assert(std::string_view(DOMIAN_PLUGIN_ENTRY_NAME) == "domian_plugin_entry",
              "plugin ABI: entry symbol name");
static_assert(std::string_view(DOMIAN_EXT_STATE) == "domian.state/1",
              "plugin ABI: state extension id");
static_assert(std::string_view(DOMIAN_EXT_HEALTH) == "domian.health/1",
              "plugin ABI: health extension id");
static_assert(std::string_view(DOMIAN_PLUGIN_EXT_CONFIG) == "domian.config/1",
              "plugin ABI: config extension id");
static_assert(std::string_view(DOMIAN_PLUGIN_EXT_SAFE_STATE) == "domian.safe_state/1",
              "plugin ABI: safe state extension id");
static_assert(std::string_view(DOMIAN_HOST_EXT_LIVENESS) == "domian.host.liveness/1",
              "plugin ABI: liveness host extension id");
static_assert(std::string_view(DOMIAN_HOST_EXT_STATE) == "domian.host.state/1",
              "plugin ABI: state host extension id");
static_assert(std::string_view(DOMIAN_EXT_ENTITIES) == "domian.entities/1",
              "plugin ABI: entities extension id");
static_assert(std::string_view(DOMIAN_HOST_EXT_ENTITIES) == "domian.host.entities/1",
              "plugin ABI: entities host extension id");

DOMIAN_ABI_TYPE(domian_abi_version, major, uint16_t);
DOMIAN_ABI_TYPE(domian_abi_version, minor, uint16_t);

DOMIAN_ABI_TYPE(domian_out, struct_size, uint32_t);
DOMIAN_ABI_TYPE(domian_out, reserved0, uint32_t);
DOMIAN_ABI_TYPE(domian_out, host_data, void *);
DOMIAN_ABI_TYPE(domian_out, write, domian_status (*)(domian_out *, const char *, size_t));
DOMIAN_ABI_TYPE(domian_out, reserved, void *[4]);

DOMIAN_ABI_TYPE(domian_host, struct_size, uint32_t);
DOMIAN_ABI_TYPE(domian_host, abi, domian_abi_version);
DOMIAN_ABI_TYPE(domian_host, reserved0, uint16_t);
DOMIAN_ABI_TYPE(domian_host, reserved1, uint16_t);
DOMIAN_ABI_TYPE(domian_host, reserved2, uint32_t);
DOMIAN_ABI_TYPE(domian_host, host_data, void *);
DOMIAN_ABI_TYPE(domian_host, service_name, const char *);
DOMIAN_ABI_TYPE(domian_host, state_dir, const char *);
DOMIAN_ABI_TYPE(domian_host, log, void (*)(const domian_host *, domian_log_level, const char *));
DOMIAN_ABI_TYPE(domian_host, publish_endpoint,
                domian_status (*)(const domian_host *, const char *, const char *));
DOMIAN_ABI_TYPE(domian_host, emit_event,
                domian_status (*)(const domian_host *, const char *, const char *));
DOMIAN_ABI_TYPE(domian_host, get_extension, const void *(*)(const domian_host *, const char *));
DOMIAN_ABI_TYPE(domian_host, reserved, void *[8]);

DOMIAN_ABI_TYPE(domian_command_info, struct_size, uint32_t);
DOMIAN_ABI_TYPE(domian_command_info, reserved0, uint32_t);
DOMIAN_ABI_TYPE(domian_command_info, name, const char *);
DOMIAN_ABI_TYPE(domian_command_info, arguments, const char *);
DOMIAN_ABI_TYPE(domian_command_info, description, const char *);
DOMIAN_ABI_TYPE(domian_command_info, reserved, void *[2]);

DOMIAN_ABI_TYPE(domian_instance_api, struct_size, uint32_t);
DOMIAN_ABI_TYPE(domian_instance_api, reserved0, uint32_t);
DOMIAN_ABI_TYPE(domian_instance_api, start, domian_status (*)(domian_instance *, domian_out *));
DOMIAN_ABI_TYPE(domian_instance_api, stop, void (*)(domian_instance *));
DOMIAN_ABI_TYPE(domian_instance_api, destroy, void (*)(domian_instance *));
DOMIAN_ABI_TYPE(domian_instance_api, invoke,
                domian_status (*)(domian_instance *, const char *, const char *, domian_out *,
                                  domian_out *));
DOMIAN_ABI_TYPE(domian_instance_api, get_extension,
                const void *(*)(domian_instance *, const char *));
DOMIAN_ABI_TYPE(domian_instance_api, reserved, void *[8]);

DOMIAN_ABI_TYPE(domian_plugin_descriptor, struct_size, uint32_t);
DOMIAN_ABI_TYPE(domian_plugin_descriptor, abi, domian_abi_version);
DOMIAN_ABI_TYPE(domian_plugin_descriptor, reserved0, uint16_t);
DOMIAN_ABI_TYPE(domian_plugin_descriptor, reserved1, uint16_t);
DOMIAN_ABI_TYPE(domian_plugin_descriptor, reserved2, uint32_t);
DOMIAN_ABI_TYPE(domian_plugin_descriptor, name, const char *);
DOMIAN_ABI_TYPE(domian_plugin_descriptor, version, const char *);
DOMIAN_ABI_TYPE(domian_plugin_descriptor, description, const char *);
DOMIAN_ABI_TYPE(domian_plugin_descriptor, placement, domian_placement);
DOMIAN_ABI_TYPE(domian_plugin_descriptor, reserved3, uint32_t);
DOMIAN_ABI_TYPE(domian_plugin_descriptor, traits, const char *const *);
DOMIAN_ABI_TYPE(domian_plugin_descriptor, depends, const char *const *);
DOMIAN_ABI_TYPE(domian_plugin_descriptor, commands, const domian_command_info *);
DOMIAN_ABI_TYPE(domian_plugin_descriptor, command_count, size_t);
DOMIAN_ABI_TYPE(domian_plugin_descriptor, create,
                domian_status (*)(const domian_host *, const char *, domian_instance **,
                                  domian_out *));
DOMIAN_ABI_TYPE(domian_plugin_descriptor, instance_api, const domian_instance_api *);
DOMIAN_ABI_TYPE(domian_plugin_descriptor, get_plugin_extension, const void *(*)(const char *));
DOMIAN_ABI_TYPE(domian_plugin_descriptor, reserved, void *[7]);

DOMIAN_ABI_TYPE(domian_state_ext, struct_size, uint32_t);
DOMIAN_ABI_TYPE(domian_state_ext, reserved0, uint32_t);
DOMIAN_ABI_TYPE(domian_state_ext, save,
                domian_status (*)(domian_instance *, domian_out *, domian_out *));
DOMIAN_ABI_TYPE(domian_state_ext, load,
                domian_status (*)(domian_instance *, const uint8_t *, size_t, domian_out *));
DOMIAN_ABI_TYPE(domian_state_ext, reserved, void *[4]);

DOMIAN_ABI_TYPE(domian_health_ext, struct_size, uint32_t);
DOMIAN_ABI_TYPE(domian_health_ext, reserved0, uint32_t);
DOMIAN_ABI_TYPE(domian_health_ext, check, domian_status (*)(domian_instance *, domian_out *));
DOMIAN_ABI_TYPE(domian_health_ext, reserved, void *[4]);

DOMIAN_ABI_TYPE(domian_entities_ext, struct_size, uint32_t);
DOMIAN_ABI_TYPE(domian_entities_ext, reserved0, uint32_t);
DOMIAN_ABI_TYPE(domian_entities_ext, describe,
                domian_status (*)(domian_instance *, domian_out *, domian_out *));
DOMIAN_ABI_TYPE(domian_entities_ext, reserved, void *[4]);

DOMIAN_ABI_TYPE(domian_config_ext, struct_size, uint32_t);
DOMIAN_ABI_TYPE(domian_config_ext, reserved0, uint32_t);
DOMIAN_ABI_TYPE(domian_config_ext, validate, domian_status (*)(const char *, domian_out *));
DOMIAN_ABI_TYPE(domian_config_ext, reserved, void *[4]);

DOMIAN_ABI_TYPE(domian_safe_state_ext, struct_size, uint32_t);
DOMIAN_ABI_TYPE(domian_safe_state_ext, reserved0, uint32_t);
DOMIAN_ABI_TYPE(domian_safe_state_ext, make_safe,
                domian_status (*)(const domian_host *, const char *, domian_out *));
DOMIAN_ABI_TYPE(domian_safe_state_ext, reserved, void *[4]);

DOMIAN_ABI_TYPE(domian_host_liveness_ext, struct_size, uint32_t);
DOMIAN_ABI_TYPE(domian_host_liveness_ext, reserved0, uint32_t);
DOMIAN_ABI_TYPE(domian_host_liveness_ext, set_deadline,
                domian_status (*)(const domian_host *, uint32_t));
DOMIAN_ABI_TYPE(domian_host_liveness_ext, alive, void (*)(const domian_host *));
DOMIAN_ABI_TYPE(domian_host_liveness_ext, reserved, void *[4]);

DOMIAN_ABI_TYPE(domian_host_state_ext, struct_size, uint32_t);
DOMIAN_ABI_TYPE(domian_host_state_ext, reserved0, uint32_t);
DOMIAN_ABI_TYPE(domian_host_state_ext, mark_dirty, void (*)(const domian_host *));
DOMIAN_ABI_TYPE(domian_host_state_ext, save_now, domian_status (*)(const domian_host *));
DOMIAN_ABI_TYPE(domian_host_state_ext, reserved, void *[4]);

DOMIAN_ABI_TYPE(domian_host_entities_ext, struct_size, uint32_t);
DOMIAN_ABI_TYPE(domian_host_entities_ext, reserved0, uint32_t);
DOMIAN_ABI_TYPE(domian_host_entities_ext, publish_state,
                domian_status (*)(const domian_host *, const char *, const char *,
                                  const uint8_t *, size_t));
DOMIAN_ABI_TYPE(domian_host_entities_ext, changed, void (*)(const domian_host *));
DOMIAN_ABI_TYPE(domian_host_entities_ext, reserved, void *[4]);

static_assert(std::is_standard_layout<domian_host>::value &&
                  std::is_trivially_copyable<domian_host>::value &&
                  std::is_standard_layout<domian_plugin_descriptor>::value &&
                  std::is_trivially_copyable<domian_plugin_descriptor>::value,
              "plugin ABI: structs must stay plain C");
#endif /* __cplusplus */

#endif /* DOMIAN_ABI_LAYOUT_H */
