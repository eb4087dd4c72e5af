# Build switches shared by every target, in one interface library
# (domian_options) so warnings and sanitizers are applied the same way
# everywhere and generated code can opt out of the strict set.

option(DOMIAN_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(DOMIAN_WERROR "Treat compiler warnings as errors" OFF)

# ccache (scripts/deps installs it) makes a rebuild after switching
# branches, or of a second checkout, cost seconds instead of minutes; a
# one-off build (CI's) is no slower for it.
find_program(DOMIAN_CCACHE ccache)
if(DOMIAN_CCACHE AND NOT DEFINED CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_C_COMPILER_LAUNCHER ${DOMIAN_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${DOMIAN_CCACHE})
endif()

add_library(domian_options INTERFACE)
target_compile_options(domian_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wno-missing-field-initializers  # designated initialisers leave the rest defaulted
  -Wcast-align -Wunused -Woverloaded-virtual -Wconversion -Wsign-conversion
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(DOMIAN_WERROR)
  target_compile_options(domian_options INTERFACE -Werror)
endif()

# Symbols stay hidden unless a target exports them on purpose (the plugin
# entry point is the only one that should).
set(CMAKE_CXX_VISIBILITY_PRESET hidden)
set(CMAKE_C_VISIBILITY_PRESET hidden)
set(CMAKE_VISIBILITY_INLINES_HIDDEN ON)

if(DOMIAN_SANITIZE)
  # Applied globally so every object, generated code included, agrees on
  # the instrumented ABI.
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
