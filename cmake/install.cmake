# cmake --install: the library, its public headers, the evbus CLI, a CMake
# package (find_package(evbus CONFIG), target evbus::evbus) and evbus.pc.
include(CMakePackageConfigHelpers)

set(EVBUS_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/evbus)

install(TARGETS evbus EXPORT evbusTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/evbus DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET evbus_cli)
  install(TARGETS evbus_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

install(EXPORT evbusTargets NAMESPACE evbus:: DESTINATION ${EVBUS_CMAKE_DIR})
# What evbusConfig.cmake must find again: a static libevbus carries its
# dependencies to the final link; a shared one only Threads.
set(EVBUS_CONFIG_SHARED ${BUILD_SHARED_LIBS})
set(EVBUS_CONFIG_KAFKA ${EVBUS_TRANSPORT_KAFKA})
set(EVBUS_CONFIG_NATS ${EVBUS_TRANSPORT_NATS})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/evbusConfig.cmake.in
  ${PROJECT_BINARY_DIR}/evbusConfig.cmake INSTALL_DESTINATION ${EVBUS_CMAKE_DIR})
# Before 1.0 a minor release may break the API: only the same minor matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/evbusConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/evbusConfig.cmake ${PROJECT_BINARY_DIR}/evbusConfigVersion.cmake
  DESTINATION ${EVBUS_CMAKE_DIR})

# evbus.pc locates itself (${pcfiledir}), so `cmake --install --prefix DIR`
# works for any DIR chosen at install time.
file(RELATIVE_PATH EVBUS_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" EVBUS_PC_TO_PREFIX "${EVBUS_PC_TO_PREFIX}")
# A static libevbus needs its dependencies on every link: they are Requires,
# so that plain `pkg-config --libs evbus` links them (shared, as Debian ships
# them; --static would ask for static archives of their own dependencies too).
string(REPLACE ";" " " EVBUS_PC_REQUIRES_LIST "${EVBUS_PC_REQUIRES}")
if(BUILD_SHARED_LIBS)
  set(EVBUS_PC_REQUIRES_FIELD Requires.private)
  set(EVBUS_PC_CFLAGS " -DEVBUS_SHARED_LIBRARY")
else()
  set(EVBUS_PC_REQUIRES_FIELD Requires)
  set(EVBUS_PC_CFLAGS "")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/evbus.pc.in ${PROJECT_BINARY_DIR}/evbus.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/evbus.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
