#include "evbus/status.h"

#include "evbus/record.h"

namespace evbus {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "OK";
    case ErrorCode::kInvalidArgument:
      return "InvalidArgument";
    case ErrorCode::kNotFound:
      return "NotFound";
    case ErrorCode::kAlreadyExists:
      return "AlreadyExists";
    case ErrorCode::kFailedPrecondition:
      return "FailedPrecondition";
    case ErrorCode::kQueueFull:
      return "QueueFull";
    case ErrorCode::kTimeout:
      return "Timeout";
    case ErrorCode::kUnavailable:
      return "Unavailable";
    case ErrorCode::kClosed:
      return "Closed";
    case ErrorCode::kCancelled:
      return "Cancelled";
    case ErrorCode::kWouldDeadlock:
      return "WouldDeadlock";
    case ErrorCode::kPoison:
      return "Poison";
    case ErrorCode::kHandlerFailed:
      return "HandlerFailed";
    case ErrorCode::kNotImplemented:
      return "NotImplemented";
    case ErrorCode::kInternal:
      return "Internal";
    case ErrorCode::kPermanent:
      return "Permanent";
  }
  return "Unknown";
}

Status::Status(ErrorCode code, std::string message) {
  if (code != ErrorCode::kOk) state_ = std::make_unique<State>(State{code, std::move(message)});
}

Status::Status(const Status& other)
    : state_(other.state_ ? std::make_unique<State>(*other.state_) : nullptr) {}

Status& Status::operator=(const Status& other) {
  if (this != &other) state_ = other.state_ ? std::make_unique<State>(*other.state_) : nullptr;
  return *this;
}

const std::string& Status::message() const {
  static const std::string kEmpty;
  return state_ ? state_->message : kEmpty;
}

bool Status::retriable() const {
  switch (code()) {
    case ErrorCode::kQueueFull:
    case ErrorCode::kTimeout:
    case ErrorCode::kUnavailable:
      return true;
    default:
      return false;
  }
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(ErrorCodeName(state_->code));
  out += ": ";
  out += state_->message;
  return out;
}

std::optional<std::string_view> FindHeader(const Headers& headers, std::string_view key) {
  for (const Header& h : headers) {
    if (h.key == key) return std::string_view(h.value);
  }
  return std::nullopt;
}

}  // namespace evbus
