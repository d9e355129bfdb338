#pragma once

#include <base/error.hpp>
#include <tz/zone.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cron {

using Instant = std::chrono::sys_seconds;

// What a schedule does with a fixed-time fire whose local time falls in a DST gap.
enum class DstGap : std::uint8_t {
  shift, // fire once, at the first instant after the gap (default, as cronie)
  skip,  // do not fire (as systemd timers and Kubernetes CronJobs)
};

struct ParseOptions {
  const tz::Zone* zone = nullptr; // zone unless the text has a CRON_TZ=/TZ= prefix; null: UTC
  std::string_view seed;          // seeds H (the job id)
  DstGap dst_gap = DstGap::shift;
};

// One fire of a schedule.
struct Fire {
  Instant time;
  // When a DST gap moved this fire: the first matching local time inside the gap (local
  // seconds, see tz/zone.hpp); otherwise nullopt.
  std::optional<std::int64_t> shifted_from;
};

// How far next() and prev() search: the Gregorian calendar repeats every 400 years, so a
// schedule that fires at all fires within any 400-year window. Nothing is found past 9999.
inline constexpr int horizon_years = 401;

// A parsed schedule: the cron grammar of man/jobs.5 (5 or 6 fields, names, ranges, lists,
// steps, L, W, LW, #, ?, H, macros, @every, @reboot, CRON_TZ= prefix) bound to a time zone.
// Plain data, no heap, at most 64 bytes; cheap to copy.
class Schedule {
public:
  // Parses `text`. Errors name the field and point at the character
  // ("field 2 (hour): 24 is out of range 0-23", location.column into `text`). A schedule that
  // can never fire ("0 0 30 2 *") is an error too.
  static base::Result<Schedule> parse(std::string_view text, const ParseOptions& options = {});

  // The first fire strictly after `after`, following the DST rules of man/jobs.5; nullopt for
  // @reboot or when nothing fires within horizon_years.
  std::optional<Fire> next_fire(Instant after) const;
  std::optional<Instant> next(Instant after) const;
  // The last fire strictly before `before`.
  std::optional<Fire> prev_fire(Instant before) const;
  std::optional<Instant> prev(Instant before) const;

  // Canonical text that parses back to an equal schedule ("*/15 9-17 * * 1-5").
  std::string to_string() const;

  // Whether the fields match a civil time (local seconds), ignoring DST rules.
  bool matches_local(std::int64_t local) const;

  // Interval schedules (minute or hour field beginning with '*', and @every) follow real time
  // across DST changes; all others are fixed-time.
  bool is_interval() const { return every_ > 0 || (flags_ & (star_minute | star_hour)) != 0; }
  bool is_reboot() const { return (flags_ & reboot) != 0; }
  // @every: the period in seconds; 0 for cron schedules.
  std::int64_t every() const { return every_; }
  DstGap dst_gap() const { return (flags_ & gap_skip) ? DstGap::skip : DstGap::shift; }
  const tz::Zone& zone() const { return *zone_; }

  bool operator==(const Schedule&) const = default;

private:
  friend class Parser;
  Schedule() = default;

  enum Flag : std::uint16_t {
    star_second = 1 << 0, // a field's text begins with '*' (or '?')
    star_minute = 1 << 1,
    star_hour = 1 << 2,
    star_dom = 1 << 3,
    star_month = 1 << 4,
    star_dow = 1 << 5,
    reboot = 1 << 6,
    zone_prefix = 1 << 7, // the zone came from a CRON_TZ=/TZ= prefix
    gap_skip = 1 << 8,
  };

  // The days of month (bit d for day d) of a month with `days` days starting on weekday
  // `first_weekday` (0 = Sunday) that the day-of-month and day-of-week fields accept.
  std::uint32_t day_mask(unsigned days, unsigned first_weekday) const;
  std::uint32_t day_mask(int year, unsigned month) const;
  // Civil-time searches: the first matching local time in [from, limit], the last in
  // [limit, from].
  std::optional<std::int64_t> next_local(std::int64_t from, std::int64_t limit) const;
  std::optional<std::int64_t> prev_local(std::int64_t from, std::int64_t limit) const;
  bool fires_ever() const;

  std::uint64_t seconds_ = 0;     // bits 0-59
  std::uint64_t minutes_ = 0;     // bits 0-59
  std::uint64_t dow_special_ = 0; // bit 5*w+(n-1): n-th weekday w (w#n); bit 35+w: last w (wL)
  std::int64_t every_ = 0;        // @every period in seconds (anchored at the Unix epoch)
  const tz::Zone* zone_ = nullptr;
  std::uint32_t hours_ = 0;       // bits 0-23
  std::uint32_t dom_ = 0;         // bits 1-31; bit 0: L (last day of month)
  std::uint32_t dom_weekday_ = 0; // bits 1-31: nW (nearest weekday); bit 0: LW
  std::uint16_t months_ = 0;      // bits 1-12
  std::uint16_t flags_ = 0;
  std::uint8_t dow_ = 0; // bits 0-6, 0 = Sunday
};

// Why DST moved or doubled `fire` of `schedule` (man/jobs.5, DAYLIGHT SAVING TIME): "DST gap:
// 02:30 shifted to 03:00", "DST overlap: first 01:30 only", "DST overlap: second 01:30 of
// two"; "" when it did not.
std::string dst_note(const Schedule& schedule, const Fire& fire);

} // namespace cron
