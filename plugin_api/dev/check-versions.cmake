# Checks that the CMake package DomianPlugin and domian-plugin.pc carry
# the plugin ABI's version, not domian's, so that a product release never
# turns a plugin's find_package(DomianPlugin 1.0) away.
#
#   cmake -DABI=1.0 -DVERSION_FILE=<DomianPluginConfigVersion.cmake>
#         -DPC_FILE=<domian-plugin.pc> -P check-versions.cmake
cmake_minimum_required(VERSION 3.25)

foreach(variable ABI VERSION_FILE PC_FILE)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "check-versions: -D${variable}=... is required")
  endif()
endforeach()
string(REGEX MATCH "^([0-9]+)\\.([0-9]+)$" matched "${ABI}")
if(NOT matched)
  message(FATAL_ERROR "check-versions: ABI '${ABI}' is not MAJOR.MINOR")
endif()
set(major ${CMAKE_MATCH_1})
set(minor ${CMAKE_MATCH_2})
math(EXPR next_major "${major} + 1")
math(EXPR next_minor "${minor} + 1")

# What find_package(DomianPlugin <request>) decides, as it would decide it.
function(answer request result)
  string(REPLACE "." ";" parts "${request}")
  list(GET parts 0 PACKAGE_FIND_VERSION_MAJOR)
  list(GET parts 1 PACKAGE_FIND_VERSION_MINOR)
  set(PACKAGE_FIND_VERSION "${request}")
  set(PACKAGE_FIND_VERSION_COUNT 2)
  unset(PACKAGE_VERSION_COMPATIBLE)
  include("${VERSION_FILE}")
  set(${result} "${PACKAGE_VERSION_COMPATIBLE}" PARENT_SCOPE)
endfunction()

set(failures "")
set(accepted "${major}.0" "${ABI}")
list(REMOVE_DUPLICATES accepted)
foreach(request IN LISTS accepted)
  answer("${request}" compatible)
  if(NOT compatible)
    string(APPEND failures "\n  find_package(DomianPlugin ${request}) is refused")
  endif()
endforeach()
# 0.1 was domian's own version, which the package used to carry.
foreach(request "0.1" "${major}.${next_minor}" "${next_major}.0")
  answer("${request}" compatible)
  if(compatible)
    string(APPEND failures "\n  find_package(DomianPlugin ${request}) is accepted")
  endif()
endforeach()

file(STRINGS "${PC_FILE}" pc_version REGEX "^Version: ")
if(NOT pc_version STREQUAL "Version: ${ABI}")
  string(APPEND failures "\n  ${PC_FILE} says '${pc_version}'")
endif()

if(failures)
  message(FATAL_ERROR "check-versions: the plugin ABI is ${ABI}, but:${failures}")
endif()
message(STATUS "check-versions: ok: DomianPlugin and domian-plugin.pc are version ${ABI}")
