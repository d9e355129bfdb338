#include <base/size.hpp>
#include <base/text.hpp>

#include <limits>
#include <utility>

namespace base {

namespace {

constexpr std::pair<std::string_view, int> units[] = {{"", 0},   {"b", 0},   {"k", 10}, {"kb", 10},
                                                      {"m", 20}, {"mb", 20}, {"g", 30}, {"gb", 30},
                                                      {"t", 40}, {"tb", 40}};

Error size_error(std::string_view text, size_t pos, std::string message) {
  Error e;
  e.message = "invalid size \"" + std::string(text) + "\": " + std::move(message) +
              " (valid: 4096, 512K, 1M, 2G)";
  e.location.column = static_cast<int>(pos) + 1;
  return e;
}

} // namespace

Result<std::int64_t> parse_size(std::string_view text) {
  if (text.empty()) {
    return size_error(text, 0, "empty");
  }
  constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
  std::int64_t number = 0;
  size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (number > (max - 9) / 10) {
      return size_error(text, 0, "too large");
    }
    number = number * 10 + (text[i] - '0');
  }
  if (i == 0) {
    return size_error(text, 0, "expected a number");
  }
  const std::string unit = to_lower(text.substr(i));
  for (auto [name, shift] : units) {
    if (unit == name) {
      if (number > (max >> shift)) {
        return size_error(text, 0, "too large");
      }
      return number << shift;
    }
  }
  return size_error(text, i, "unknown unit \"" + std::string(text.substr(i)) + "\"");
}

std::string format_size(std::int64_t bytes) {
  constexpr std::pair<int, char> steps[] = {{40, 'T'}, {30, 'G'}, {20, 'M'}, {10, 'K'}};
  for (auto [shift, name] : steps) {
    const std::int64_t unit = std::int64_t{1} << shift;
    if (bytes != 0 && bytes % unit == 0) {
      return std::to_string(bytes / unit) + name;
    }
  }
  return std::to_string(bytes);
}

} // namespace base
