// Status and Result<T>: how every fallible evbus call reports failure.
//
// No exception crosses the public API. A call that can fail returns a Status
// (or a Result<T> holding either a value or a non-OK Status). An OK Status
// holds no allocation, so returning one is as cheap as returning an int.
// Error messages name the bad field or value, e.g.
//   InvalidArgument: subscriber.retry.max_attempts: 0 is out of range [1, 1000]
//
// Asynchronous failures (publish completions, handler failures that exhaust
// their retries, dead-letter publish failures, transport errors) reach the user
// as a Status passed to a callback: see PublishCallback and ErrorCallback in
// event_bus.h.
//
// Thread safety: Status and Result are values; distinct objects may be used
// from different threads without synchronisation.

#ifndef EVBUS_STATUS_H_
#define EVBUS_STATUS_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "evbus/export.h"

namespace evbus {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,     // a caller-supplied value is malformed or out of range
  kNotFound,            // a topic, group, stream or file does not exist
  kAlreadyExists,       // e.g. a second handler for one topic
  kFailedPrecondition,  // call not valid in the bus's current state (e.g. subscribe after close)
  kQueueFull,           // bounded queue stayed full for the whole timeout; retriable
  kTimeout,             // a deadline passed before the operation completed; retriable
  kUnavailable,         // broker unreachable or connection lost; retriable
  kClosed,              // the bus is closing or closed
  kCancelled,           // work cancelled by close(); will be redelivered
  kWouldDeadlock,       // e.g. close() called from one of the bus's own handler threads
  kPoison,              // a record that cannot be decoded as an Envelope
  kHandlerFailed,       // the user handler returned an error or threw
  kNotImplemented,      // feature declared but not built in this version
  kInternal,            // a bug in evbus or a client library; please report it
  kPermanent,           // a handler's failure that no retry can fix: dead-lettered at once
};

// Returns the name of `code` without the leading 'k', e.g. "InvalidArgument".
EVBUS_EXPORT std::string_view ErrorCodeName(ErrorCode code);

class [[nodiscard]] EVBUS_EXPORT Status {
 public:
  // An OK status.
  Status() noexcept = default;
  Status(ErrorCode code, std::string message);

  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status Ok() { return Status(); }

  bool ok() const { return state_ == nullptr; }
  ErrorCode code() const { return state_ ? state_->code : ErrorCode::kOk; }
  // The message without the code prefix; empty for OK.
  const std::string& message() const;
  // True for errors worth retrying unchanged (queue full, timeout, unavailable).
  bool retriable() const;
  // "OK", or "<CodeName>: <message>".
  std::string ToString() const;

 private:
  struct State {
    ErrorCode code;
    std::string message;
  };
  std::unique_ptr<State> state_;  // null means OK
};

inline Status InvalidArgument(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {ErrorCode::kFailedPrecondition, std::move(m)};
}
inline Status Closed(std::string m) { return {ErrorCode::kClosed, std::move(m)}; }
inline Status Internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }
// For handlers: the message can never be handled (e.g. it breaks a business
// rule); it is dead-lettered at once with `m` as its X-Error, without retries.
inline Status Permanent(std::string m) { return {ErrorCode::kPermanent, std::move(m)}; }

// Either a T or a non-OK Status. Constructing a Result from an OK Status is a
// bug and yields an Internal error instead.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    if (std::get<Status>(v_).ok()) v_ = Internal("Result constructed from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // OK when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace evbus

#endif  // EVBUS_STATUS_H_
