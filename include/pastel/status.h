#pragma once
// Status and Result<T>: how every fallible pastel call reports failure. The data path never throws.
// An OK Status holds no heap memory; only an error carries a message (allocated on the error path).

#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace pastel {

enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument,     // the caller passed something out of range or malformed
  kNotFound,            // a file or key that does not exist
  kAlreadyExists,       // create over an existing file
  kCorruption,          // on-media bytes that fail validation and are not a torn tail
  kIoError,             // a system call failed (the errno is in the message)
  kNoSpace,             // pool or log is full
  kReadOnly,            // a persist step failed earlier: the store refuses writes from now on
  kUnsupported,         // a kernel or CPU feature is missing
  kFailedPrecondition,  // a call in the wrong state (e.g. releasing a buffer that is not held)
  kBusy,                // try again after the current batch (e.g. a batch is full)
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  // IoError with strerror(err) appended: "what: strerror (errno N)".
  static Status FromErrno(std::string_view what, int err);
  static Status NoSpace(std::string m) { return {StatusCode::kNoSpace, std::move(m)}; }
  static Status ReadOnly(std::string m) { return {StatusCode::kReadOnly, std::move(m)}; }
  static Status Unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status Busy(std::string m) { return {StatusCode::kBusy, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "Corruption: pool header checksum mismatch"
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "Result from an OK Status has no value");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace pastel

// Return early from a function returning Status or Result<T> when `expr` (a Status) is not OK.
#define PASTEL_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::pastel::Status pastel_status_ = (expr); \
    if (!pastel_status_.ok()) {               \
      return pastel_status_;                  \
    }                                         \
  } while (0)
