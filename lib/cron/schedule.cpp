#include <base/civil.hpp>
#include <cron/schedule.hpp>
#include <tz/format.hpp>

#include <bit>
#include <limits>

namespace cron {

static_assert(sizeof(Schedule) <= 64, "a parsed schedule must fit in a cache line");

namespace {

constexpr std::int64_t day_seconds = 86400;
constexpr std::int64_t max_gap_caught_up = 3 * 3600; // longer gaps are skipped days
constexpr std::int64_t time_max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t time_min = std::numeric_limits<std::int64_t>::min();

// The lowest set bit at or above `from`, or -1.
template <typename T>
int next_bit(T mask, int from) {
  if (from >= std::numeric_limits<T>::digits) {
    return -1;
  }
  const auto m = static_cast<T>(mask & static_cast<T>(~T{0} << from));
  return m ? std::countr_zero(m) : -1;
}

// The highest set bit at or below `from`, or -1.
template <typename T>
int prev_bit(T mask, int from) {
  if (from < 0) {
    return -1;
  }
  constexpr int digits = std::numeric_limits<T>::digits;
  const auto m =
      from >= digits - 1 ? mask : static_cast<T>(mask & static_cast<T>((T{1} << (from + 1)) - 1));
  return m ? digits - 1 - std::countl_zero(m) : -1;
}

// Local seconds at the start of a year, clamped to the searchable calendar.
std::int64_t year_start(int year) {
  year = std::max(-9999, std::min(year, 10000));
  return base::civil::days_from_date(year, 1, 1) * day_seconds;
}

int year_of(std::int64_t seconds) {
  return base::civil::date_from_days(base::civil::floor_div(seconds, day_seconds)).year;
}

} // namespace

std::uint32_t Schedule::day_mask(unsigned days, unsigned first_weekday) const {
  const std::uint32_t valid = ((std::uint32_t{1} << days) - 1) << 1;

  std::uint32_t by_dom = dom_ & valid;
  if (dom_ & 1) {
    by_dom |= std::uint32_t{1} << days; // L
  }
  if (dom_weekday_ != 0) {
    // The weekday nearest to day n, never leaving the month (nW); the last weekday (LW).
    auto nearest_weekday = [&](unsigned n) {
      const unsigned wd = (first_weekday + n - 1) % 7;
      if (wd == 6) {
        return n == 1 ? n + 2 : n - 1;
      }
      if (wd == 0) {
        return n == days ? n - 2 : n + 1;
      }
      return n;
    };
    for (std::uint32_t w = dom_weekday_ >> 1; w != 0; w &= w - 1) {
      const auto n = static_cast<unsigned>(std::countr_zero(w)) + 1;
      if (n <= days) {
        by_dom |= std::uint32_t{1} << nearest_weekday(n);
      }
    }
    if (dom_weekday_ & 1) {
      by_dom |= std::uint32_t{1} << nearest_weekday(days);
    }
  }

  // Rotate the weekday set so that bit k means "day k+1 of the month", then repeat it weekly.
  const unsigned rot =
      (first_weekday == 0)
          ? dow_
          : ((unsigned(dow_) >> first_weekday) | (unsigned(dow_) << (7 - first_weekday))) & 0x7f;
  std::uint32_t by_dow =
      static_cast<std::uint32_t>((std::uint64_t{rot} * 0x10204081ULL) << 1) & valid;
  for (std::uint64_t s = dow_special_; s != 0; s &= s - 1) {
    const auto bit = static_cast<unsigned>(std::countr_zero(s));
    if (bit < 35) { // w#n
      const unsigned w = bit / 5;
      const unsigned n = bit % 5 + 1;
      const unsigned day = 1 + (w + 7 - first_weekday) % 7 + 7 * (n - 1);
      if (day <= days) {
        by_dow |= std::uint32_t{1} << day;
      }
    } else { // wL
      const unsigned w = bit - 35;
      const unsigned last_wd = (first_weekday + days - 1) % 7;
      by_dow |= std::uint32_t{1} << (days - (last_wd + 7 - w) % 7);
    }
  }

  // The cron rule: when both fields are restricted a day matches if either does; a field
  // whose text begins with '*' counts as unrestricted, so the other one alone decides.
  if (flags_ & (star_dom | star_dow)) {
    return by_dom & by_dow;
  }
  return by_dom | by_dow;
}

std::uint32_t Schedule::day_mask(int year, unsigned month) const {
  const auto first = base::civil::days_from_date(year, month, 1);
  return day_mask(base::civil::days_in_month(year, month), base::civil::weekday(first));
}

bool Schedule::fires_ever() const {
  if (is_reboot() || every_ > 0) {
    return true;
  }
  for (unsigned m = 1; m <= 12; ++m) {
    if (!(months_ >> m & 1)) {
      continue;
    }
    for (unsigned days = 28; days <= 31; ++days) {
      // Which lengths a month has: February 28 or 29, the others always the same.
      if ((m == 2) != (days <= 29) || (m != 2 && days != base::civil::days_in_month(2001, m))) {
        continue;
      }
      for (unsigned wd = 0; wd < 7; ++wd) {
        if (day_mask(days, wd) != 0) {
          return true;
        }
      }
    }
  }
  return false;
}

bool Schedule::matches_local(std::int64_t local) const {
  if (is_reboot() || every_ > 0) {
    return false;
  }
  const auto days = base::civil::floor_div(local, day_seconds);
  const auto sod = local - days * day_seconds;
  const auto d = base::civil::date_from_days(days);
  return (months_ >> d.month & 1) && (day_mask(d.year, d.month) >> d.day & 1) &&
         (hours_ >> (sod / 3600) & 1) && (minutes_ >> (sod / 60 % 60) & 1) &&
         (seconds_ >> (sod % 60) & 1);
}

std::optional<std::int64_t> Schedule::next_local(std::int64_t from, std::int64_t limit) const {
  const auto start_days = base::civil::floor_div(from, day_seconds);
  auto date = base::civil::date_from_days(start_days);
  int y = date.year;
  int m = static_cast<int>(date.month);
  int d = static_cast<int>(date.day);
  auto sod = static_cast<int>(from - start_days * day_seconds);
  int h = sod / 3600;
  int mi = sod / 60 % 60;
  int s = sod % 60;
  std::uint32_t days = 0;
  bool days_valid = false;
  const auto past_limit = [&] {
    return base::civil::days_from_date(y, unsigned(m), 1) * day_seconds > limit || y > 9999;
  };

  for (;;) {
    if (!(months_ >> m & 1)) {
      m = next_bit(months_, m);
      if (m < 0) {
        ++y;
        m = next_bit(months_, 1);
      }
      d = 1, h = 0, mi = 0, s = 0;
      days_valid = false;
      if (past_limit()) {
        return std::nullopt;
      }
    }
    if (!days_valid) {
      days = day_mask(y, unsigned(m));
      days_valid = true;
    }
    const int nd = next_bit(days, d);
    if (nd < 0) {
      if (++m > 12) {
        m = 1, ++y;
      }
      d = 1, h = 0, mi = 0, s = 0;
      days_valid = false;
      if (past_limit()) {
        return std::nullopt;
      }
      continue;
    }
    if (nd != d) {
      d = nd, h = 0, mi = 0, s = 0;
    }
    const int nh = next_bit(hours_, h);
    if (nh < 0) {
      ++d, h = 0, mi = 0, s = 0;
      continue;
    }
    if (nh != h) {
      h = nh, mi = 0, s = 0;
    }
    const int nmi = next_bit(minutes_, mi);
    if (nmi < 0) {
      ++h, mi = 0, s = 0;
      continue;
    }
    if (nmi != mi) {
      mi = nmi, s = 0;
    }
    const int ns = next_bit(seconds_, s);
    if (ns < 0) {
      ++mi, s = 0;
      continue;
    }
    const std::int64_t found =
        base::civil::days_from_date(y, unsigned(m), unsigned(d)) * day_seconds + h * 3600 +
        mi * 60 + ns;
    return found <= limit ? std::optional(found) : std::nullopt;
  }
}

std::optional<std::int64_t> Schedule::prev_local(std::int64_t from, std::int64_t limit) const {
  const auto start_days = base::civil::floor_div(from, day_seconds);
  auto date = base::civil::date_from_days(start_days);
  int y = date.year;
  int m = static_cast<int>(date.month);
  int d = static_cast<int>(date.day);
  auto sod = static_cast<int>(from - start_days * day_seconds);
  int h = sod / 3600;
  int mi = sod / 60 % 60;
  int s = sod % 60;
  std::uint32_t days = 0;
  bool days_valid = false;
  const auto before_limit = [&] {
    return (base::civil::days_from_date(y, unsigned(m),
                                        base::civil::days_in_month(y, unsigned(m))) +
            1) * day_seconds <=
               limit ||
           y < -9999;
  };

  for (;;) {
    if (!(months_ >> m & 1)) {
      m = prev_bit(months_, m);
      if (m < 1) {
        --y;
        m = prev_bit(months_, 12);
      }
      d = 31, h = 23, mi = 59, s = 59;
      days_valid = false;
      if (before_limit()) {
        return std::nullopt;
      }
    }
    if (!days_valid) {
      days = day_mask(y, unsigned(m));
      days_valid = true;
    }
    const int pd = prev_bit(days, d);
    if (pd < 1) {
      if (--m < 1) {
        m = 12, --y;
      }
      d = 31, h = 23, mi = 59, s = 59;
      days_valid = false;
      if (before_limit()) {
        return std::nullopt;
      }
      continue;
    }
    if (pd != d) {
      d = pd, h = 23, mi = 59, s = 59;
    }
    const int ph = prev_bit(hours_, h);
    if (ph < 0) {
      --d, h = 23, mi = 59, s = 59;
      continue;
    }
    if (ph != h) {
      h = ph, mi = 59, s = 59;
    }
    const int pmi = prev_bit(minutes_, mi);
    if (pmi < 0) {
      --h, mi = 59, s = 59;
      continue;
    }
    if (pmi != mi) {
      mi = pmi, s = 59;
    }
    const int ps = prev_bit(seconds_, s);
    if (ps < 0) {
      --mi, s = 59;
      continue;
    }
    const std::int64_t found =
        base::civil::days_from_date(y, unsigned(m), unsigned(d)) * day_seconds + h * 3600 +
        mi * 60 + ps;
    return found >= limit ? std::optional(found) : std::nullopt;
  }
}

std::optional<Fire> Schedule::next_fire(Instant after) const {
  const std::int64_t t = after.time_since_epoch().count();
  if (is_reboot() || t >= year_start(10000)) {
    return std::nullopt;
  }
  if (every_ > 0) {
    return Fire{Instant{std::chrono::seconds{(base::civil::floor_div(t, every_) + 1) * every_}},
                {}};
  }
  const bool fixed = !is_interval();
  const bool shift_gaps = fixed && !(flags_ & gap_skip);
  const tz::Zone& zone = *zone_;
  std::int64_t u = t + 1;
  const std::int64_t horizon = year_start(year_of(u) + horizon_years);
  for (size_t i = zone.index_at(u);; ++i) {
    const tz::Period p = zone.period(i);
    std::int64_t lo = u + p.offset;
    if (fixed && i > 0) {
      // After clocks went back, a fixed-time schedule fires only at the first occurrence of a
      // local time: skip the local times the previous period already showed.
      lo = std::max(lo, p.begin + zone.period(i - 1).offset);
    }
    const std::int64_t hi = p.end == time_max ? horizon : std::min(horizon, p.end - 1 + p.offset);
    if (lo <= hi) {
      if (auto local = next_local(lo, hi)) {
        return Fire{Instant{std::chrono::seconds{*local - p.offset}}, {}};
      }
    }
    if (p.end == time_max || p.end - 1 + p.offset >= horizon) {
      return std::nullopt;
    }
    if (shift_gaps) {
      // Clocks jump forward at p.end: a fixed-time schedule with a match in the skipped local
      // times fires once at the first instant after the gap (gaps over 3 h are skipped days).
      const std::int32_t next_offset = zone.period(i + 1).offset;
      const std::int64_t gap = next_offset - p.offset;
      if (gap > 0 && gap <= max_gap_caught_up) {
        if (auto local = next_local(p.end + p.offset, p.end + next_offset - 1)) {
          return Fire{Instant{std::chrono::seconds{p.end}}, local};
        }
      }
    }
    u = p.end;
  }
}

std::optional<Fire> Schedule::prev_fire(Instant before) const {
  const std::int64_t t = before.time_since_epoch().count();
  if (is_reboot() || t <= year_start(-9999)) {
    return std::nullopt;
  }
  if (every_ > 0) {
    return Fire{Instant{std::chrono::seconds{(base::civil::floor_div(t - 1, every_)) * every_}},
                {}};
  }
  const bool fixed = !is_interval();
  const bool shift_gaps = fixed && !(flags_ & gap_skip);
  const tz::Zone& zone = *zone_;
  std::int64_t u = t - 1;
  const std::int64_t horizon = year_start(year_of(u) - horizon_years);
  for (size_t i = zone.index_at(u);; --i) {
    const tz::Period p = zone.period(i);
    const std::int64_t hi = u + p.offset;
    std::int64_t lo = p.begin == time_min ? horizon : std::max(horizon, p.begin + p.offset);
    if (fixed && i > 0) {
      lo = std::max(lo, p.begin + zone.period(i - 1).offset);
    }
    if (lo <= hi) {
      if (auto local = prev_local(hi, lo)) {
        return Fire{Instant{std::chrono::seconds{*local - p.offset}}, {}};
      }
    }
    if (i == 0 || p.begin + p.offset <= horizon) {
      return std::nullopt;
    }
    if (shift_gaps) {
      const std::int32_t prev_offset = zone.period(i - 1).offset;
      const std::int64_t gap = p.offset - prev_offset;
      if (gap > 0 && gap <= max_gap_caught_up) {
        if (auto local = next_local(p.begin + prev_offset, p.begin + p.offset - 1)) {
          return Fire{Instant{std::chrono::seconds{p.begin}}, local};
        }
      }
    }
    u = p.begin - 1;
  }
}

std::optional<Instant> Schedule::next(Instant after) const {
  auto f = next_fire(after);
  return f ? std::optional(f->time) : std::nullopt;
}

std::optional<Instant> Schedule::prev(Instant before) const {
  auto f = prev_fire(before);
  return f ? std::optional(f->time) : std::nullopt;
}

namespace {

// "02:30", or "02:30:15" when the seconds matter.
std::string clock_time(std::int64_t local) {
  auto s = tz::format_civil(local).substr(11);
  return s.ends_with(":00") ? s.substr(0, 5) : s;
}

} // namespace

std::string dst_note(const Schedule& schedule, const Fire& fire) {
  const tz::Zone& zone = schedule.zone();
  const std::int64_t utc = fire.time.time_since_epoch().count();
  const std::int64_t local = zone.to_local(utc);
  if (fire.shifted_from) {
    return "DST gap: " + clock_time(*fire.shifted_from) + " shifted to " + clock_time(local);
  }
  const auto mapped = zone.to_utc(local);
  if (mapped.kind != tz::LocalKind::overlap) {
    return {};
  }
  if (!schedule.is_interval()) {
    return "DST overlap: first " + clock_time(local) + " only";
  }
  return "DST overlap: " + std::string(utc == mapped.first ? "first " : "second ") +
         clock_time(local) + " of two";
}

} // namespace cron
