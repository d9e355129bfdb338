#include <base/http_status.hpp>
#include <base/text.hpp>

#include <algorithm>
#include <optional>

namespace base {

namespace {

std::optional<std::pair<long, long>> parse_status_item(std::string_view s) {
  if (s.size() == 3 && s[0] >= '1' && s[0] <= '5' && (s[1] == 'x' || s[1] == 'X') &&
      (s[2] == 'x' || s[2] == 'X')) {
    long base = (s[0] - '0') * 100L;
    return std::pair{base, base + 99};
  }
  if (auto dash = s.find('-'); dash != std::string_view::npos) {
    auto lo = parse_status_code(trim(s.substr(0, dash)));
    auto hi = parse_status_code(trim(s.substr(dash + 1)));
    if (!lo || !hi || *lo > *hi) {
      return std::nullopt;
    }
    return std::pair{*lo, *hi};
  }
  if (auto v = parse_status_code(s)) {
    return std::pair{*v, *v};
  }
  return std::nullopt;
}

} // namespace

std::optional<long> parse_status_code(std::string_view s) {
  if (s.size() != 3 || !all_digits(s)) {
    return std::nullopt;
  }
  long v = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
  if (v < 100 || v > 599) {
    return std::nullopt;
  }
  return v;
}

bool StatusSet::contains(long status) const {
  return std::any_of(ranges.begin(), ranges.end(),
                     [&](const auto& r) { return status >= r.first && status <= r.second; });
}

std::string StatusSet::text() const {
  std::string out;
  for (const auto& [lo, hi] : ranges) {
    if (!out.empty()) {
      out += ", ";
    }
    if (lo == hi) {
      out += std::to_string(lo);
    } else if (lo % 100 == 0 && hi == lo + 99) {
      out += std::to_string(lo / 100) + "xx";
    } else {
      out += std::to_string(lo) + "-" + std::to_string(hi);
    }
  }
  return out;
}

Result<StatusSet> parse_status_set(const std::vector<std::string>& items) {
  StatusSet set;
  for (const auto& item : items) {
    std::string_view rest = item;
    while (true) {
      auto comma = rest.find(',');
      std::string_view part = trim(rest.substr(0, comma));
      auto range = parse_status_item(part);
      if (!range) {
        Error e;
        e.message = "expect_status: " + quoted(part) +
                    " is not a status, a class like 2xx or a range like 200-299";
        return e;
      }
      set.ranges.push_back(*range);
      if (comma == std::string_view::npos) {
        break;
      }
      rest = rest.substr(comma + 1);
    }
  }
  if (set.ranges.empty()) {
    set.ranges.emplace_back(200, 299);
  }
  return set;
}

} // namespace base
