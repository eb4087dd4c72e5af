// Header check, C++: built as C++17 and as C++20 with -Wall -Wextra
// -pedantic -Werror and the project's warning set, so a change to
// <domian/plugin.h> that stops it compiling as C++ breaks the build. Its
// layout and the exact type of every field are pinned by layout.h.
#include <domian/plugin.h>
#include <domian/plugin.h>  // the include guard works

#include "layout.h"

// The declaration has C linkage and matches its function pointer type.
domian_plugin_entry_fn domian_abi_check_entry_cxx();
domian_plugin_entry_fn domian_abi_check_entry_cxx() { return &domian_plugin_entry; }
