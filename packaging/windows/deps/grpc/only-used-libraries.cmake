# Included by gRPC's CMakeLists.txt after its project() (CMAKE_PROJECT_INCLUDE,
# set by build-deps.sh). The agent links grpc++ and what it needs, so the
# libraries below are neither built by default nor installed: the insecure
# twins, ALTS, reflection, channelz, error details, and the code generators'
# support library (the host's grpc_cpp_plugin generates the code).
# grpc_unsecure alone is as large as grpc; together they were about a third
# of the stack's cold build. gRPC 1.51 has no option for this; overriding
# add_library and install here changes no source file.
set(MAMORI_GRPC_UNUSED
  grpc_unsecure grpc++_unsecure grpc++_alts grpc++_error_details grpc++_reflection
  grpcpp_channelz grpc_plugin_support)

function(add_library name)
  _add_library(${name} ${ARGN})
  if(name IN_LIST MAMORI_GRPC_UNUSED)
    set_target_properties(${name} PROPERTIES EXCLUDE_FROM_ALL ON)
  endif()
endfunction()

function(install)
  if(ARGC GREATER 1 AND ARGV0 STREQUAL "TARGETS" AND ARGV1 IN_LIST MAMORI_GRPC_UNUSED)
    return()
  endif()
  _install(${ARGN})
endfunction()
