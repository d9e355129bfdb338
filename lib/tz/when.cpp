#include "when.hpp"

#include <base/civil.hpp>
#include <base/duration.hpp>
#include <tz/format.hpp>

#include <algorithm>
#include <cctype>
#include <optional>
#include <vector>

namespace tz {

namespace {

constexpr std::int64_t day = 86400;

// "09:40", "9:40", "09:40:30" as seconds after midnight; nothing for anything else.
std::optional<std::int64_t> clock_of(std::string_view text) {
  std::int64_t parts[3] = {0, 0, 0};
  int count = 0;
  size_t digits = 0;
  for (const char c : text) {
    if (c >= '0' && c <= '9' && digits < 2) {
      parts[count] = parts[count] * 10 + (c - '0');
      ++digits;
    } else if (c == ':' && digits > 0 && count < 2) {
      ++count;
      digits = 0;
    } else {
      return std::nullopt;
    }
  }
  if (count == 0 || digits != 2 || parts[0] > 23 || parts[1] > 59 || parts[2] > 59) {
    return std::nullopt;
  }
  return parts[0] * 3600 + parts[1] * 60 + parts[2];
}

// The words of `text`, lowercase, split at spaces.
std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (const char c : text) {
    if (c == ' ' || c == '\t') {
      if (!word.empty()) {
        words.push_back(std::move(word));
        word.clear();
      }
    } else {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  if (!word.empty()) {
    words.push_back(std::move(word));
  }
  return words;
}

// The start of the local day `offset` days from the one `now` is in, as local seconds.
std::int64_t local_midnight(std::int64_t now, const Zone& zone, std::int64_t offset) {
  return (base::civil::floor_div(zone.to_local(now), day) + offset) * day;
}

} // namespace

std::string when_forms(const Zone& zone, BareDuration bare) {
  return "2026-12-01T09:00 (with Z or an offset, else in " + zone.name() +
         "), now, in 5m, 2h ago, 09:40 (the next one), today 18:00, tomorrow 03:00, yesterday "
         "(00:00)" +
         (bare == BareDuration::ago     ? ", 2h (ago)"
          : bare == BareDuration::ahead ? ", 2h (from now)"
                                        : "");
}

base::Result<std::int64_t> parse_when(std::string_view text, std::int64_t now, const Zone& zone,
                                      BareDuration bare) {
  const auto words = words_of(text);
  const auto invalid = [&] {
    base::Error e;
    e.message =
        "invalid time \"" + std::string(text) + "\" (valid: " + when_forms(zone, bare) + ")";
    return e;
  };
  // The years 1 to 9999, as the ISO forms can write them; a duration is bounded before it is
  // added, so that nothing overflows.
  constexpr std::int64_t earliest = -62135596800; // 0001-01-01T00:00:00Z
  constexpr std::int64_t latest = 253402300799;   // 9999-12-31T23:59:59Z
  const auto shifted = [&](std::int64_t seconds, int sign) -> base::Result<std::int64_t> {
    if (seconds > latest - earliest || now + sign * seconds < earliest ||
        now + sign * seconds > latest) {
      base::Error e;
      e.message =
          "time out of range: \"" + std::string(text) + "\" is not within the years 1 to 9999";
      return e;
    }
    return now + sign * seconds;
  };
  if (words.empty()) {
    return invalid();
  }
  if (words.size() == 1) {
    if (words[0] == "now") {
      return now;
    }
    if (const auto clock = clock_of(words[0])) {
      // The next time the clocks show it: today's first instant, today's second (an
      // overlap), tomorrow's.
      for (std::int64_t d = 0; d <= 1; ++d) {
        const auto at = zone.to_utc(local_midnight(now, zone, d) + *clock);
        for (const auto t : {at.first, at.second}) {
          if (t >= now) {
            return t;
          }
        }
      }
    }
    if (bare != BareDuration::refused) {
      if (const auto d = base::parse_duration(words[0])) {
        return shifted(*d, bare == BareDuration::ago ? -1 : 1);
      }
    }
    if (auto t = parse_time(text, zone)) {
      return t;
    }
  }
  if (words.size() == 2 && words[0] == "in") {
    if (const auto d = base::parse_duration(words[1])) {
      return shifted(*d, 1);
    }
  }
  if (words.size() == 2 && words[1] == "ago") {
    if (const auto d = base::parse_duration(words[0])) {
      return shifted(*d, -1);
    }
  }
  static constexpr std::pair<std::string_view, std::int64_t> days[] = {
      {"yesterday", -1}, {"today", 0}, {"tomorrow", 1}};
  const auto named = std::find_if(std::begin(days), std::end(days),
                                  [&](const auto& d) { return d.first == words[0]; });
  if (named != std::end(days) && words.size() <= 2) {
    const auto clock = words.size() == 2 ? clock_of(words[1]) : std::optional<std::int64_t>(0);
    if (clock) {
      return zone.to_utc(local_midnight(now, zone, named->second) + *clock).first;
    }
  }
  return invalid();
}

} // namespace tz
