// EVBUS_EXPORT marks the public API. A shared libevbus is built with hidden
// symbol visibility, so only what is marked here is exported; everything in
// src/ stays internal. A static build needs no marking (EVBUS_EXPORT is empty).
//
// EVBUS_SHARED_LIBRARY is defined for users of a shared libevbus (the CMake
// target and the pkg-config file set it); EVBUS_COMPILE_LIBRARY only while
// evbus itself is compiled.

#ifndef EVBUS_EXPORT_H_
#define EVBUS_EXPORT_H_

#if !defined(EVBUS_EXPORT)

#if defined(EVBUS_SHARED_LIBRARY)
#if defined(_WIN32)
#if defined(EVBUS_COMPILE_LIBRARY)
#define EVBUS_EXPORT __declspec(dllexport)
#else
#define EVBUS_EXPORT __declspec(dllimport)
#endif
#else
#define EVBUS_EXPORT [[gnu::visibility("default")]]
#endif
#else
#define EVBUS_EXPORT
#endif

#endif  // !defined(EVBUS_EXPORT)

#endif  // EVBUS_EXPORT_H_
