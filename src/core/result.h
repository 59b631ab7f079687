#pragma once
// Result<T> and Error: how failures travel on the request path and out of config parsing
// (STYLE.md §4). No exceptions cross these boundaries.

#include <string>
#include <utility>
#include <variant>

namespace apisix {

// Where a failure came from; the proxy uses it with `retryable` to choose between retrying,
// answering 502/504 and closing.
enum class ErrorSource {
  Downstream,  // the client sent something bad or went away: answer 4xx or close.
  Upstream,    // a node failed: retry if allowed, else 502/504.
  Internal,    // our bug or resource exhaustion: log, answer 500 or close.
  Config,      // configuration is invalid: refuse it, keep the previous one.
};

enum class ErrorKind {
  Invalid,   // malformed input
  NotFound,  // a referenced thing does not exist
  Timeout,   // a deadline passed
  Refused,   // connection refused / reset / closed early
  Io,        // other I/O failure
  Limit,     // a size or count limit was exceeded
  Unsupported,
};

struct Error {
  ErrorKind kind = ErrorKind::Invalid;
  ErrorSource source = ErrorSource::Internal;
  bool retryable = false;
  std::string context;  // human-readable: what failed and why; names the config key if any

  static Error config(std::string msg) {
    return Error{ErrorKind::Invalid, ErrorSource::Config, false, std::move(msg)};
  }
};

// Holds either a value or an Error. Cheap to move; check before use.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace apisix
