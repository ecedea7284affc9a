#pragma once
// Errors as values (STYLE rule 8). Workers return Result<T>; exceptions from yaml-cpp and
// Connector/C++ are caught at the loader/admin boundary and converted into an Error there.

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sy {

// Who caused an error; this picks the response class: Downstream -> 4xx, Upstream -> 502/504,
// Internal -> 500.
enum class ErrorSource { Downstream, Upstream, Internal };

enum class Errc {
  InvalidArgument,  // a caller passed something malformed
  NotFound,         // a named thing does not exist
  Io,               // a system call failed; message carries strerror
  Timeout,          // a deadline passed
  Protocol,         // a peer broke the protocol
  Config,           // configuration is invalid
  Database,         // the database refused or is unreachable
  Unavailable,      // no healthy upstream / resource exhausted
  Internal,         // a bug or an impossible state
};

const char* to_string(Errc code);
const char* to_string(ErrorSource source);

struct Error {
  Errc code = Errc::Internal;
  ErrorSource source = ErrorSource::Internal;
  std::string message;  // short, human readable, no trailing newline
  // A stable, machine-readable code for the admin protocol ("one-way-door", "driver-busy",
  // ...; `ERR <tag>: <message>`). nullptr = use to_string(code). Always a string literal.
  const char* tag = nullptr;
};

inline Error make_error(Errc code, std::string message,
                        ErrorSource source = ErrorSource::Internal) {
  return Error{code, source, std::move(message)};
}

// An admin-layer error with a stable protocol code; |tag| must be a string literal.
inline Error make_tagged_error(Errc code, const char* tag, std::string message) {
  return Error{code, ErrorSource::Internal, std::move(message), tag};
}

// Result<T>: either a value or an Error. Result<void> is spelled Result<Unit>.
struct Unit {};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

inline Result<Unit> ok_result() { return Unit{}; }

}  // namespace sy
