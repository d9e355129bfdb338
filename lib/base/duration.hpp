#pragma once

#include <base/error.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace base {

// Parses a duration: integer seconds ("90") or units in decreasing order, each at most once
// ("90s", "15m", "1h30m", "2d", "1d12h"). Units: d, h, m, s. Errors carry the column (1-based)
// of the offending character in location.column.
Result<std::int64_t> parse_duration(std::string_view text);

// Formats seconds in the shortest unit form that parse_duration reads back ("1h30m", "0s").
std::string format_duration(std::int64_t seconds);

} // namespace base
