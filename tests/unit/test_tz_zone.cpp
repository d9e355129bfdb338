#include <tz/format.hpp>
#include <tz/posix_rule.hpp>
#include <tz/zone.hpp>

#include <date/tz.h>
#include <doctest/doctest.h>

namespace {

const tz::Zone& zone(const char* name) {
  auto z = tz::find_zone(name);
  REQUIRE_MESSAGE(z.ok(), name);
  return **z;
}

std::int64_t utc(const char* iso) {
  auto t = tz::parse_time(iso, tz::utc());
  REQUIRE_MESSAGE(t.ok(), iso);
  return *t;
}

} // namespace

TEST_SUITE("tz::Zone") {
  TEST_CASE("unknown zones suggest the nearest names") {
    auto z = tz::find_zone("Europe/Berln");
    REQUIRE_FALSE(z.ok());
    CHECK(z.error().message ==
          "unknown time zone \"Europe/Berln\"; did you mean \"Europe/Berlin\"?");
    auto far = tz::find_zone("Nowhere/Atlantis");
    REQUIRE_FALSE(far.ok());
    CHECK(far.error().message.starts_with("unknown time zone \"Nowhere/Atlantis\""));
    CHECK_FALSE(tz::find_zone("").ok());
  }

  TEST_CASE("the same name gives the same object") {
    CHECK(&zone("Europe/Paris") == &zone("Europe/Paris"));
    CHECK(tz::utc().offset_at(0) == 0);
  }

  TEST_CASE("agrees with date/tz at every transition date/tz knows, 1900-2037") {
    for (const char* name : {"America/New_York", "Europe/Dublin", "Australia/Lord_Howe",
                             "Pacific/Apia", "Africa/Casablanca", "America/Santiago",
                             "Pacific/Chatham", "Asia/Kolkata", "Europe/London"}) {
      CAPTURE(name);
      const tz::Zone& z = zone(name);
      const date::time_zone* reference = date::locate_zone(name);
      auto info = reference->get_info(date::sys_days{date::year{1900} / 1 / 1});
      const auto end = date::sys_days{date::year{2037} / 12 / 1};
      int checked = 0;
      while (info.end < end) {
        for (auto t : {info.end - std::chrono::seconds{1}, info.end}) {
          const auto expected = reference->get_info(t);
          const auto s = t.time_since_epoch().count();
          REQUIRE(z.offset_at(s) == expected.offset.count());
          REQUIRE(z.period_at(s).abbrev == expected.abbrev);
        }
        info = reference->get_info(info.end);
        ++checked;
      }
      CHECK(checked > 0);
    }
  }

  TEST_CASE("follows the POSIX footer rule after the last listed transition") {
    // date/tz alone reads New York as EST forever after 2037.
    CHECK(zone("America/New_York").offset_at(utc("2050-07-01T12:00:00Z")) == -4 * 3600);
    CHECK(zone("America/New_York").offset_at(utc("2050-12-01T12:00:00Z")) == -5 * 3600);
    CHECK(zone("America/New_York").period_at(utc("2096-03-11T07:00:00Z")).abbrev == "EDT");
    CHECK(zone("America/New_York").period_at(utc("2096-03-11T06:59:59Z")).abbrev == "EST");
    CHECK(zone("Australia/Sydney").offset_at(utc("2090-01-15T00:00:00Z")) == 11 * 3600);
    CHECK(zone("Australia/Lord_Howe").offset_at(utc("2090-01-15T00:00:00Z")) == 11 * 3600);
    CHECK(zone("Australia/Lord_Howe").offset_at(utc("2090-07-15T00:00:00Z")) == 10 * 3600 + 1800);
    CHECK(zone("Europe/Dublin").offset_at(utc("2099-07-01T00:00:00Z")) == 3600);
    CHECK(zone("Europe/Dublin").offset_at(utc("2099-01-01T00:00:00Z")) == 0);
  }

  TEST_CASE("to_utc says unique, gap or overlap") {
    const tz::Zone& ny = zone("America/New_York");
    const auto local = [](const char* iso) { return utc(iso); }; // local seconds read as UTC
    auto u = ny.to_utc(local("2025-07-01T12:00:00Z"));
    CHECK(u.kind == tz::LocalKind::unique);
    CHECK(u.first == utc("2025-07-01T16:00:00Z"));
    auto g = ny.to_utc(local("2025-03-09T02:30:00Z"));
    CHECK(g.kind == tz::LocalKind::gap);
    CHECK(g.first == utc("2025-03-09T07:00:00Z"));
    auto o = ny.to_utc(local("2025-11-02T01:30:00Z"));
    CHECK(o.kind == tz::LocalKind::overlap);
    CHECK(o.first == utc("2025-11-02T05:30:00Z"));
    CHECK(o.second == utc("2025-11-02T06:30:00Z"));
    // Apia skipped a whole day.
    auto apia = zone("Pacific/Apia").to_utc(local("2011-12-30T12:00:00Z"));
    CHECK(apia.kind == tz::LocalKind::gap);
    CHECK(apia.first == utc("2011-12-30T10:00:00Z"));
    // Dublin's negative DST: the gap is in March, as everywhere in Europe.
    CHECK(zone("Europe/Dublin").to_utc(local("2025-03-30T01:30:00Z")).kind == tz::LocalKind::gap);
  }
}

TEST_SUITE("tz::PosixRule") {
  TEST_CASE("computes the year's transitions") {
    auto r = tz::PosixRule::parse("EST5EDT,M3.2.0,M11.1.0");
    REQUIRE(r.ok());
    auto t = r->transitions_in(2025);
    REQUIRE(t.size() == 2);
    CHECK(t[0].at == utc("2025-03-09T07:00:00Z"));
    CHECK(t[0].offset == -4 * 3600);
    CHECK(t[0].abbrev == "EDT");
    CHECK(t[1].at == utc("2025-11-02T06:00:00Z"));
    CHECK(t[1].offset == -5 * 3600);
  }

  TEST_CASE("handles quoted names, half hours, southern and negative DST") {
    auto lh = tz::PosixRule::parse("<+1030>-10:30<+11>-11:00,M10.1.0,M4.1.0");
    REQUIRE(lh.ok());
    auto t = lh->transitions_in(2025);
    REQUIRE(t.size() == 2);
    CHECK(t[0].at == utc("2025-04-05T15:00:00Z")); // 02:00 +11 -> 01:30 +10:30
    CHECK(t[1].at == utc("2025-10-04T15:30:00Z")); // 02:00 +10:30 -> 02:30 +11
    auto dublin = tz::PosixRule::parse("IST-1GMT0,M10.5.0,M3.5.0/1");
    REQUIRE(dublin.ok());
    auto d = dublin->transitions_in(2025);
    REQUIRE(d.size() == 2);
    CHECK(d[0].at == utc("2025-03-30T01:00:00Z"));
    CHECK(d[0].offset == 3600);
    CHECK(d[1].at == utc("2025-10-26T01:00:00Z"));
    CHECK(d[1].offset == 0);
    CHECK(tz::PosixRule::parse("<+01>-1").ok());
    CHECK(tz::PosixRule::parse("<+01>-1")->transitions_in(2030).empty());
    CHECK_FALSE(tz::PosixRule::parse("E5").ok());
    CHECK_FALSE(tz::PosixRule::parse("EST5EDT,M13.1.0,M11.1.0").ok());
  }
}

TEST_SUITE("tz::format") {
  TEST_CASE("parses ISO 8601 with Z, offsets, and local times") {
    const tz::Zone& ny = zone("America/New_York");
    CHECK(*tz::parse_time("2025-03-08T12:00Z", ny) == utc("2025-03-08T12:00:00Z"));
    CHECK(*tz::parse_time("2025-03-08 12:00:00.750+01:00", ny) == utc("2025-03-08T11:00:00Z"));
    CHECK(*tz::parse_time("2025-03-08T12:00:00-0430", ny) == utc("2025-03-08T16:30:00Z"));
    CHECK(*tz::parse_time("2025-03-08", ny) == utc("2025-03-08T05:00:00Z"));
    CHECK(*tz::parse_time("2025-03-09T02:30", ny) == utc("2025-03-09T07:00:00Z")); // in the gap
    CHECK(*tz::parse_time("2025-11-02T01:30", ny) == utc("2025-11-02T05:30:00Z")); // earlier
    auto bad = tz::parse_time("2025-02-30T00:00Z", ny);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == "invalid time \"2025-02-30T00:00Z\": no such date (valid: "
                                 "2025-03-08T12:00:00Z, 2025-03-08T12:00+01:00, 2025-03-08)");
    CHECK_FALSE(tz::parse_time("tomorrow", ny).ok());
    CHECK_FALSE(tz::parse_time("2025-03-08T25:00Z", ny).ok());
  }

  TEST_CASE("formats instants") {
    const auto t = utc("2025-03-09T07:00:00Z");
    CHECK(tz::format_utc(t) == "2025-03-09T07:00:00Z");
    CHECK(tz::format_local(t, zone("America/New_York")) == "2025-03-09T03:00:00-04:00");
    CHECK(tz::format_local(t, zone("Asia/Kolkata")) == "2025-03-09T12:30:00+05:30");
    CHECK(tz::format_offset(-(3 * 3600 + 30 * 60)) == "-03:30");
    CHECK(tz::format_utc(-1) == "1969-12-31T23:59:59Z");
  }
}
