#pragma once

// The DST rules of man/jobs.5 stated one instant at a time, for tests: whether a schedule
// fires at a given second. Slow and simple on purpose; next() must agree with it.
#include <cron/schedule.hpp>

namespace oracle {

inline bool fires_at(const cron::Schedule& s, std::int64_t u) {
  if (s.is_reboot()) {
    return false;
  }
  if (s.every() > 0) {
    return u % s.every() == 0;
  }
  const tz::Zone& zone = s.zone();
  const std::int64_t local = zone.to_local(u);
  if (s.matches_local(local)) {
    // Interval schedules fire at every matching instant; fixed-time ones only at the first
    // instant that shows the local time.
    if (s.is_interval() || zone.to_utc(local).first == u) {
      return true;
    }
  }
  if (s.is_interval() || s.dst_gap() == cron::DstGap::skip) {
    return false;
  }
  // The first instant after a gap of at most 3 h fires when a skipped local time matches.
  const size_t i = zone.index_at(u);
  const tz::Period p = zone.period(i);
  if (i == 0 || p.begin != u) {
    return false;
  }
  const std::int32_t before = zone.period(i - 1).offset;
  if (p.offset <= before || p.offset - before > 3 * 3600) {
    return false;
  }
  for (std::int64_t l = u + before; l < u + p.offset; ++l) {
    if (s.matches_local(l)) {
      return true;
    }
  }
  return false;
}

} // namespace oracle
