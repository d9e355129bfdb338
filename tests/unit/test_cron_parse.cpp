#include <cron/schedule.hpp>

#include <doctest/doctest.h>

namespace {

std::string canonical(const char* text, std::string_view seed = {}) {
  cron::ParseOptions options;
  options.seed = seed;
  auto s = cron::Schedule::parse(text, options);
  REQUIRE_MESSAGE(s.ok(), text << ": " << (s.ok() ? "" : s.error().message));
  return s->to_string();
}

} // namespace

TEST_SUITE("cron::Schedule::parse") {
  TEST_CASE("canonical form") {
    const std::pair<const char*, const char*> cases[] = {
        {"*/5 9-17 * * 1-5", "*/5 9-17 * * 1-5"},
        {"0 2 * * *", "0 2 * * *"},
        {"30 14 1,15 * *", "30 14 1,15 * *"},
        {"0 0 29 2 *", "0 0 29 2 *"},
        {"0 0 L * *", "0 0 L * *"},
        {"0 9 * * 1#2", "0 9 * * 1#2"},
        {"0 9 * * MON#2", "0 9 * * 1#2"},
        {"0 0 * JAN,jul sun", "0 0 * 1,7 0"},
        {"0 0 * * 7", "0 0 * * 0"},
        {"0 0 * * 5-7", "0 0 * * 0,5-6"},
        {"0 0 * * FRI-SUN", "0 0 * * 0,5-6"},
        {"0 0 * * 1-7", "0 0 * * 0-6"},
        {"0 0 ? * MON", "0 0 * * 1"},
        {"0 12 15W * ?", "0 12 15W * *"},
        {"0 12 LW * *", "0 12 LW * *"},
        {"0 12 * * 5L", "0 12 * * 5L"},
        {"0 0 1,L * *", "0 0 1,L * *"},
        {"0-59/10 * * * *", "0-50/10 * * * *"},
        {"5/15 * * * *", "5-50/15 * * * *"},
        {"*/15 * * * *", "*/15 * * * *"},
        {"*/2,5 * * * *", "*/2,5 * * * *"},
        {"1,2,3,5 * * * *", "1-3,5 * * * *"},
        {"0 0 */2 * 5", "0 0 */2 * 5"},
        {"*/10 * * * * *", "*/10 * * * * *"},
        {"0 30 2 * * *", "30 2 * * *"},
        {"15 30 2 * * *", "15 30 2 * * *"},
        {"@daily", "0 0 * * *"},
        {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"},
        {"@weekly", "0 0 * * 0"},
        {"@monthly", "0 0 1 * *"},
        {"@yearly", "0 0 1 1 *"},
        {"@annually", "0 0 1 1 *"},
        {"@reboot", "@reboot"},
        {"@every 90m", "@every 1h30m"},
        {"@every 3600", "@every 1h"},
        {"CRON_TZ=Europe/Berlin 0 3 * * *", "CRON_TZ=Europe/Berlin 0 3 * * *"},
        {"TZ=Asia/Kolkata @daily", "CRON_TZ=Asia/Kolkata 0 0 * * *"},
        {"  0   2 * * *  ", "0 2 * * *"},
    };
    for (auto [text, expected] : cases) {
      const std::string input(text); // doctest cannot capture a structured binding
      CAPTURE(input);
      CHECK(canonical(text) == std::string(expected));
      CHECK(canonical(canonical(text).c_str()) == std::string(expected));
    }
  }

  TEST_CASE("H is stable for a seed and differs between seeds") {
    const auto a = canonical("H H * * *", "nightly-report");
    CHECK(a == canonical("H H * * *", "nightly-report"));
    CHECK(a != canonical("H H * * *", "weekly-report"));
    // In range: H/15 gives four minutes 15 apart, H(1-5) in the hour field a value in 1..5.
    cron::ParseOptions options;
    options.seed = "job-42";
    auto s = cron::Schedule::parse("H/15 H(1-5) H * *", options);
    REQUIRE(s.ok());
    for (int k = 0; k < 200; ++k) {
      const auto t = s->next(cron::Instant{std::chrono::seconds{1700000000 + k * 86400 * 3}});
      REQUIRE(t.has_value());
      const auto sod = t->time_since_epoch().count() % 86400;
      CHECK(sod / 3600 >= 1);
      CHECK(sod / 3600 <= 5);
    }
  }

  TEST_CASE("H with a step wider than its range still gives a value (fuzz regression)") {
    for (const char* seed : {"", "a", "b", "fuzz", "nightly-report", "job-42", "x-y-z"}) {
      cron::ParseOptions options;
      options.seed = seed;
      auto s = cron::Schedule::parse("H(0-29)/50 * * * *", options);
      REQUIRE(s.ok());
      const auto text = s->to_string();
      CAPTURE(text);
      auto again = cron::Schedule::parse(text);
      REQUIRE(again.ok());
      CHECK(*again == *s);
      const auto fire = s->next(cron::Instant{});
      REQUIRE(fire.has_value());
      CHECK(fire->time_since_epoch().count() / 60 % 60 <= 29);
    }
  }

  TEST_CASE("classifies interval and fixed-time schedules as cronie does") {
    const std::pair<const char*, bool> cases[] = {
        {"0 * * * *", true},     {"*/15 9-17 * * *", true}, {"30 */2 * * *", true},
        {"0 2 * * *", false},    {"0 0-23 * * *", false},   {"@hourly", true},
        {"@every 1h", true},     {"@daily", false},         {"H/15 * * * *", true},
        {"0,30 1 * * *", false},
    };
    for (auto [text, interval] : cases) {
      const std::string input(text); // doctest cannot capture a structured binding
      CAPTURE(input);
      CHECK(cron::Schedule::parse(text)->is_interval() == interval);
    }
  }

  TEST_CASE("errors name the field and point at the character") {
    struct Case {
      const char* text;
      const char* message;
      int column;
      int length;
    };
    const Case cases[] = {
        {"0 24 * * *", "field 2 (hour): 24 is out of range 0-23", 3, 2},
        {"60 * * * *", "field 1 (minute): 60 is out of range 0-59", 1, 2},
        {"0 0 0 * *", "field 3 (day of month): 0 is out of range 1-31", 5, 1},
        {"0 0 1 13 *", "field 4 (month): 13 is out of range 1-12", 7, 2},
        {"0 0 * * 8", "field 5 (day of week): 8 is out of range 0-7", 9, 1},
        {"61 0 0 * * *", "field 1 (second): 61 is out of range 0-59", 1, 2},
        {"0 0 1 JANN *",
         "field 4 (month): unknown name \"JANN\"; did you mean \"JAN\"? (valid: JAN-DEC or 1-12)",
         7, 4},
        {"0 0 * * FUN",
         "field 5 (day of week): unknown name \"FUN\"; did you mean \"SUN\"? (valid: SUN-SAT or "
         "0-7)",
         9, 3},
        {"*/0 * * * *", "field 1 (minute): step 0 is out of range 1-60", 3, 1},
        {"0 */25 * * *", "field 2 (hour): step 25 is out of range 1-24", 5, 2},
        {"5-1 * * * *", "field 1 (minute): range 5-1 is reversed; to wrap around write 5-59,0-1", 1,
         3},
        {"0 22-2 * * *", "field 2 (hour): range 22-2 is reversed; to wrap around write 22-23,0-2",
         3, 4},
        {"1,,2 * * * *", "field 1 (minute): empty list item", 3, 1},
        {"1, * * * *", "field 1 (minute): empty list item", 3, 1},
        {"1x * * * *", "field 1 (minute): unexpected 'x'", 2, 1},
        {"? * * * *",
         "field 1 (minute): '?' is only valid in the day-of-month and day-of-week fields; use '*'",
         1, 1},
        {"0 0 * * L",
         "field 5 (day of week): 'L' alone is ambiguous here; write 5L for the last Friday of the "
         "month, or SAT",
         9, 1},
        {"0 0 * * 1#6",
         "field 5 (day of week): expected 1-5 after '#' (the n-th weekday of the month)", 11, 1},
        {"0 0 L-2 * *", "field 3 (day of month): unexpected '-'", 6, 1},
        {"0 0 * *",
         "expected 5 fields (minute hour day-of-month month day-of-week) or 6 (with "
         "seconds first), got 4",
         8, 1},
        {"0 0 * * * * *",
         "expected 5 fields (minute hour day-of-month month day-of-week) or 6 "
         "(with seconds first), got 7",
         13, 1},
        {"", "empty schedule; expected 5 or 6 fields or a macro such as @daily", 1, 1},
        {"0 0 30 2 *", "schedule never fires: FEB has no day 30", 5, 2},
        {"0 0 31 4,6,9,11 *", "schedule never fires: APR, JUN, SEP and NOV have no day 31", 5, 2},
        {"0 0 30,31 2 *", "schedule never fires: FEB has no day 30 or later in the list", 5, 5},
        {"@dayly",
         "unknown macro \"@dayly\"; did you mean \"@daily\"? (valid: @yearly @annually @monthly "
         "@weekly @daily @midnight @hourly @reboot @every DURATION)",
         1, 6},
        {"@daily 5", "unexpected text after @daily", 8, 1},
        {"@every", "@every takes one duration, e.g. @every 15m", 7, 1},
        {"@every 0s", "@every needs a duration of at least 1s", 8, 2},
        {"@every 15x",
         "invalid duration \"15x\": unknown unit 'x' (valid: 90, 90s, 15m, 1h30m, 2d)", 10, 1},
        {"CRON_TZ=Europe/Berln 0 0 * * *",
         "unknown time zone \"Europe/Berln\"; did you mean \"Europe/Berlin\"?", 9, 12},
        {"CRON_TZ=UTC", "expected a schedule after the time zone", 12, 1},
        {"H(5-1) * * * *", "field 1 (minute): range 5-1 in H(a-b) is reversed", 1, 6},
    };
    for (const auto& c : cases) {
      CAPTURE(c.text);
      auto s = cron::Schedule::parse(c.text);
      REQUIRE_FALSE(s.ok());
      CHECK(s.error().message == c.message);
      CHECK(s.error().location.column == c.column);
      CHECK(s.error().length == c.length);
      CHECK(s.error().source_line == c.text);
    }
  }

  TEST_CASE("a parsed schedule is small plain data") {
    static_assert(sizeof(cron::Schedule) <= 64);
    static_assert(std::is_trivially_copyable_v<cron::Schedule>);
    static_assert(std::is_trivially_destructible_v<cron::Schedule>);
  }
}
