// Second by second, two hours either side of every transition from 2020 to 2030 in twelve
// zones: the fires next() walks through are exactly those the oracle finds, strictly
// increasing, none doubled, none missed.
#include "support/oracle.hpp"

#include <cron/schedule.hpp>
#include <tz/format.hpp>

#include <doctest/doctest.h>

#include <vector>

TEST_SUITE("cron DST sweep") {
  TEST_CASE("every transition 2020-2030, +-2 h, second by second") {
    const char* zones[] = {"Europe/London",    "Europe/Berlin",       "Europe/Dublin",
                           "America/New_York", "America/Santiago",    "America/Havana",
                           "America/Asuncion", "Australia/Lord_Howe", "Australia/Sydney",
                           "Pacific/Chatham",  "Africa/Casablanca",   "Pacific/Apia"};
    const char* expressions[] = {
        "* * * * *",      "*/15 * * * *", "0 * * * *",      "30 * * * *",    "0 0 * * *",
        "0 1 * * *",      "30 1 * * *",   "0 2 * * *",      "30 2 * * *",    "45 2 * * *",
        "0,30 0-3 * * *", "15 23 * * *",  "*/10 * * * * *", "30 30 2 * * *",
    };
    const std::int64_t from = *tz::parse_time("2020-01-01T00:00:00Z", tz::utc());
    const std::int64_t to = *tz::parse_time("2031-01-01T00:00:00Z", tz::utc());
    constexpr std::int64_t window = 2 * 3600;
    size_t transitions = 0;
    size_t fires = 0;
    for (const char* zone_name : zones) {
      const tz::Zone& zone = **tz::find_zone(zone_name);
      for (size_t i = zone.index_at(from) + 1; i < zone.period_count(); ++i) {
        const std::int64_t at = zone.period(i).begin;
        if (at >= to) {
          break;
        }
        ++transitions;
        for (const char* expression : expressions) {
          for (auto gap : {cron::DstGap::shift, cron::DstGap::skip}) {
            cron::ParseOptions options;
            options.zone = &zone;
            options.dst_gap = gap;
            const auto s = *cron::Schedule::parse(expression, options);
            std::vector<std::int64_t> expected;
            for (std::int64_t u = at - window; u <= at + window; ++u) {
              if (oracle::fires_at(s, u)) {
                expected.push_back(u);
              }
            }
            std::vector<std::int64_t> got;
            cron::Instant t{std::chrono::seconds{at - window - 1}};
            for (;;) {
              const auto next = s.next(t);
              REQUIRE(next.has_value());
              REQUIRE(*next > t);
              if (next->time_since_epoch().count() > at + window) {
                break;
              }
              got.push_back(next->time_since_epoch().count());
              t = *next;
            }
            if (got != expected) {
              std::string g, e;
              for (auto x : got) {
                g += tz::format_utc(x) + " ";
              }
              for (auto x : expected) {
                e += tz::format_utc(x) + " ";
              }
              FAIL_CHECK(zone_name << " " << tz::format_utc(at) << " '" << expression
                                   << "' skip=" << (gap == cron::DstGap::skip) << "\n got: " << g
                                   << "\n want: " << e);
            }
            fires += got.size();
          }
        }
      }
    }
    MESSAGE(transitions << " transitions, " << fires << " fires checked");
    CHECK(transitions >= 150);
  }
}
