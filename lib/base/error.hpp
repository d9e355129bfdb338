#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace base {

// Where an error is: a file position (path may be empty for an expression given on the command
// line). Lines and columns count from 1; 0 means unknown.
struct Location {
  std::string path;
  int line = 0;
  int column = 0;
};

// An expected failure: what went wrong, where, and the source line for a caret display.
struct Error {
  std::string message;
  Location location;
  std::string source_line; // the text the column points into; empty when there is none
  int length = 1;          // how many characters the caret underlines

  // "path:line:col: error: message", then the source line and a caret under the column.
  // `severity` replaces the word "error" ("warning").
  std::string render(std::string_view severity = "error") const;
  // The start of `render`: "path:line:col: " (as much of it as is known), or nothing.
  std::string place() const;
  // The end of `render`, after the severity and its colon: the message, the source line and
  // the caret.
  std::string detail() const;
};

// A value or an Error. Library code returns these instead of throwing for expected failures.
template <typename T>
class Result {
public:
  Result(T value) : data_(std::move(value)) {}
  Result(Error error) : data_(std::move(error)) {}

  bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(data_); }

private:
  std::variant<T, Error> data_;
};

} // namespace base
