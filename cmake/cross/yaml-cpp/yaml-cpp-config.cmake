# yaml-cpp for a cross build on Debian 12 (scripts/package, arm64).
# libyaml-cpp-dev is not Multi-Arch: same, so the target architecture's
# -dev package cannot be installed beside the build machine's. Its headers
# are the same on every architecture; the library is the target's runtime
# package (libyaml-cpp0.7:arm64), which is co-installable. Same target name
# as yaml-cpp's own config.
find_library(DOMIAN_CROSS_YAML_CPP_LIBRARY NAMES libyaml-cpp.so.0.7 REQUIRED)
find_path(DOMIAN_CROSS_YAML_CPP_INCLUDE yaml-cpp/yaml.h REQUIRED
          PATHS /usr/include NO_CMAKE_FIND_ROOT_PATH)
if(NOT TARGET yaml-cpp)
  add_library(yaml-cpp SHARED IMPORTED)
  set_target_properties(yaml-cpp PROPERTIES
    IMPORTED_LOCATION "${DOMIAN_CROSS_YAML_CPP_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${DOMIAN_CROSS_YAML_CPP_INCLUDE}")
endif()
set(yaml-cpp_FOUND TRUE)
