// middleware::Recoverer: an exception from the handler becomes a failed
// attempt that names the exception's type.

#include <cxxabi.h>

#include <cstdlib>
#include <exception>
#include <memory>
#include <typeinfo>

#include "evbus/middleware.h"

namespace evbus::middleware {
namespace {

// The demangled type of the exception being handled.
// REQUIRES: called inside a catch block.
std::string CurrentExceptionType() {
  const std::type_info* type = abi::__cxa_current_exception_type();
  if (type == nullptr) return "an unknown exception";
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(type->name(), nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(type->name());
}

}  // namespace

Middleware Recoverer(ExceptionCallback on_exception) {
  return [on_exception = std::move(on_exception)](MessageHandler next) -> MessageHandler {
    return [next = std::move(next), on_exception](const Message& m) {
      std::string what;
      try {
        return next(m);
      } catch (const std::exception& e) {
        what = "handler threw " + CurrentExceptionType() + ": " + e.what();
      } catch (...) {
        what = "handler threw " + CurrentExceptionType();
      }
      Status failure(ErrorCode::kHandlerFailed, std::move(what));
      if (on_exception) on_exception(m, failure);  // outside the catch: it may throw too
      return failure;
    };
  };
}

}  // namespace evbus::middleware
