# prometheus-cpp for a cross build on Debian 12 (scripts/package, arm64).
# prometheus-cpp-dev is Multi-Arch: same, but it depends on `civetweb`
# (the server binary, not Multi-Arch), so its arm64 build would replace
# the build machine's civetweb and the amd64 prometheus-cpp-dev with it.
# domian links only prometheus-cpp::core: its headers are the same on
# every architecture (the amd64 package's), and the library is the
# target's runtime package (libprometheus-cpp-core1.0:arm64), which is
# co-installable. Same target name as prometheus-cpp's own config.
find_library(DOMIAN_CROSS_PROMETHEUS_CORE_LIBRARY NAMES libprometheus-cpp-core.so.1.0 REQUIRED)
find_path(DOMIAN_CROSS_PROMETHEUS_INCLUDE prometheus/registry.h REQUIRED
          PATHS /usr/include NO_CMAKE_FIND_ROOT_PATH)
if(NOT TARGET prometheus-cpp::core)
  add_library(prometheus-cpp::core SHARED IMPORTED)
  set_target_properties(prometheus-cpp::core PROPERTIES
    IMPORTED_LOCATION "${DOMIAN_CROSS_PROMETHEUS_CORE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${DOMIAN_CROSS_PROMETHEUS_INCLUDE}")
endif()
set(prometheus-cpp_FOUND TRUE)
