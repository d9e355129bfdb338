#pragma once

#include <base/error.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace base {

// Parses a size: integer bytes ("4096") or a whole number with a binary unit ("512K", "1M",
// "2G", "1T"; K = 1024). Units are case-insensitive and may end in B ("512KB", "100b"). Errors
// carry the column (1-based) of the offending character in location.column.
Result<std::int64_t> parse_size(std::string_view text);

// Formats bytes in the largest unit that divides them exactly, which parse_size reads back
// ("4K", "10M", "1536").
std::string format_size(std::int64_t bytes);

} // namespace base
