#include <cron/schedule.hpp>
#include <tz/format.hpp>

#include <doctest/doctest.h>

#include <vector>

namespace {

struct Case {
  const char* expression;
  const char* zone;
  const char* after;
  std::vector<const char*> expected; // UTC, in order
};

cron::Schedule parse(const char* expression, const char* zone_name,
                     cron::DstGap gap = cron::DstGap::shift) {
  auto zone = tz::find_zone(zone_name);
  REQUIRE_MESSAGE(zone.ok(), zone_name);
  cron::ParseOptions options;
  options.zone = *zone;
  options.dst_gap = gap;
  auto s = cron::Schedule::parse(expression, options);
  REQUIRE_MESSAGE(s.ok(), expression << ": " << (s.ok() ? "" : s.error().message));
  return *s;
}

cron::Instant instant(const char* iso) {
  auto t = tz::parse_time(iso, tz::utc());
  REQUIRE_MESSAGE(t.ok(), iso);
  return cron::Instant{std::chrono::seconds{*t}};
}

std::string iso(cron::Instant t) {
  return tz::format_utc(t.time_since_epoch().count());
}

void check_next(const Case& c, cron::DstGap gap = cron::DstGap::shift) {
  CAPTURE(c.expression);
  CAPTURE(c.zone);
  CAPTURE(c.after);
  const auto s = parse(c.expression, c.zone, gap);
  auto t = instant(c.after);
  for (const char* expected : c.expected) {
    const auto fire = s.next(t);
    REQUIRE(fire.has_value());
    CHECK(iso(*fire) == expected);
    // prev() walks the same fires backwards.
    CHECK(s.prev(*fire + std::chrono::seconds{1}) == fire);
    CHECK(s.prev(*fire) < fire);
    t = *fire;
  }
}

} // namespace

TEST_SUITE("cron::Schedule::next") {
  // Expected values for these rows come from an independent brute force (Python's zoneinfo,
  // minute by minute, applying the rules of man/jobs.5); they include every worked example of
  // the specification.
  TEST_CASE("DST gaps and overlaps in every zone") {
    const Case cases[] = {
        {"30 1 * * *",
         "Europe/London",
         "2025-03-29T12:00:00Z",
         {"2025-03-30T01:00:00Z", "2025-03-31T00:30:00Z"}},
        {"30 1 * * *",
         "Europe/London",
         "2025-10-25T12:00:00Z",
         {"2025-10-26T00:30:00Z", "2025-10-27T01:30:00Z"}},
        {"0,30 * * * *",
         "Europe/London",
         "2025-10-26T00:00:00Z",
         {"2025-10-26T00:30:00Z", "2025-10-26T01:00:00Z", "2025-10-26T01:30:00Z",
          "2025-10-26T02:00:00Z"}},
        {"30 2 * * *",
         "Europe/Berlin",
         "2025-03-29T12:00:00Z",
         {"2025-03-30T01:00:00Z", "2025-03-31T00:30:00Z"}},
        {"30 2 * * *",
         "Europe/Berlin",
         "2025-10-25T12:00:00Z",
         {"2025-10-26T00:30:00Z", "2025-10-27T01:30:00Z"}},
        {"15 * * * *",
         "Europe/Berlin",
         "2025-10-25T23:30:00Z",
         {"2025-10-26T00:15:00Z", "2025-10-26T01:15:00Z", "2025-10-26T02:15:00Z",
          "2025-10-26T03:15:00Z"}},
        {"30 1 * * *",
         "Europe/Dublin",
         "2025-10-25T12:00:00Z",
         {"2025-10-26T00:30:00Z", "2025-10-27T01:30:00Z"}},
        {"0 2 * * *",
         "America/New_York",
         "2025-03-08T12:00:00Z",
         {"2025-03-09T07:00:00Z", "2025-03-10T06:00:00Z"}},
        {"59 1 * * *",
         "America/New_York",
         "2025-11-01T12:00:00Z",
         {"2025-11-02T05:59:00Z", "2025-11-03T06:59:00Z"}},
        {"30 23 * * *",
         "America/Santiago",
         "2025-04-05T12:00:00Z",
         {"2025-04-06T02:30:00Z", "2025-04-07T03:30:00Z"}},
        {"*/20 23 * * *",
         "America/Santiago",
         "2025-04-06T02:30:00Z",
         {"2025-04-06T02:40:00Z", "2025-04-06T03:00:00Z", "2025-04-06T03:20:00Z",
          "2025-04-06T03:40:00Z"}},
        {"0 0 * * *",
         "America/Santiago",
         "2025-09-06T12:00:00Z",
         {"2025-09-07T04:00:00Z", "2025-09-08T03:00:00Z"}},
        {"30 0 * * *",
         "America/Havana",
         "2025-03-08T12:00:00Z",
         {"2025-03-09T05:00:00Z", "2025-03-10T04:30:00Z"}},
        {"30 0 * * *",
         "America/Havana",
         "2025-11-01T12:00:00Z",
         {"2025-11-02T04:30:00Z", "2025-11-03T05:30:00Z"}},
        {"0 * * * *",
         "America/Havana",
         "2025-11-02T03:30:00Z",
         {"2025-11-02T04:00:00Z", "2025-11-02T05:00:00Z", "2025-11-02T06:00:00Z"}},
        {"30 23 * * *",
         "America/Asuncion",
         "2024-03-23T12:00:00Z",
         {"2024-03-24T02:30:00Z", "2024-03-25T03:30:00Z"}},
        {"45 1 * * *",
         "Australia/Lord_Howe",
         "2025-04-04T12:00:00Z",
         {"2025-04-04T14:45:00Z", "2025-04-05T14:45:00Z"}},
        {"0,15,30,45 * * * *",
         "Australia/Lord_Howe",
         "2025-04-05T14:20:00Z",
         {"2025-04-05T14:30:00Z", "2025-04-05T14:45:00Z", "2025-04-05T15:00:00Z",
          "2025-04-05T15:15:00Z", "2025-04-05T15:30:00Z", "2025-04-05T15:45:00Z"}},
        {"30 2 * * *",
         "Australia/Sydney",
         "2025-10-04T00:00:00Z",
         {"2025-10-04T16:00:00Z", "2025-10-05T15:30:00Z"}},
        {"30 2 * * *",
         "Australia/Sydney",
         "2025-04-05T00:00:00Z",
         {"2025-04-05T15:30:00Z", "2025-04-06T16:30:00Z"}},
        {"0 3 * * *",
         "Pacific/Chatham",
         "2025-09-27T00:00:00Z",
         {"2025-09-27T14:00:00Z", "2025-09-28T13:15:00Z"}},
        {"0 3 * * *",
         "Pacific/Chatham",
         "2025-04-05T00:00:00Z",
         {"2025-04-05T13:15:00Z", "2025-04-06T14:15:00Z"}},
        {"30 2 * * *",
         "Africa/Casablanca",
         "2025-02-22T12:00:00Z",
         {"2025-02-23T01:30:00Z", "2025-02-24T02:30:00Z"}},
        {"30 2 * * *",
         "Africa/Casablanca",
         "2025-04-05T12:00:00Z",
         {"2025-04-06T02:00:00Z", "2025-04-07T01:30:00Z"}},
        {"30 9 * * *",
         "Asia/Kolkata",
         "2025-03-08T00:00:00Z",
         {"2025-03-08T04:00:00Z", "2025-03-09T04:00:00Z"}},
        {"0 12 * * *",
         "Pacific/Apia",
         "2011-12-28T00:00:00Z",
         {"2011-12-28T22:00:00Z", "2011-12-29T22:00:00Z", "2011-12-30T22:00:00Z",
          "2011-12-31T22:00:00Z"}},
        {"30 2 * * *",
         "America/New_York",
         "2025-03-08T12:00:00Z",
         {"2025-03-09T07:00:00Z", "2025-03-10T06:30:00Z"}},
        {"30 1 * * *",
         "America/New_York",
         "2025-11-01T12:00:00Z",
         {"2025-11-02T05:30:00Z", "2025-11-03T06:30:00Z"}},
        {"0 * * * *",
         "America/New_York",
         "2025-11-02T03:30:00Z",
         {"2025-11-02T04:00:00Z", "2025-11-02T05:00:00Z", "2025-11-02T06:00:00Z",
          "2025-11-02T07:00:00Z"}},
        {"15 2 * * *",
         "Australia/Lord_Howe",
         "2025-10-04T00:00:00Z",
         {"2025-10-04T15:30:00Z", "2025-10-05T15:15:00Z"}},
        {"0 0 * * *",
         "America/Santiago",
         "2024-09-06T12:00:00Z",
         {"2024-09-07T04:00:00Z", "2024-09-08T04:00:00Z", "2024-09-09T03:00:00Z"}},
        {"30 1 * * *",
         "Europe/Dublin",
         "2025-03-29T00:00:00Z",
         {"2025-03-29T01:30:00Z", "2025-03-30T01:00:00Z", "2025-03-31T00:30:00Z"}},
    };
    for (const auto& c : cases) {
      check_next(c);
    }
  }

  TEST_CASE("dst_gap: skip drops a fixed-time fire in the gap") {
    check_next({"30 2 * * *", "America/New_York", "2025-03-08T12:00:00Z", {"2025-03-10T06:30:00Z"}},
               cron::DstGap::skip);
    check_next(
        {"15 2 * * *", "Australia/Lord_Howe", "2025-10-04T00:00:00Z", {"2025-10-05T15:15:00Z"}},
        cron::DstGap::skip);
    // Overlaps are not affected.
    check_next({"30 1 * * *",
                "America/New_York",
                "2025-11-01T12:00:00Z",
                {"2025-11-02T05:30:00Z", "2025-11-03T06:30:00Z"}},
               cron::DstGap::skip);
  }

  TEST_CASE("interval schedules continue in real time through a gap, no burst") {
    const Case cases[] = {
        {"*/15 * * * *",
         "America/New_York",
         "2025-03-09T06:40:00Z",
         {"2025-03-09T06:45:00Z", "2025-03-09T07:00:00Z", "2025-03-09T07:15:00Z"}},
        {"* 2 * * *",
         "America/New_York",
         "2025-03-09T05:00:00Z",
         {"2025-03-10T06:00:00Z", "2025-03-10T06:01:00Z"}},
        {"*/20 * * * * *",
         "America/New_York",
         "2025-03-09T06:59:30Z",
         {"2025-03-09T06:59:40Z", "2025-03-09T07:00:00Z", "2025-03-09T07:00:20Z"}},
    };
    for (const auto& c : cases) {
      check_next(c);
    }
  }

  TEST_CASE("calendar: leap days, the 31st, L, W, LW, #, names") {
    const Case cases[] = {
        {"0 0 29 2 *",
         "UTC",
         "2096-03-01T00:00:00Z",
         {"2104-02-29T00:00:00Z", "2108-02-29T00:00:00Z"}},
        {"0 0 29 2 *", "America/New_York", "2096-03-01T00:00:00Z", {"2104-02-29T05:00:00Z"}},
        {"0 0 29 2 *", "UTC", "2024-03-01T00:00:00Z", {"2028-02-29T00:00:00Z"}},
        {"0 0 31 * *",
         "UTC",
         "2025-01-31T00:00:00Z",
         {"2025-03-31T00:00:00Z", "2025-05-31T00:00:00Z", "2025-07-31T00:00:00Z",
          "2025-08-31T00:00:00Z"}},
        {"0 0 L * *",
         "UTC",
         "2024-01-31T00:00:00Z",
         {"2024-02-29T00:00:00Z", "2024-03-31T00:00:00Z", "2024-04-30T00:00:00Z"}},
        {"0 0 L 2 *", "UTC", "2100-01-01T00:00:00Z", {"2100-02-28T00:00:00Z"}},
        {"0 12 15W * *",
         "UTC",
         "2025-03-01T00:00:00Z",
         {"2025-03-14T12:00:00Z", "2025-04-15T12:00:00Z", "2025-05-15T12:00:00Z",
          "2025-06-16T12:00:00Z"}},
        {"0 12 1W * *",
         "UTC",
         "2025-02-01T00:00:00Z",
         {"2025-02-03T12:00:00Z", "2025-03-03T12:00:00Z"}},
        {"0 12 31W * *",
         "UTC",
         "2025-08-01T00:00:00Z",
         {"2025-08-29T12:00:00Z", "2025-10-31T12:00:00Z"}},
        {"0 12 LW * *",
         "UTC",
         "2025-05-01T00:00:00Z",
         {"2025-05-30T12:00:00Z", "2025-06-30T12:00:00Z", "2025-07-31T12:00:00Z",
          "2025-08-29T12:00:00Z"}},
        {"0 9 * * 1#2",
         "UTC",
         "2025-01-01T00:00:00Z",
         {"2025-01-13T09:00:00Z", "2025-02-10T09:00:00Z", "2025-03-10T09:00:00Z"}},
        {"0 9 * * FRI#5",
         "UTC",
         "2025-01-01T00:00:00Z",
         {"2025-01-31T09:00:00Z", "2025-05-30T09:00:00Z"}},
        {"0 9 * * 5L",
         "UTC",
         "2025-01-01T00:00:00Z",
         {"2025-01-31T09:00:00Z", "2025-02-28T09:00:00Z", "2025-03-28T09:00:00Z"}},
        {"0 6 * jan,Jul Mon-Fri",
         "UTC",
         "2025-06-27T00:00:00Z",
         {"2025-07-01T06:00:00Z", "2025-07-02T06:00:00Z"}},
        {"30 14 1,15 * *",
         "UTC",
         "2025-01-15T14:30:00Z",
         {"2025-02-01T14:30:00Z", "2025-02-15T14:30:00Z"}},
        {"@yearly", "UTC", "2025-06-01T00:00:00Z", {"2026-01-01T00:00:00Z"}},
    };
    for (const auto& c : cases) {
      check_next(c);
    }
  }

  TEST_CASE("the DOM/DOW rule: either when both are restricted, both when one begins with *") {
    const Case cases[] = {
        {"0 0 13 * 5",
         "UTC",
         "2025-06-01T00:00:00Z",
         {"2025-06-06T00:00:00Z", "2025-06-13T00:00:00Z", "2025-06-20T00:00:00Z",
          "2025-06-27T00:00:00Z", "2025-07-04T00:00:00Z"}},
        {"0 0 */2 * 5",
         "UTC",
         "2025-06-01T00:00:00Z",
         {"2025-06-13T00:00:00Z", "2025-06-27T00:00:00Z", "2025-07-11T00:00:00Z",
          "2025-07-25T00:00:00Z"}},
        {"0 0 * * 5",
         "UTC",
         "2025-06-01T00:00:00Z",
         {"2025-06-06T00:00:00Z", "2025-06-13T00:00:00Z"}},
        {"0 0 1-7 * 1",
         "UTC",
         "2025-06-01T00:00:00Z",
         {"2025-06-02T00:00:00Z", "2025-06-03T00:00:00Z", "2025-06-04T00:00:00Z",
          "2025-06-05T00:00:00Z", "2025-06-06T00:00:00Z", "2025-06-07T00:00:00Z",
          "2025-06-09T00:00:00Z"}},
        {"0 0 ? * 1",
         "UTC",
         "2025-06-01T00:00:00Z",
         {"2025-06-02T00:00:00Z", "2025-06-09T00:00:00Z"}},
    };
    for (const auto& c : cases) {
      check_next(c);
    }
  }

  TEST_CASE("seconds, @every, prefixes") {
    const Case cases[] = {
        {"*/20 * * * * *",
         "UTC",
         "2025-01-01T00:00:05Z",
         {"2025-01-01T00:00:20Z", "2025-01-01T00:00:40Z", "2025-01-01T00:01:00Z"}},
        {"30 30 2 * * *",
         "America/New_York",
         "2025-03-08T12:00:00Z",
         {"2025-03-09T07:00:00Z", "2025-03-10T06:30:30Z"}},
        {"@every 15m",
         "UTC",
         "2025-01-01T00:07:00Z",
         {"2025-01-01T00:15:00Z", "2025-01-01T00:30:00Z"}},
        {"@every 1h",
         "Asia/Kolkata",
         "2025-01-01T00:00:00Z",
         {"2025-01-01T01:00:00Z", "2025-01-01T02:00:00Z"}},
        {"CRON_TZ=America/New_York 30 2 * * *",
         "UTC",
         "2025-03-08T12:00:00Z",
         {"2025-03-09T07:00:00Z", "2025-03-10T06:30:00Z"}},
    };
    for (const auto& c : cases) {
      check_next(c);
    }
  }

  TEST_CASE("a shifted fire says from where") {
    const auto s = parse("30 2 * * *", "America/New_York");
    const auto fire = s.next_fire(instant("2025-03-08T12:00:00Z"));
    REQUIRE(fire.has_value());
    REQUIRE(fire->shifted_from.has_value());
    CHECK(tz::format_civil(*fire->shifted_from) == "2025-03-09 02:30:00");
    CHECK_FALSE(s.next_fire(fire->time)->shifted_from.has_value());
  }

  TEST_CASE("@reboot never fires by time; the horizon ends at 9999") {
    CHECK_FALSE(parse("@reboot", "UTC").next(instant("2025-01-01T00:00:00Z")).has_value());
    CHECK_FALSE(parse("@reboot", "UTC").prev(instant("2025-01-01T00:00:00Z")).has_value());
    CHECK_FALSE(parse("0 0 1 1 *", "UTC").next(instant("9999-01-01T00:00:00Z")).has_value());
    CHECK(iso(*parse("0 0 1 1 *", "UTC").prev(instant("0001-01-01T00:00:01Z"))) ==
          "0001-01-01T00:00:00Z");
  }

  TEST_CASE("prev finds the last fire before, DST rules included") {
    const Case cases[] = {
        {"0 0 29 2 *", "UTC", "2104-02-29T00:00:00Z", {"2096-02-29T00:00:00Z"}},
        {"30 2 * * *", "America/New_York", "2025-03-10T00:00:00Z", {"2025-03-09T07:00:00Z"}},
        {"30 1 * * *", "America/New_York", "2025-11-03T00:00:00Z", {"2025-11-02T05:30:00Z"}},
        {"0 * * * *", "America/New_York", "2025-11-02T06:30:00Z", {"2025-11-02T06:00:00Z"}},
    };
    for (const auto& c : cases) {
      CAPTURE(c.expression);
      const auto s = parse(c.expression, c.zone);
      CHECK(iso(*s.prev(instant(c.after))) == c.expected[0]);
    }
  }
}

TEST_SUITE("cron::dst_note") {
  TEST_CASE("the note of the first fire after a time, as jobsctl next and jobsd show it") {
    struct Note {
      const char* expression;
      const char* zone;
      const char* after;
      const char* fire; // UTC
      const char* note;
    };
    const Note table[] = {
        {"30 2 * * *", "America/New_York", "2027-03-14T00:00:00Z", "2027-03-14T07:00:00Z",
         "DST gap: 02:30 shifted to 03:00"},
        {"30 1 * * *", "America/New_York", "2026-11-01T00:00:00Z", "2026-11-01T05:30:00Z",
         "DST overlap: first 01:30 only"},
        {"*/30 * * * *", "America/New_York", "2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z",
         "DST overlap: first 01:30 of two"},
        {"*/30 * * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z",
         "DST overlap: second 01:00 of two"},
        {"30 2 * * *", "America/New_York", "2027-03-15T00:00:00Z", "2027-03-15T06:30:00Z", ""},
        {"0 12 * * *", "UTC", "2026-11-01T00:00:00Z", "2026-11-01T12:00:00Z", ""},
    };
    for (const auto& c : table) {
      CAPTURE(c.expression);
      CAPTURE(c.after);
      const auto s = parse(c.expression, c.zone);
      const auto fire = s.next_fire(instant(c.after));
      REQUIRE(fire.has_value());
      CHECK(iso(fire->time) == c.fire);
      CHECK(cron::dst_note(s, *fire) == c.note);
    }
  }
}
