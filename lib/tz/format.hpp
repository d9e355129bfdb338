#pragma once

#include <base/error.hpp>
#include <tz/zone.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace tz {

// "2025-03-09T07:00:00Z"
std::string format_utc(std::int64_t utc);

// "+05:30", "-04:00", "+00:00"
std::string format_offset(std::int32_t offset);

// "2025-03-09T03:00:00-04:00": the instant as the zone's clocks show it, with the offset.
std::string format_local(std::int64_t utc, const Zone& zone);

// "2025-03-09 03:00:00", from local seconds.
std::string format_civil(std::int64_t local);

// "Sun": the weekday of local seconds.
std::string_view weekday_name(std::int64_t local);

// Reads an ISO 8601 time: "2025-03-08T12:00:00Z", "2025-03-08T12:00Z", "2025-03-08 12:00+01:00",
// fractions of a second dropped. Without "Z" or an offset ("2025-03-08T12:00", "2025-03-08")
// the time is local to `zone`: in a DST gap it means the first instant after the gap, in an
// overlap the earlier instant.
base::Result<std::int64_t> parse_time(std::string_view text, const Zone& zone);

} // namespace tz
