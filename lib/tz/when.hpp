#pragma once

#include <base/error.hpp>
#include <tz/zone.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace tz {

// What a bare duration ("2h") means where a time is expected: nothing (refused), that long
// ago (history --since), or that long from now (pause --until).
enum class BareDuration { refused, ago, ahead };

// Reads a time as the time arguments of jobsctl and jobsd take it, `now` and the result being
// UTC seconds and clock times those of `zone`:
//   2026-12-01T09:00, 2026-12-01 (ISO 8601, as parse_time reads it; with Z or an offset, else
//     in `zone`)
//   now
//   in 5m, 2h ago (durations as base::parse_duration reads them)
//   09:40, 09:40:30: the next time the clocks show it (today's if it is still to come, else
//     tomorrow's)
//   today 18:00, tomorrow 03:00, yesterday 12:00; today, tomorrow, yesterday alone: the start
//     (00:00) of that day
//   2h: as `bare` says.
// A clock time that a DST change skips (02:30 on a spring-forward night) means the instant the
// clocks jump to (03:00 the new offset), as parse_time; one that a DST change repeats means
// the earlier instant, except for a bare clock time when the earlier has passed and the later
// is still to come (the next time the clocks show it). Anything else is an error whose message
// lists the valid forms.
base::Result<std::int64_t> parse_when(std::string_view text, std::int64_t now, const Zone& zone,
                                      BareDuration bare = BareDuration::refused);

// The forms parse_when takes, for messages and help: "2026-12-01T09:00 (with Z or an offset,
// else in ZONE), now, in 5m, 2h ago, 09:40 (the next one), today 18:00, tomorrow 03:00,
// yesterday (00:00), ...".
std::string when_forms(const Zone& zone, BareDuration bare = BareDuration::refused);

} // namespace tz
