// The evbus version: the one place to bump it (CMakeLists.txt reads it from
// here). Semantic versioning; before 1.0 a minor release may change the API.

#ifndef EVBUS_VERSION_H_
#define EVBUS_VERSION_H_

#define EVBUS_VERSION_MAJOR 0
#define EVBUS_VERSION_MINOR 1
#define EVBUS_VERSION_PATCH 0
#define EVBUS_VERSION_STRING "0.1.0"

// EVBUS_VERSION_AT_LEAST(0, 2, 0) is true from version 0.2.0 on.
#define EVBUS_VERSION_AT_LEAST(major, minor, patch) \
  (EVBUS_VERSION_MAJOR > (major) ||                 \
   (EVBUS_VERSION_MAJOR == (major) &&               \
    (EVBUS_VERSION_MINOR > (minor) ||               \
     (EVBUS_VERSION_MINOR == (minor) && EVBUS_VERSION_PATCH >= (patch)))))

#endif  // EVBUS_VERSION_H_
