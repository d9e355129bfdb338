#include <base/error.hpp>

namespace base {

std::string Error::render(std::string_view severity) const {
  return place() + std::string(severity) + ": " + detail();
}

std::string Error::place() const {
  std::string out;
  if (!location.path.empty()) {
    out += location.path + ":";
  }
  if (location.line > 0) {
    out += std::to_string(location.line) + ":";
  }
  if (location.column > 0 && (location.line > 0 || !location.path.empty())) {
    out += std::to_string(location.column) + ":";
  }
  out += out.empty() ? "" : " ";
  return out;
}

std::string Error::detail() const {
  std::string out = message;
  if (!source_line.empty() && location.column > 0) {
    out += "\n  " + source_line + "\n  ";
    out += std::string(static_cast<size_t>(location.column - 1), ' ');
    out += "^";
    if (length > 1) {
      out += std::string(static_cast<size_t>(length - 1), '~');
    }
  }
  return out;
}

} // namespace base
