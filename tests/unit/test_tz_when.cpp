#include <tz/format.hpp>
#include <tz/when.hpp>
#include <tz/zone.hpp>

#include <doctest/doctest.h>

namespace {

const tz::Zone& berlin() {
  auto z = tz::find_zone("Europe/Berlin");
  REQUIRE(z.ok());
  return **z;
}

std::int64_t utc(const char* iso) {
  auto t = tz::parse_time(iso, tz::utc());
  REQUIRE_MESSAGE(t.ok(), iso);
  return *t;
}

// What parse_when makes of `text` at `now` in Europe/Berlin, as a UTC ISO time or the error.
std::string when(const char* text, const char* now,
                 tz::BareDuration bare = tz::BareDuration::refused) {
  auto t = tz::parse_when(text, utc(now), berlin(), bare);
  return t ? tz::format_utc(*t) : t.error().message;
}

} // namespace

TEST_SUITE("tz::parse_when") {
  // A fixed clock: Monday 2026-12-07 09:00 CET (08:00 UTC).
  constexpr const char* monday = "2026-12-07T08:00:00Z";

  TEST_CASE("reads ISO times, now and durations") {
    CHECK(when("2026-12-01T09:00", monday) == "2026-12-01T08:00:00Z");
    CHECK(when("2026-12-01T09:00Z", monday) == "2026-12-01T09:00:00Z");
    CHECK(when("2026-12-01", monday) == "2026-11-30T23:00:00Z");
    CHECK(when("now", monday) == "2026-12-07T08:00:00Z");
    CHECK(when("in 5m", monday) == "2026-12-07T08:05:00Z");
    CHECK(when("in 1h30m", monday) == "2026-12-07T09:30:00Z");
    CHECK(when("2h ago", monday) == "2026-12-07T06:00:00Z");
    CHECK(when("  In   5m ", monday) == "2026-12-07T08:05:00Z");
  }

  TEST_CASE("a clock time alone is the next time the clocks show it") {
    CHECK(when("09:40", monday) == "2026-12-07T08:40:00Z");   // later today
    CHECK(when("9:40:30", monday) == "2026-12-07T08:40:30Z"); // seconds, one-digit hour
    CHECK(when("08:30", monday) == "2026-12-08T07:30:00Z");   // passed: tomorrow
    CHECK(when("09:00", monday) == "2026-12-07T08:00:00Z");   // now counts as still to come
  }

  TEST_CASE("today, tomorrow and yesterday, alone (00:00) or with a clock time") {
    CHECK(when("today 18:00", monday) == "2026-12-07T17:00:00Z");
    CHECK(when("today 08:00", monday) == "2026-12-07T07:00:00Z"); // passed: still today
    CHECK(when("tomorrow 03:00", monday) == "2026-12-08T02:00:00Z");
    CHECK(when("Tomorrow", monday) == "2026-12-07T23:00:00Z");
    CHECK(when("yesterday", monday) == "2026-12-05T23:00:00Z");
    CHECK(when("yesterday 12:00", monday) == "2026-12-06T11:00:00Z");
    CHECK(when("today", monday) == "2026-12-06T23:00:00Z");
  }

  TEST_CASE("a skipped clock time means the instant the clocks jump to") {
    // Berlin, Sunday 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
    CHECK(when("tomorrow 02:30", "2026-03-28T12:00:00Z") == "2026-03-29T01:00:00Z");
    CHECK(when("02:30", "2026-03-28T23:30:00Z") == "2026-03-29T01:00:00Z");
    CHECK(when("tomorrow 03:30", "2026-03-28T12:00:00Z") == "2026-03-29T01:30:00Z");
    CHECK(when("tomorrow 01:30", "2026-03-28T12:00:00Z") == "2026-03-29T00:30:00Z");
    // The same day, one hour shorter: "in 1d" is 24 hours, not the same clock time.
    CHECK(when("in 1d", "2026-03-28T12:00:00Z") == "2026-03-29T12:00:00Z");
  }

  TEST_CASE("a repeated clock time means the earlier, or the later when only it is to come") {
    // Berlin, Sunday 2026-10-25: 03:00 CEST goes back to 02:00 CET, so 02:30 is shown at
    // 00:30 UTC (CEST) and again at 01:30 UTC (CET).
    CHECK(when("02:30", "2026-10-24T22:00:00Z") == "2026-10-25T00:30:00Z");
    CHECK(when("02:30", "2026-10-25T01:00:00Z") == "2026-10-25T01:30:00Z");
    CHECK(when("02:30", "2026-10-25T01:45:00Z") == "2026-10-26T01:30:00Z");
    CHECK(when("today 02:30", "2026-10-25T01:00:00Z") == "2026-10-25T00:30:00Z");
    CHECK(when("tomorrow 02:30", "2026-10-24T12:00:00Z") == "2026-10-25T00:30:00Z");
  }

  TEST_CASE("a bare duration is refused, or ago, or from now, as the caller says") {
    CHECK(when("2h", monday, tz::BareDuration::ago) == "2026-12-07T06:00:00Z");
    CHECK(when("2h", monday, tz::BareDuration::ahead) == "2026-12-07T10:00:00Z");
    CHECK(when("2h", monday) ==
          "invalid time \"2h\" (valid: 2026-12-01T09:00 (with Z or an offset, else in "
          "Europe/Berlin), now, in 5m, 2h ago, 09:40 (the next one), today 18:00, tomorrow "
          "03:00, yesterday (00:00))");
  }

  TEST_CASE("a duration that leaves the years 1 to 9999 is refused, not overflowed") {
    CHECK(when("in 2900000d", monday) == "9966-11-12T08:00:00Z");
    for (const char* far : {"in 53375995583000d", "in 99999999999d", "99999999999d ago",
                            "in 3000000d", "800000d ago"}) {
      CHECK(when(far, monday, tz::BareDuration::ago) ==
            "time out of range: \"" + std::string(far) + "\" is not within the years 1 to 9999");
    }
    CHECK(when("53375995583000d", monday, tz::BareDuration::ahead).rfind("time out of range", 0) ==
          0);
  }

  TEST_CASE("anything else is an error that lists the valid forms") {
    const std::string forms =
        " (valid: 2026-12-01T09:00 (with Z or an offset, else in Europe/Berlin), now, in 5m, 2h "
        "ago, 09:40 (the next one), today 18:00, tomorrow 03:00, yesterday (00:00), 2h (ago))";
    for (const char* bad : {"", "next tuesday", "25:00", "09:60", "9.40", "in", "in 5x", "ago",
                            "tomorrow 3pm", "today 18:00 CET", "2026-02-30T00:00"}) {
      CHECK(when(bad, monday, tz::BareDuration::ago) ==
            "invalid time \"" + std::string(bad) + "\"" + forms);
    }
  }
}
