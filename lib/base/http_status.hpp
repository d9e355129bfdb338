#pragma once

#include <base/error.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace base {

// Which HTTP statuses count as success: "2xx", "200-299", "204", or several ("200", "3xx").
struct StatusSet {
  std::vector<std::pair<long, long>> ranges; // inclusive bounds

  // Whether `status` falls in one of the ranges.
  bool contains(long status) const;
  // The set as it is written back: "2xx", "200-250", "204", several joined by ", ".
  std::string text() const;
};

// A status code of three digits, 100 to 599 ("204"); nothing for anything else.
std::optional<long> parse_status_code(std::string_view s);

// Parses expect_status items ("2xx", "200-299", "204"; an item may also hold several separated
// by commas). Empty: 2xx. Error: "expect_status: \"2x\" is not a status, a class like 2xx or a
// range like 200-299".
Result<StatusSet> parse_status_set(const std::vector<std::string>& items);

} // namespace base
