/*
 * Header check, C: built as C99 and as C11 with -Wall -Wextra -pedantic
 * -Werror (plus the warnings plugin authors commonly add), so a change to
 * <domian/plugin.h> that stops it compiling as C breaks the build. Its
 * layout is pinned by layout.h (negative-array asserts in C99,
 * _Static_assert in C11).
 */
#include <domian/plugin.h>
#include <domian/plugin.h> /* the include guard works */

#include "layout.h"

/* The entry point's declaration matches its function pointer type. */
domian_plugin_entry_fn domian_abi_check_entry_c(void);
domian_plugin_entry_fn domian_abi_check_entry_c(void) { return &domian_plugin_entry; }
