#pragma once

#include <base/error.hpp>
#include <tz/zone.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tz {

// A POSIX TZ rule as found in the footer of a TZif file ("EST5EDT,M3.2.0,M11.1.0",
// "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", "IST-1GMT0,M10.5.0,M3.5.0/1"), which gives the
// zone's offsets after the last transition the file lists.
class PosixRule {
public:
  static base::Result<PosixRule> parse(std::string_view text);

  // The transitions of `year` (none for a rule without DST), in time order.
  std::vector<Transition> transitions_in(int year) const;

  std::int32_t std_offset() const { return std_offset_; }
  const std::string& std_abbrev() const { return std_abbrev_; }

private:
  struct When {
    enum class Kind { julian_1, julian_0, month_week_day } kind = Kind::month_week_day;
    int day = 0; // Jn: 1..365, n: 0..365, Mm.w.d: d (0 = Sunday)
    int month = 0;
    int week = 0;             // 1..5, 5 = last
    std::int32_t time = 7200; // local seconds after midnight, may be negative or past 24h
  };
  std::int64_t local_day_of(const When& w, int year) const;

  std::string std_abbrev_;
  std::string dst_abbrev_;
  std::int32_t std_offset_ = 0; // seconds east of UTC
  std::int32_t dst_offset_ = 0;
  bool has_dst_ = false;
  When start_;
  When end_;
};

} // namespace tz
