#include <base/civil.hpp>
#include <tz/format.hpp>

#include <cstdio>

namespace tz {

namespace {

constexpr std::int64_t day = 86400;

} // namespace

std::string format_civil(std::int64_t local) {
  const auto days = base::civil::floor_div(local, day);
  const auto sod = local - days * day;
  const auto d = base::civil::date_from_days(days);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d:%02d", d.year, d.month, d.day,
                int(sod / 3600), int(sod / 60 % 60), int(sod % 60));
  return buf;
}

std::string_view weekday_name(std::int64_t local) {
  constexpr std::string_view names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  return names[base::civil::weekday(base::civil::floor_div(local, day))];
}

std::string format_offset(std::int32_t offset) {
  const char sign = offset < 0 ? '-' : '+';
  const int a = offset < 0 ? -offset : offset;
  char buf[16];
  if (a % 60 != 0) {
    std::snprintf(buf, sizeof buf, "%c%02d:%02d:%02d", sign, a / 3600, a / 60 % 60, a % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%c%02d:%02d", sign, a / 3600, a / 60 % 60);
  }
  return buf;
}

std::string format_utc(std::int64_t utc) {
  auto s = format_civil(utc);
  s[10] = 'T';
  return s + "Z";
}

std::string format_local(std::int64_t utc, const Zone& zone) {
  const auto offset = zone.offset_at(utc);
  auto s = format_civil(utc + offset);
  s[10] = 'T';
  return s + format_offset(offset);
}

base::Result<std::int64_t> parse_time(std::string_view text, const Zone& zone) {
  size_t i = 0;
  auto fail = [&](const std::string& what) {
    base::Error e;
    e.message = "invalid time \"" + std::string(text) + "\": " + what +
                " (valid: 2025-03-08T12:00:00Z, 2025-03-08T12:00+01:00, 2025-03-08)";
    e.location.column = static_cast<int>(i) + 1;
    return e;
  };
  auto number = [&](int digits, int& out) {
    out = 0;
    for (int k = 0; k < digits; ++k, ++i) {
      if (i >= text.size() || text[i] < '0' || text[i] > '9') {
        return false;
      }
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  auto eat = [&](char c) {
    if (i < text.size() && text[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!number(4, y) || !eat('-') || !number(2, mo) || !eat('-') || !number(2, d)) {
    return fail("expected YYYY-MM-DD");
  }
  if (mo < 1 || mo > 12 || d < 1 || unsigned(d) > base::civil::days_in_month(y, unsigned(mo))) {
    i = 5;
    return fail("no such date");
  }
  if (eat('T') || eat('t') || eat(' ')) {
    if (!number(2, h) || !eat(':') || !number(2, mi)) {
      return fail("expected HH:MM");
    }
    if (eat(':') && !number(2, s)) {
      return fail("expected seconds");
    }
    if (eat('.') || eat(',')) {
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        ++i;
      }
    }
    if (h > 23 || mi > 59 || s > 59) {
      return fail("no such time of day");
    }
  }
  const std::int64_t local =
      base::civil::days_from_date(y, unsigned(mo), unsigned(d)) * day + h * 3600 + mi * 60 + s;
  if (i == text.size()) {
    return zone.to_utc(local).first;
  }
  if (eat('Z') || eat('z')) {
    if (i != text.size()) {
      return fail("unexpected text after 'Z'");
    }
    return local;
  }
  const bool negative = i < text.size() && text[i] == '-';
  if (!eat('+') && !eat('-')) {
    return fail("expected 'Z' or an offset such as +01:00");
  }
  int oh = 0, om = 0;
  if (!number(2, oh) || !((eat(':') && number(2, om)) || number(2, om) || i == text.size())) {
    return fail("expected an offset such as +01:00");
  }
  if (i != text.size()) {
    return fail("unexpected text after the offset");
  }
  const std::int64_t offset = (oh * 3600 + om * 60) * (negative ? -1 : 1);
  return local - offset;
}

} // namespace tz
