#include <base/duration.hpp>

#include <limits>

namespace base {

namespace {

Error duration_error(std::string_view text, size_t pos, std::string message) {
  Error e;
  e.message = "invalid duration \"" + std::string(text) + "\": " + std::move(message) +
              " (valid: 90, 90s, 15m, 1h30m, 2d)";
  e.location.column = static_cast<int>(pos) + 1;
  return e;
}

} // namespace

Result<std::int64_t> parse_duration(std::string_view text) {
  if (text.empty()) {
    return duration_error(text, 0, "empty");
  }
  constexpr std::string_view units = "dhms";
  constexpr std::int64_t unit_seconds[] = {86400, 3600, 60, 1};
  constexpr std::int64_t limit = std::numeric_limits<std::int64_t>::max() / 86400 / 2;
  std::int64_t total = 0;
  size_t next_unit = 0; // units must appear in decreasing order, each once
  size_t i = 0;
  while (i < text.size()) {
    const size_t start = i;
    std::int64_t number = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      number = number * 10 + (text[i] - '0');
      if (number > limit) {
        return duration_error(text, start, "too large");
      }
      ++i;
    }
    if (i == start) {
      return duration_error(text, i, "expected a number");
    }
    if (i == text.size()) {
      if (start == 0) {
        return number; // plain integer seconds
      }
      return duration_error(text, i, "missing unit after " + std::to_string(number));
    }
    const size_t unit = units.find(text[i]);
    if (unit == std::string_view::npos) {
      return duration_error(text, i, std::string("unknown unit '") + text[i] + "'");
    }
    if (unit < next_unit) {
      return duration_error(text, i, "units must go from largest to smallest, each once");
    }
    next_unit = unit + 1;
    total += number * unit_seconds[unit];
    ++i;
  }
  return total;
}

std::string format_duration(std::int64_t seconds) {
  if (seconds == 0) {
    return "0s";
  }
  std::string out;
  if (seconds < 0) {
    out = "-";
    seconds = -seconds;
  }
  constexpr std::pair<std::int64_t, char> units[] = {
      {86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  for (auto [size, name] : units) {
    if (seconds >= size) {
      out += std::to_string(seconds / size) + name;
      seconds %= size;
    }
  }
  return out;
}

} // namespace base
