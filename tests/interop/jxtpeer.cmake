# Builds the Go jxt-core peer (tests/interop/jxtpeer) with the machine's Go
# toolchain; its modules (sarama, nats.go) come from the Go module proxy,
# pinned by go.mod and go.sum. Without Go the interop tests are still built
# and fail, saying what to install: they never skip silently.
find_program(EVBUS_GO go PATHS /usr/local/go/bin DOC "Go toolchain (>= 1.26) for the jxt-core peer")
set(jxtpeer_dir ${CMAKE_CURRENT_SOURCE_DIR}/interop/jxtpeer)
set(jxtpeer_bin ${CMAKE_CURRENT_BINARY_DIR}/interop/jxtpeer)
if(EVBUS_GO)
  file(GLOB jxtpeer_sources CONFIGURE_DEPENDS ${jxtpeer_dir}/*.go)
  add_custom_command(
    OUTPUT ${jxtpeer_bin}
    COMMAND ${CMAKE_COMMAND} -E env GOFLAGS=-mod=readonly ${EVBUS_GO} build -trimpath -o ${jxtpeer_bin} .
    WORKING_DIRECTORY ${jxtpeer_dir}
    DEPENDS ${jxtpeer_sources} ${jxtpeer_dir}/go.mod ${jxtpeer_dir}/go.sum
    COMMENT "Building the Go jxt-core peer (tests/interop/jxtpeer)"
    VERBATIM)
  add_custom_target(jxtpeer DEPENDS ${jxtpeer_bin})
  add_dependencies(evbus_tests jxtpeer)
  # The peer's own unit tests: its envelope generations against fixed bytes.
  add_test(NAME interop.jxtpeer_unit COMMAND ${CMAKE_COMMAND} -E env GOFLAGS=-mod=readonly ${EVBUS_GO} test -count=1 .
           WORKING_DIRECTORY ${jxtpeer_dir})
  target_compile_definitions(evbus_tests PRIVATE EVBUS_JXTPEER_PATH="${jxtpeer_bin}")
else()
  message(WARNING "No Go toolchain found: the jxt-core interop tests will fail. Install Go >= 1.26 "
                  "or pass -DEVBUS_GO=/path/to/go")
  target_compile_definitions(evbus_tests PRIVATE EVBUS_JXTPEER_PATH="")
endif()
