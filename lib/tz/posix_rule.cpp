#include <tz/posix_rule.hpp>

#include <date/date.h>

#include <algorithm>

namespace tz {

namespace {

class Reader {
public:
  explicit Reader(std::string_view s) : s_(s) {}

  bool done() const { return i_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[i_]; }
  bool eat(char c) {
    if (peek() == c) {
      ++i_;
      return true;
    }
    return false;
  }

  // An abbreviation: three or more letters, or <...> with letters, digits, '+' and '-'.
  bool name(std::string& out) {
    const size_t start = i_;
    if (eat('<')) {
      while (!done() && peek() != '>') {
        ++i_;
      }
      out = std::string(s_.substr(start + 1, i_ - start - 1));
      return eat('>') && out.size() >= 3;
    }
    while (!done() && ((peek() >= 'A' && peek() <= 'Z') || (peek() >= 'a' && peek() <= 'z'))) {
      ++i_;
    }
    out = std::string(s_.substr(start, i_ - start));
    return out.size() >= 3;
  }

  bool number(int& out, int max_digits) {
    const size_t start = i_;
    out = 0;
    while (!done() && peek() >= '0' && peek() <= '9' && i_ - start < size_t(max_digits)) {
      out = out * 10 + (peek() - '0');
      ++i_;
    }
    return i_ > start;
  }

  // [+-]hh[:mm[:ss]] as seconds; hours up to 167 (RFC 8536 extension for rule times).
  bool hms(std::int32_t& out) {
    int sign = 1;
    if (eat('-')) {
      sign = -1;
    } else {
      eat('+');
    }
    int h = 0, m = 0, sec = 0;
    if (!number(h, 3) || h > 167) {
      return false;
    }
    if (eat(':') && (!number(m, 2) || m > 59)) {
      return false;
    }
    if (eat(':') && (!number(sec, 2) || sec > 59)) {
      return false;
    }
    out = sign * (h * 3600 + m * 60 + sec);
    return true;
  }

private:
  std::string_view s_;
  size_t i_ = 0;
};

} // namespace

base::Result<PosixRule> PosixRule::parse(std::string_view text) {
  auto fail = [&](const char* what) {
    return base::Error{"invalid POSIX TZ rule \"" + std::string(text) + "\": " + what, {}, {}, 1};
  };
  PosixRule r;
  Reader in(text);
  std::int32_t west = 0;
  if (!in.name(r.std_abbrev_) || !in.hms(west)) {
    return fail("expected a standard time name and offset");
  }
  r.std_offset_ = -west; // POSIX offsets count hours west of Greenwich
  r.dst_offset_ = r.std_offset_ + 3600;
  if (in.done()) {
    return r;
  }
  if (!in.name(r.dst_abbrev_)) {
    return fail("expected a daylight time name");
  }
  r.has_dst_ = true;
  if (in.peek() != ',' && !in.done()) {
    if (!in.hms(west)) {
      return fail("bad daylight time offset");
    }
    r.dst_offset_ = -west;
  }
  if (in.done()) {
    // POSIX leaves the default rule to the implementation; tzcode uses the US rule.
    r.start_ = {When::Kind::month_week_day, 0, 3, 2, 7200};
    r.end_ = {When::Kind::month_week_day, 0, 11, 1, 7200};
    return r;
  }
  for (When* w : {&r.start_, &r.end_}) {
    if (!in.eat(',')) {
      return fail("expected ',' before a rule date");
    }
    if (in.eat('M')) {
      w->kind = When::Kind::month_week_day;
      if (!in.number(w->month, 2) || !in.eat('.') || !in.number(w->week, 1) || !in.eat('.') ||
          !in.number(w->day, 1) || w->month < 1 || w->month > 12 || w->week < 1 || w->week > 5 ||
          w->day > 6) {
        return fail("bad Mm.w.d date");
      }
    } else if (in.eat('J')) {
      w->kind = When::Kind::julian_1;
      if (!in.number(w->day, 3) || w->day < 1 || w->day > 365) {
        return fail("bad Jn date");
      }
    } else {
      w->kind = When::Kind::julian_0;
      if (!in.number(w->day, 3) || w->day > 365) {
        return fail("bad n date");
      }
    }
    if (in.eat('/') && !in.hms(w->time)) {
      return fail("bad rule time");
    }
  }
  if (!in.done()) {
    return fail("unexpected text at the end");
  }
  return r;
}

std::int64_t PosixRule::local_day_of(const When& w, int year) const {
  using namespace date;
  const auto jan1 = sys_days{date::year{year} / January / 1};
  switch (w.kind) {
  case When::Kind::julian_1: { // 1..365, February 29 never counted
    int d = w.day;
    if (date::year{year}.is_leap() && d >= 60) {
      ++d;
    }
    return (jan1 + days{d - 1}).time_since_epoch().count();
  }
  case When::Kind::julian_0:
    return (jan1 + days{w.day}).time_since_epoch().count();
  case When::Kind::month_week_day: {
    const auto ym = date::year{year} / month{unsigned(w.month)};
    const auto wd = weekday{unsigned(w.day)};
    sys_days d = w.week == 5 ? sys_days{ym / wd[last]} : sys_days{ym / wd[unsigned(w.week)]};
    return d.time_since_epoch().count();
  }
  }
  return 0;
}

std::vector<Transition> PosixRule::transitions_in(int year) const {
  if (!has_dst_) {
    return {};
  }
  // A rule time is local time as it is just before the change.
  const std::int64_t start = local_day_of(start_, year) * 86400 + start_.time - std_offset_;
  const std::int64_t end = local_day_of(end_, year) * 86400 + end_.time - dst_offset_;
  std::vector<Transition> out = {{start, dst_offset_, true, dst_abbrev_},
                                 {end, std_offset_, false, std_abbrev_}};
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
  return out;
}

} // namespace tz
