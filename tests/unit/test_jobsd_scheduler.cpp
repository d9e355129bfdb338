#include <jobs/diagnostics.hpp>
#include <jobs/loader.hpp>
#include <jobsd/queues.hpp>
#include <jobsd/scheduler.hpp>
#include <tz/format.hpp>
#include <tz/zone.hpp>

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace {

// Lines of text, which doctest shows one per line when a check fails.
struct Lines : std::vector<std::string> {
  using std::vector<std::string>::vector;
};

std::ostream& operator<<(std::ostream& out, const Lines& lines) {
  out << "{";
  for (const auto& line : lines) {
    out << "\n  " << line;
  }
  return out << "\n}";
}

// UTC seconds of an ISO time ("2025-03-09T07:00:00Z").
std::int64_t utc(const std::string& iso) {
  const auto t = tz::parse_time(iso, tz::utc());
  REQUIRE_MESSAGE(t.ok(), iso);
  return *t;
}

std::string iso(std::optional<std::int64_t> t) {
  return t ? tz::format_utc(*t) : std::string("never");
}

// The job `id` (from the file "<id>.yaml") with `schedule` as written after "schedule: ", and
// `extra` lines (each ending in a newline) such as "timezone: America/New_York\n".
jobsd::JobPtr make_job(const std::string& id, const std::string& schedule,
                       const std::string& extra = "") {
  const std::string text = "schedule: " + schedule + "\n" + extra + "command: 'true'\n";
  const auto file = jobs::load_job_text(id + ".yaml", text, {});
  for (const auto& d : file.diagnostics) {
    MESSAGE(jobs::render(d));
  }
  REQUIRE_MESSAGE(file.job.has_value(), text);
  return std::make_shared<const jobs::JobDefinition>(*file.job);
}

const std::string new_york = "timezone: America/New_York\n";

// One fire as a line: "id instant [catchup] [run_at T] [skip: reason]"; run_at only when it is
// not the instant itself.
std::string describe(const jobsd::Fire& f) {
  std::string out = f.job->id + " " + tz::format_utc(f.instant);
  if (f.catchup) {
    out += " catchup";
  }
  if (f.run_at_ms != f.instant * 1000) {
    out += " run_at " + tz::format_utc(f.run_at_ms / 1000);
    if (f.run_at_ms % 1000 != 0) {
      out += " +" + std::to_string(f.run_at_ms % 1000) + "ms";
    }
  }
  if (!f.skip.empty()) {
    out += " skip: " + f.skip;
  }
  return out;
}

Lines describe(const std::vector<jobsd::Fire>& fires) {
  Lines out;
  for (const auto& f : fires) {
    out.push_back(describe(f));
  }
  return out;
}

// take_due() at `now`, described; the notes go to `notes` when given.
Lines due(jobsd::Scheduler& s, const std::string& now, Lines* notes = nullptr) {
  std::vector<std::string> lines;
  const auto fires = s.take_due(utc(now), &lines);
  if (notes != nullptr) {
    notes->assign(lines.begin(), lines.end());
  }
  return describe(fires);
}

// Drives `s` as the daemon does, from fire to fire, up to `until`: at each next_due() nothing is
// due a second earlier, and what is due then is taken.
Lines run_until(jobsd::Scheduler& s, const std::string& until) {
  Lines out;
  const std::int64_t end = utc(until);
  while (const auto next = s.next_due()) {
    if (*next > end) {
      break;
    }
    CHECK_MESSAGE(s.take_due(*next - 1).empty(), "due before " << tz::format_utc(*next));
    const auto fires = s.take_due(*next);
    CHECK_MESSAGE(!fires.empty(), "nothing due at " << tz::format_utc(*next));
    for (const auto& f : fires) {
      out.push_back(describe(f));
    }
  }
  return out;
}

using LastFires = std::map<std::string, std::string>;

// What the store knows at start-up, for set_jobs(): last fires from ISO times by job id, and
// jobsd began to load at `began` (default: the `now` of set_jobs()).
jobsd::Scheduler::StartUp last_fires(LastFires known, std::int64_t began = INT64_MAX) {
  return {began, [known = std::move(known)](const std::string& id) -> std::optional<std::int64_t> {
            const auto it = known.find(id);
            if (it == known.end()) {
              return std::nullopt;
            }
            return utc(it->second);
          }};
}

} // namespace

TEST_SUITE("jobsd.scheduler") {
  TEST_CASE("each fire comes out once, in time order") {
    jobsd::Scheduler s;
    const auto a = make_job("a", "\"0 * * * *\"");
    const auto b = make_job("b", "\"30 * * * *\"");
    s.set_jobs({a, b}, utc("2025-06-01T12:10:00Z"));
    CHECK(s.size() == 2);
    CHECK(iso(s.next_due()) == "2025-06-01T12:30:00Z");
    CHECK(iso(s.next_fire("a")) == "2025-06-01T13:00:00Z");
    CHECK(iso(s.next_fire("b")) == "2025-06-01T12:30:00Z");
    CHECK(iso(s.next_fire("nope")) == "never");

    CHECK(due(s, "2025-06-01T12:29:59Z") == Lines{});
    // A fire at exactly `now` is due, and only once.
    CHECK(due(s, "2025-06-01T12:30:00Z") == Lines{"b 2025-06-01T12:30:00Z"});
    CHECK(due(s, "2025-06-01T12:30:00Z") == Lines{});
    CHECK(iso(s.next_due()) == "2025-06-01T13:00:00Z");
    CHECK(iso(s.next_fire("b")) == "2025-06-01T13:30:00Z");

    // Taken late (the daemon was busy), fires are ordinary ones, in time order over all jobs.
    Lines notes;
    CHECK(due(s, "2025-06-01T14:00:00Z", &notes) ==
          Lines{"a 2025-06-01T13:00:00Z", "b 2025-06-01T13:30:00Z", "a 2025-06-01T14:00:00Z"});
    CHECK(notes == Lines{});
    CHECK(due(s, "2025-06-01T14:00:00Z") == Lines{});
    CHECK(iso(s.next_due()) == "2025-06-01T14:30:00Z");
    CHECK(iso(s.next_fire("a")) == "2025-06-01T15:00:00Z");
  }

  TEST_CASE("the fires each Fire carries: job and run time") {
    jobsd::Scheduler s;
    const auto a = make_job("a", "\"0 * * * *\"");
    s.set_jobs({a}, utc("2025-06-01T12:10:00Z"));
    const auto fires = s.take_due(utc("2025-06-01T13:00:00Z"));
    REQUIRE(fires.size() == 1);
    CHECK(fires[0].job == a);
    CHECK(fires[0].instant == utc("2025-06-01T13:00:00Z"));
    CHECK(fires[0].run_at_ms == utc("2025-06-01T13:00:00Z") * 1000);
    CHECK_FALSE(fires[0].catchup);
    CHECK(fires[0].skip.empty());
  }

  TEST_CASE("an every-second schedule taken 3s late gives its 3 fires") {
    jobsd::Scheduler s;
    s.set_jobs({make_job("sec", "\"* * * * * *\"")}, utc("2025-06-01T12:00:00Z"));
    CHECK(iso(s.next_due()) == "2025-06-01T12:00:01Z");
    Lines notes;
    CHECK(due(s, "2025-06-01T12:00:03Z", &notes) == Lines{"sec 2025-06-01T12:00:01Z",
                                                          "sec 2025-06-01T12:00:02Z",
                                                          "sec 2025-06-01T12:00:03Z"});
    CHECK(notes == Lines{});
    CHECK(iso(s.next_due()) == "2025-06-01T12:00:04Z");
  }

  TEST_CASE("fires missed while jobsd was down follow missed and max_lateness") {
    // The job d fires hourly; its last fire was 08:00 and jobsd starts at 12:10: 09:00, 10:00,
    // 11:00 and 12:00 were missed.
    struct Case {
      const char* schedule;
      const char* last;
      Lines fires;
      Lines notes;
    };
    const std::string range =
        "4 fires missed while jobsd was down (2025-06-01T09:00:00Z to 2025-06-01T12:00:00Z)";
    const Case cases[] = {
        // The default is missed: once.
        {"\"0 * * * *\"",
         "2025-06-01T08:00:00Z",
         {"d 2025-06-01T12:00:00Z catchup run_at 2025-06-01T12:10:00Z"},
         {"job d: " + range + "; running the latest once (missed: once)"}},
        {"{cron: \"0 * * * *\", missed: once}",
         "2025-06-01T08:00:00Z",
         {"d 2025-06-01T12:00:00Z catchup run_at 2025-06-01T12:10:00Z"},
         {"job d: " + range + "; running the latest once (missed: once)"}},
        {"{cron: \"0 * * * *\", missed: skip}",
         "2025-06-01T08:00:00Z",
         {"d 2025-06-01T12:00:00Z run_at 2025-06-01T12:10:00Z skip: missed while jobsd was down "
          "(missed: skip)"},
         {"job d: " + range + "; missed: skip runs none"}},
        // max_lateness does not matter when none runs anyway.
        {"{cron: \"0 * * * *\", missed: skip, max_lateness: 1m}",
         "2025-06-01T08:00:00Z",
         {"d 2025-06-01T12:00:00Z run_at 2025-06-01T12:10:00Z skip: missed while jobsd was down "
          "(missed: skip)"},
         {"job d: " + range + "; missed: skip runs none"}},
        {"{cron: \"0 * * * *\", missed: all}",
         "2025-06-01T08:00:00Z",
         {"d 2025-06-01T09:00:00Z catchup run_at 2025-06-01T12:10:00Z",
          "d 2025-06-01T10:00:00Z catchup run_at 2025-06-01T12:10:00Z",
          "d 2025-06-01T11:00:00Z catchup run_at 2025-06-01T12:10:00Z",
          "d 2025-06-01T12:00:00Z catchup run_at 2025-06-01T12:10:00Z"},
         {"job d: " + range + "; running 4 (missed: all)"}},
        // 09:00 (3h10m late) and 10:00 (2h10m) are too old: one skip record for the latest.
        {"{cron: \"0 * * * *\", missed: all, max_lateness: 2h}",
         "2025-06-01T08:00:00Z",
         {"d 2025-06-01T10:00:00Z run_at 2025-06-01T12:10:00Z skip: missed while jobsd was down: "
          "2h10m late, more than max_lateness 2h",
          "d 2025-06-01T11:00:00Z catchup run_at 2025-06-01T12:10:00Z",
          "d 2025-06-01T12:00:00Z catchup run_at 2025-06-01T12:10:00Z"},
         {"job d: " + range + "; running 2 (missed: all)"}},
        {"{cron: \"0 * * * *\", missed: all, max_lateness: 1m}",
         "2025-06-01T08:00:00Z",
         {"d 2025-06-01T12:00:00Z run_at 2025-06-01T12:10:00Z skip: missed while jobsd was down: "
          "10m late, more than max_lateness 1m"},
         {"job d: " + range + "; running 0 (missed: all)"}},
        {"{cron: \"0 * * * *\", missed: once, max_lateness: 5m}",
         "2025-06-01T08:00:00Z",
         {"d 2025-06-01T12:00:00Z run_at 2025-06-01T12:10:00Z skip: missed while jobsd was down: "
          "10m late, more than max_lateness 5m"},
         {"job d: " + range + "; the latest is past max_lateness, none runs"}},
        // Exactly max_lateness late is not older than it.
        {"{cron: \"0 * * * *\", missed: once, max_lateness: 10m}",
         "2025-06-01T08:00:00Z",
         {"d 2025-06-01T12:00:00Z catchup run_at 2025-06-01T12:10:00Z"},
         {"job d: " + range + "; running the latest once (missed: once)"}},
        {"{cron: \"0 * * * *\", missed: all}",
         "2025-06-01T11:00:00Z",
         {"d 2025-06-01T12:00:00Z catchup run_at 2025-06-01T12:10:00Z"},
         {"job d: 1 fire missed while jobsd was down (2025-06-01T12:00:00Z); running 1 (missed: "
          "all)"}},
        // Nothing was missed.
        {"{cron: \"0 * * * *\", missed: all}", "2025-06-01T12:00:00Z", {}, {}},
        // The store knows a fire after now (the clock went back): it never comes again.
        {"{cron: \"0 * * * *\", missed: all}", "2025-06-01T13:00:00Z", {}, {}},
    };
    for (const auto& c : cases) {
      CAPTURE(c.schedule);
      CAPTURE(c.last);
      jobsd::Scheduler s;
      s.set_jobs({make_job("d", c.schedule)}, utc("2025-06-01T12:10:00Z"),
                 last_fires({{"d", c.last}}));
      Lines notes;
      CHECK(due(s, "2025-06-01T12:10:00Z", &notes) == c.fires);
      CHECK(notes == c.notes);
      CHECK(due(s, "2025-06-01T12:10:00Z") == Lines{});
      const bool after_now = std::string(c.last) == "2025-06-01T13:00:00Z";
      CHECK(iso(s.next_fire("d")) == (after_now ? "2025-06-01T14:00:00Z" : "2025-06-01T13:00:00Z"));
      // The next fire is an ordinary one again.
      CHECK(due(s, "2025-06-01T14:00:00Z") ==
            (after_now ? Lines{"d 2025-06-01T14:00:00Z"}
                       : Lines{"d 2025-06-01T13:00:00Z", "d 2025-06-01T14:00:00Z"}));
    }
  }

  TEST_CASE("only the fires up to the start were missed while down") {
    // Started at 12:10 after a last fire at 08:00, first taken at 13:00:05: 09:00-12:00 were
    // missed while down (the latest runs once, now), 13:00 is an ordinary fire.
    jobsd::Scheduler s;
    s.set_jobs({make_job("d", "\"0 * * * *\"")}, utc("2025-06-01T12:10:00Z"),
               last_fires({{"d", "2025-06-01T08:00:00Z"}}));
    CHECK(iso(s.next_due()) == "2025-06-01T09:00:00Z");
    CHECK(due(s, "2025-06-01T13:00:05Z") ==
          Lines{"d 2025-06-01T12:00:00Z catchup run_at 2025-06-01T13:00:05Z",
                "d 2025-06-01T13:00:00Z"});
  }

  TEST_CASE("at start-up, the fires due while jobsd loaded its jobs are late, not missed") {
    // Down from a last fire at 12:00:00; began to load at 12:00:07, ready at 12:00:10. A new
    // job starts at 12:00:07 too.
    jobsd::Scheduler s;
    s.set_jobs({make_job("d", "{cron: \"* * * * * *\", missed: skip}"),
                make_job("n", "\"*/2 * * * * *\"")},
               utc("2025-06-01T12:00:10Z"),
               last_fires({{"d", "2025-06-01T12:00:00Z"}}, utc("2025-06-01T12:00:07Z")));
    Lines notes;
    CHECK(due(s, "2025-06-01T12:00:10Z", &notes) ==
          Lines{"d 2025-06-01T12:00:07Z run_at 2025-06-01T12:00:10Z skip: missed while jobsd was "
                "down (missed: skip)",
                "d 2025-06-01T12:00:08Z", "n 2025-06-01T12:00:08Z", "d 2025-06-01T12:00:09Z",
                "d 2025-06-01T12:00:10Z", "n 2025-06-01T12:00:10Z"});
    CHECK(notes == Lines{"job d: 7 fires missed while jobsd was down (2025-06-01T12:00:01Z to "
                         "2025-06-01T12:00:07Z); missed: skip runs none"});
  }

  TEST_CASE("a job without a last fire starts at now") {
    jobsd::Scheduler s;
    s.set_jobs({make_job("d", "{cron: \"0 * * * *\", missed: all}"),
                make_job("e", "{cron: \"5 * * * *\", missed: all}")},
               utc("2025-06-01T12:10:00Z"), last_fires({{"e", "2025-06-01T11:05:00Z"}}));
    CHECK(iso(s.next_fire("d")) == "2025-06-01T13:00:00Z");
    CHECK(due(s, "2025-06-01T12:10:00Z") ==
          Lines{"e 2025-06-01T12:05:00Z catchup run_at 2025-06-01T12:10:00Z"});
    CHECK(due(s, "2025-06-01T13:05:00Z") ==
          Lines{"d 2025-06-01T13:00:00Z", "e 2025-06-01T13:05:00Z"});
  }

  TEST_CASE("at most max_catchup_fires missed fires run, the most recent") {
    const auto t0 = utc("2025-06-01T12:00:00Z");
    const auto check = [&](const char* schedule, std::int64_t down_for, size_t runs,
                           const char* first, const Lines& notes) {
      CAPTURE(schedule);
      CAPTURE(down_for);
      jobsd::Scheduler s;
      s.set_jobs({make_job("s", schedule)}, t0 + down_for,
                 last_fires({{"s", "2025-06-01T12:00:00Z"}}));
      std::vector<std::string> lines;
      const auto fires = s.take_due(t0 + down_for, &lines);
      REQUIRE(fires.size() == runs);
      CHECK(tz::format_utc(fires.front().instant) == first);
      CHECK(fires.back().instant == t0 + down_for);
      for (size_t i = 0; i < fires.size(); ++i) {
        CHECK(fires[i].catchup);
        CHECK(fires[i].skip.empty());
        CHECK(fires[i].run_at_ms == (t0 + down_for) * 1000);
        if (i > 0) {
          CHECK(fires[i].instant == fires[i - 1].instant + 1);
        }
      }
      CHECK(Lines(lines.begin(), lines.end()) == notes);
      CHECK(s.take_due(t0 + down_for).empty());
    };
    static_assert(jobsd::max_catchup_fires == 1000);
    // Exactly the limit: all run.
    check("{cron: \"* * * * * *\", missed: all}", 1000, 1000, "2025-06-01T12:00:01Z",
          {"job s: 1000 fires missed while jobsd was down (2025-06-01T12:00:01Z to "
           "2025-06-01T12:16:40Z); running 1000 (missed: all)"});
    // 1500 missed: the latest 1000 run, 12:08:21 to 12:25:00.
    check("{cron: \"* * * * * *\", missed: all}", 1500, 1000, "2025-06-01T12:08:21Z",
          {"job s: more than 1000 fires missed while jobsd was down (2025-06-01T12:00:01Z to "
           "2025-06-01T12:25:00Z); running 1000 (missed: all, at most 1000)"});
    check("{cron: \"* * * * * *\", missed: once}", 1500, 1, "2025-06-01T12:25:00Z",
          {"job s: more than 1000 fires missed while jobsd was down (2025-06-01T12:00:01Z to "
           "2025-06-01T12:25:00Z); running the latest once (missed: once)"});
  }

  TEST_CASE("set_jobs keeps the place of a job whose schedule is the same") {
    jobsd::Scheduler s;
    s.set_jobs({make_job("a", "\"0 * * * *\"")}, utc("2025-06-01T12:10:00Z"));
    CHECK(due(s, "2025-06-01T13:00:00Z") == Lines{"a 2025-06-01T13:00:00Z"});

    // The same file read again (a new object, other keys changed): no re-fire, no duplicate.
    const auto again =
        make_job("a", "{cron: \"0 * * * *\", missed: all, jitter: 0s}", "priority: 90\n");
    s.set_jobs({again}, utc("2025-06-01T13:00:30Z"));
    CHECK(s.size() == 1);
    CHECK(iso(s.next_fire("a")) == "2025-06-01T14:00:00Z");
    CHECK(due(s, "2025-06-01T13:00:30Z") == Lines{});
    const auto fires = s.take_due(utc("2025-06-01T14:00:00Z"));
    REQUIRE(fires.size() == 1);
    CHECK(describe(fires[0]) == "a 2025-06-01T14:00:00Z");
    CHECK(fires[0].job == again); // the fire carries the new definition

    // Read again before a fire is taken: it is still due, once.
    s.set_jobs({make_job("a", "\"0 * * * *\"")}, utc("2025-06-01T14:20:00Z"));
    s.set_jobs({make_job("a", "\"0 * * * *\"")}, utc("2025-06-01T14:40:00Z"));
    CHECK(iso(s.next_due()) == "2025-06-01T15:00:00Z");
    CHECK(due(s, "2025-06-01T16:00:00Z") ==
          Lines{"a 2025-06-01T15:00:00Z", "a 2025-06-01T16:00:00Z"});
  }

  TEST_CASE("set_jobs restarts a job whose schedule changed after now") {
    struct Case {
      const char* changed; // the new schedule, or the new extra lines
      const char* extra;
      const char* next; // its first fire after the change at 13:20
    };
    const Case cases[] = {
        {"\"15 * * * *\"", "", "2025-06-01T14:15:00Z"},
        {"[\"0 * * * *\", \"45 * * * *\"]", "", "2025-06-01T13:45:00Z"},
        // The same expression in another zone: 14:00 UTC is 10:00 in New York.
        {"\"0 * * * *\"", "timezone: America/New_York\n", "2025-06-01T14:00:00Z"},
        {"{cron: \"0 * * * *\", dst_gap: skip}", "", "2025-06-01T14:00:00Z"},
    };
    for (const auto& c : cases) {
      CAPTURE(c.changed);
      CAPTURE(c.extra);
      jobsd::Scheduler s;
      s.set_jobs({make_job("a", "\"0 * * * *\"")}, utc("2025-06-01T12:10:00Z"));
      // 13:00 (old schedule) and 13:15 (new) pass without take_due: neither is caught up.
      s.set_jobs({make_job("a", c.changed, c.extra)}, utc("2025-06-01T13:20:00Z"));
      CHECK(iso(s.next_fire("a")) == c.next);
      Lines notes;
      CHECK(due(s, "2025-06-01T13:20:00Z", &notes) == Lines{});
      CHECK(notes == Lines{});
      CHECK(iso(s.next_due()) == c.next);
      CHECK(due(s, c.next) == Lines{"a " + std::string(c.next)});
    }
  }

  TEST_CASE("after the clock went back, fires handled never come again") {
    jobsd::Scheduler s;
    s.set_jobs({make_job("a", "\"0 * * * *\"")}, utc("2025-06-01T12:10:00Z"));
    CHECK(due(s, "2025-06-01T14:00:00Z") ==
          Lines{"a 2025-06-01T13:00:00Z", "a 2025-06-01T14:00:00Z"});
    // The clock is set back to 13:10.
    CHECK(due(s, "2025-06-01T13:10:00Z") == Lines{});
    CHECK(iso(s.next_due()) == "2025-06-01T15:00:00Z");
    s.set_jobs({make_job("a", "\"0 * * * *\"")}, utc("2025-06-01T13:10:00Z"));
    CHECK(iso(s.next_fire("a")) == "2025-06-01T15:00:00Z");
    // A changed schedule starts after what was handled too: not 13:30, not 14:00 again.
    s.set_jobs({make_job("a", "\"0,30 * * * *\"")}, utc("2025-06-01T13:20:00Z"));
    CHECK(iso(s.next_fire("a")) == "2025-06-01T14:30:00Z");
    CHECK(due(s, "2025-06-01T14:00:00Z") == Lines{});
    CHECK(due(s, "2025-06-01T14:30:00Z") == Lines{"a 2025-06-01T14:30:00Z"});
  }

  TEST_CASE("removed and disabled jobs do not fire") {
    jobsd::Scheduler s;
    s.set_jobs({make_job("a", "\"0 * * * *\""), make_job("b", "\"30 * * * *\""),
                make_job("off", "\"15 * * * *\"", "enabled: false\n")},
               utc("2025-06-01T12:10:00Z"));
    CHECK(s.size() == 2);
    CHECK(iso(s.next_fire("off")) == "never");
    CHECK(iso(s.next_due()) == "2025-06-01T12:30:00Z");

    s.set_jobs({make_job("b", "\"30 * * * *\"")}, utc("2025-06-01T12:20:00Z"));
    CHECK(s.size() == 1);
    CHECK(iso(s.next_fire("a")) == "never");
    CHECK(due(s, "2025-06-01T14:00:00Z") ==
          Lines{"b 2025-06-01T12:30:00Z", "b 2025-06-01T13:30:00Z"});

    // Disabling a scheduled job takes it out; enabling it again starts after now.
    s.set_jobs({make_job("b", "\"30 * * * *\"", "enabled: false\n")}, utc("2025-06-01T14:00:00Z"));
    CHECK(s.size() == 0);
    CHECK(iso(s.next_due()) == "never");
    CHECK(due(s, "2025-06-01T16:00:00Z") == Lines{});
    s.set_jobs({make_job("b", "\"30 * * * *\"")}, utc("2025-06-01T16:00:00Z"));
    CHECK(iso(s.next_due()) == "2025-06-01T16:30:00Z");

    // A removed job that comes back with the same schedule starts after now as well.
    s.set_jobs({}, utc("2025-06-01T16:10:00Z"));
    CHECK(iso(s.next_due()) == "never");
    s.set_jobs({make_job("b", "\"30 * * * *\"")}, utc("2025-06-01T17:40:00Z"));
    CHECK(due(s, "2025-06-01T17:40:00Z") == Lines{});
    CHECK(iso(s.next_due()) == "2025-06-01T18:30:00Z");
  }

  TEST_CASE("many reloads leave no stale fires behind") {
    jobsd::Scheduler s;
    const auto b = make_job("b", "\"15 * * * *\"");
    const auto a0 = make_job("a", "\"0 * * * *\"");
    const auto a1 = make_job("a", "\"30 * * * *\"");
    const auto start = utc("2025-06-01T12:10:00Z");
    for (int i = 0; i < 3001; ++i) {
      s.set_jobs({i % 2 == 0 ? a0 : a1, b}, start + i / 1000);
    }
    CHECK(s.size() == 2);
    CHECK(due(s, "2025-06-01T14:00:00Z") ==
          Lines{"b 2025-06-01T12:15:00Z", "a 2025-06-01T13:00:00Z", "b 2025-06-01T13:15:00Z",
                "a 2025-06-01T14:00:00Z"});
  }

  TEST_CASE("fires missed while the host was suspended follow missed") {
    // The job h fires every hour; the host slept from 01:30 to 05:30: 02:00, 03:00, 04:00 and
    // 05:00 were missed.
    struct Case {
      const char* schedule;
      Lines fires;
      Lines notes;
    };
    const std::string range = "job h: 4 fires missed while the host was suspended "
                              "(2025-06-01T02:00:00Z to 2025-06-01T05:00:00Z)";
    const Case cases[] = {
        {"{cron: \"0 * * * *\", missed: once}",
         {"h 2025-06-01T05:00:00Z catchup run_at 2025-06-01T05:30:00Z"},
         {range + "; running the latest once (missed: once)"}},
        {"{cron: \"0 * * * *\", missed: all}",
         {"h 2025-06-01T02:00:00Z catchup run_at 2025-06-01T05:30:00Z",
          "h 2025-06-01T03:00:00Z catchup run_at 2025-06-01T05:30:00Z",
          "h 2025-06-01T04:00:00Z catchup run_at 2025-06-01T05:30:00Z",
          "h 2025-06-01T05:00:00Z catchup run_at 2025-06-01T05:30:00Z"},
         {range + "; running 4 (missed: all)"}},
        {"{cron: \"0 * * * *\", missed: skip}",
         {"h 2025-06-01T05:00:00Z run_at 2025-06-01T05:30:00Z skip: missed while the host was "
          "suspended (missed: skip)"},
         {range + "; missed: skip runs none"}},
        {"{cron: \"0 * * * *\", missed: once, max_lateness: 10m}",
         {"h 2025-06-01T05:00:00Z run_at 2025-06-01T05:30:00Z skip: missed while the host was "
          "suspended: 30m late, more than max_lateness 10m"},
         {range + "; the latest is past max_lateness, none runs"}},
        {"{cron: \"0 * * * *\", missed: all, max_lateness: 2h}",
         {"h 2025-06-01T03:00:00Z run_at 2025-06-01T05:30:00Z skip: missed while the host was "
          "suspended: 2h30m late, more than max_lateness 2h",
          "h 2025-06-01T04:00:00Z catchup run_at 2025-06-01T05:30:00Z",
          "h 2025-06-01T05:00:00Z catchup run_at 2025-06-01T05:30:00Z"},
         {range + "; running 2 (missed: all)"}},
    };
    for (const auto& c : cases) {
      CAPTURE(c.schedule);
      jobsd::Scheduler s;
      s.set_jobs({make_job("h", c.schedule)}, utc("2025-06-01T01:10:00Z"));
      s.missed(jobsd::Gap::suspended, utc("2025-06-01T01:30:00Z"), utc("2025-06-01T05:30:00Z"));
      Lines notes;
      CHECK(due(s, "2025-06-01T05:30:00Z", &notes) == c.fires);
      CHECK(notes == c.notes);
      // The window is over: the next fire is an ordinary one.
      CHECK(due(s, "2025-06-01T06:00:00Z", &notes) == Lines{"h 2025-06-01T06:00:00Z"});
      CHECK(notes == Lines{});
    }
  }

  TEST_CASE("suspended: interval schedules follow missed too; the window is (from, to]") {
    {
      // Every 30 minutes, asleep from 01:40 to 05:20: 02:00 to 05:00 (7 fires) missed.
      jobsd::Scheduler s;
      s.set_jobs({make_job("i", "\"*/30 * * * *\"")}, utc("2025-06-01T01:35:00Z"));
      s.missed(jobsd::Gap::suspended, utc("2025-06-01T01:40:00Z"), utc("2025-06-01T05:20:00Z"));
      Lines notes;
      CHECK(due(s, "2025-06-01T05:20:00Z", &notes) ==
            Lines{"i 2025-06-01T05:00:00Z catchup run_at 2025-06-01T05:20:00Z"});
      CHECK(notes == Lines{"job i: 7 fires missed while the host was suspended "
                           "(2025-06-01T02:00:00Z to 2025-06-01T05:00:00Z); running the latest "
                           "once (missed: once)"});
    }
    {
      // Window (01:00, 03:00]: the fire at 01:00 is not in it, the one at 03:00 is; taken at
      // 04:00, the 04:00 fire is an ordinary one.
      jobsd::Scheduler s;
      s.set_jobs({make_job("h", "{cron: \"0 * * * *\", missed: all}")},
                 utc("2025-06-01T00:30:00Z"));
      s.missed(jobsd::Gap::suspended, utc("2025-06-01T01:00:00Z"), utc("2025-06-01T03:00:00Z"));
      CHECK(due(s, "2025-06-01T04:00:00Z") ==
            Lines{"h 2025-06-01T01:00:00Z",
                  "h 2025-06-01T02:00:00Z catchup run_at 2025-06-01T04:00:00Z",
                  "h 2025-06-01T03:00:00Z catchup run_at 2025-06-01T04:00:00Z",
                  "h 2025-06-01T04:00:00Z"});
    }
    {
      // An empty or reversed window is no window.
      jobsd::Scheduler s;
      s.set_jobs({make_job("h", "\"0 * * * *\"")}, utc("2025-06-01T01:10:00Z"));
      s.missed(jobsd::Gap::suspended, utc("2025-06-01T05:30:00Z"), utc("2025-06-01T01:30:00Z"));
      s.missed(jobsd::Gap::clock_jump, utc("2025-06-01T03:30:00Z"), utc("2025-06-01T03:30:00Z"));
      CHECK(due(s, "2025-06-01T05:30:00Z") ==
            Lines{"h 2025-06-01T02:00:00Z", "h 2025-06-01T03:00:00Z", "h 2025-06-01T04:00:00Z",
                  "h 2025-06-01T05:00:00Z"});
    }
  }

  TEST_CASE("a forward clock jump catches up fixed-time fires only, and only up to 3h") {
    struct Case {
      const char* job;
      const char* schedule;
      const char* from;
      const char* to;
      Lines fires;
      Lines notes;
      const char* next; // after the jump
    };
    const std::string not_caught_up = " passed when the clock jumped forward; not caught up "
                                      "(interval schedules follow real time, and jumps of more "
                                      "than 3h catch nothing up)";
    const Case cases[] = {
        // 2h (02:07 to 04:07): fixed-time fires are missed ones.
        {"f",
         "\"30 2 * * *\"",
         "2025-06-01T02:07:00Z",
         "2025-06-01T04:07:00Z",
         {"f 2025-06-01T02:30:00Z catchup run_at 2025-06-01T04:07:00Z"},
         {"job f: 1 fire missed when the clock jumped forward (2025-06-01T02:30:00Z); running the "
          "latest once (missed: once)"},
         "2025-06-02T02:30:00Z"},
        {"g",
         "{cron: \"0 3,4 * * *\", missed: all}",
         "2025-06-01T02:07:00Z",
         "2025-06-01T04:07:00Z",
         {"g 2025-06-01T03:00:00Z catchup run_at 2025-06-01T04:07:00Z",
          "g 2025-06-01T04:00:00Z catchup run_at 2025-06-01T04:07:00Z"},
         {"job g: 2 fires missed when the clock jumped forward (2025-06-01T03:00:00Z to "
          "2025-06-01T04:00:00Z); running 2 (missed: all)"},
         "2025-06-02T03:00:00Z"},
        {"k",
         "{cron: \"30 2 * * *\", missed: skip}",
         "2025-06-01T02:07:00Z",
         "2025-06-01T04:07:00Z",
         {"k 2025-06-01T02:30:00Z run_at 2025-06-01T04:07:00Z skip: missed when the clock jumped "
          "forward (missed: skip)"},
         {"job k: 1 fire missed when the clock jumped forward (2025-06-01T02:30:00Z); missed: skip "
          "runs none"},
         "2025-06-02T02:30:00Z"},
        // Interval schedules continue in real time: 02:10 to 04:05, 24 fires, none caught up.
        {"i",
         "{cron: \"*/5 * * * *\", missed: all}",
         "2025-06-01T02:07:00Z",
         "2025-06-01T04:07:00Z",
         {},
         {"job i: 24 fires" + not_caught_up},
         "2025-06-01T04:10:00Z"},
        // "0 * * * *" is an interval schedule too (its hour field begins with '*').
        {"h",
         "\"0 * * * *\"",
         "2025-06-01T02:07:00Z",
         "2025-06-01T04:07:00Z",
         {},
         {"job h: 2 fires" + not_caught_up},
         "2025-06-01T05:00:00Z"},
        // every: 10m (anchored at the epoch): 02:10 to 04:00, 12 fires.
        {"e",
         "{every: 10m}",
         "2025-06-01T02:07:00Z",
         "2025-06-01T04:07:00Z",
         {},
         {"job e: 12 fires" + not_caught_up},
         "2025-06-01T04:10:00Z"},
        // Exactly 3h is still caught up.
        {"f",
         "\"30 2 * * *\"",
         "2025-06-01T02:07:00Z",
         "2025-06-01T05:07:00Z",
         {"f 2025-06-01T02:30:00Z catchup run_at 2025-06-01T05:07:00Z"},
         {"job f: 1 fire missed when the clock jumped forward (2025-06-01T02:30:00Z); running the "
          "latest once (missed: once)"},
         "2025-06-02T02:30:00Z"},
        // More than 3h (02:07 to 05:37) catches nothing up, fixed-time or not.
        {"f",
         "\"30 2 * * *\"",
         "2025-06-01T02:07:00Z",
         "2025-06-01T05:37:00Z",
         {},
         {"job f: 1 fire" + not_caught_up},
         "2025-06-02T02:30:00Z"},
        {"g",
         "{cron: \"0 3,4 * * *\", missed: all}",
         "2025-06-01T02:07:00Z",
         "2025-06-01T05:37:00Z",
         {},
         {"job g: 2 fires" + not_caught_up},
         "2025-06-02T03:00:00Z"},
        {"i",
         "{cron: \"*/5 * * * *\", missed: all}",
         "2025-06-01T02:07:00Z",
         "2025-06-01T05:37:00Z",
         {},
         {"job i: 42 fires" + not_caught_up},
         "2025-06-01T05:40:00Z"},
        {"e",
         "{every: 10m}",
         "2025-06-01T02:07:00Z",
         "2025-06-01T05:37:00Z",
         {},
         {"job e: 21 fires" + not_caught_up},
         "2025-06-01T05:40:00Z"},
        // A one-off is fixed-time.
        {"o",
         "{at: \"2025-06-01T03:00\"}",
         "2025-06-01T02:07:00Z",
         "2025-06-01T04:07:00Z",
         {"o 2025-06-01T03:00:00Z catchup run_at 2025-06-01T04:07:00Z"},
         {"job o: 1 fire missed when the clock jumped forward (2025-06-01T03:00:00Z); running the "
          "latest once (missed: once)"},
         "never"},
    };
    for (const auto& c : cases) {
      CAPTURE(c.schedule);
      CAPTURE(c.to);
      jobsd::Scheduler s;
      s.set_jobs({make_job(c.job, c.schedule)}, utc("2025-06-01T02:06:00Z"));
      s.missed(jobsd::Gap::clock_jump, utc(c.from), utc(c.to));
      Lines notes;
      CHECK(due(s, c.to, &notes) == c.fires);
      CHECK(notes == c.notes);
      CHECK(iso(s.next_fire(c.job)) == c.next);
      CHECK(due(s, c.to) == Lines{});
    }
  }

  TEST_CASE("a forward clock jump over more fires than are looked at says so") {
    // Every second for an hour: 3600 fires, of which the newest 1000 are looked at.
    jobsd::Scheduler s;
    s.set_jobs({make_job("s", "\"* * * * * *\"")}, utc("2025-06-01T02:07:00Z"));
    s.missed(jobsd::Gap::clock_jump, utc("2025-06-01T02:07:00Z"), utc("2025-06-01T03:07:00Z"));
    Lines notes;
    CHECK(due(s, "2025-06-01T03:07:00Z", &notes) == Lines{});
    CHECK(notes == Lines{"job s: more than 1000 fires passed when the clock jumped forward; not "
                         "caught up (interval schedules follow real time, and jumps of more than "
                         "3h catch nothing up)"});
    CHECK(iso(s.next_fire("s")) == "2025-06-01T03:07:01Z");
  }

  TEST_CASE("DST: each fire once, at the instants of the spec") {
    struct Case {
      const char* schedule;
      const char* from;
      const char* until;
      Lines fires;
    };
    // America/New_York: 2025-03-09 02:00 EST becomes 03:00 EDT (07:00Z); 2025-11-02 02:00 EDT
    // becomes 01:00 EST (06:00Z).
    const Case cases[] = {
        // Spring forward: 02:30 does not exist; it fires once, at 03:00 EDT.
        {"\"30 2 * * *\"",
         "2025-03-08T12:00:00Z",
         "2025-03-10T12:00:00Z",
         {"n 2025-03-09T07:00:00Z", "n 2025-03-10T06:30:00Z"}},
        {"{cron: \"30 2 * * *\", dst_gap: skip}",
         "2025-03-08T12:00:00Z",
         "2025-03-10T12:00:00Z",
         {"n 2025-03-10T06:30:00Z"}},
        // Hourly follows real time: 01:00 EST, 03:00 EDT, 04:00 EDT.
        {"\"0 * * * *\"",
         "2025-03-09T05:30:00Z",
         "2025-03-09T08:30:00Z",
         {"n 2025-03-09T06:00:00Z", "n 2025-03-09T07:00:00Z", "n 2025-03-09T08:00:00Z"}},
        {"\"*/30 * * * *\"",
         "2025-03-09T06:00:00Z",
         "2025-03-09T07:30:00Z",
         {"n 2025-03-09T06:30:00Z", "n 2025-03-09T07:00:00Z", "n 2025-03-09T07:30:00Z"}},
        // Fall back: 01:30 happens twice; a fixed-time schedule fires at the first (EDT).
        {"\"30 1 * * *\"",
         "2025-11-01T12:00:00Z",
         "2025-11-03T12:00:00Z",
         {"n 2025-11-02T05:30:00Z", "n 2025-11-03T06:30:00Z"}},
        // Hourly fires at both 01:00s: 00:00 EDT, 01:00 EDT, 01:00 EST, 02:00 EST.
        {"\"0 * * * *\"",
         "2025-11-02T03:30:00Z",
         "2025-11-02T07:30:00Z",
         {"n 2025-11-02T04:00:00Z", "n 2025-11-02T05:00:00Z", "n 2025-11-02T06:00:00Z",
          "n 2025-11-02T07:00:00Z"}},
    };
    for (const auto& c : cases) {
      CAPTURE(c.schedule);
      CAPTURE(c.from);
      jobsd::Scheduler s;
      s.set_jobs({make_job("n", c.schedule, new_york)}, utc(c.from));
      CHECK(iso(s.next_due()) == c.fires.front().substr(2));
      CHECK(run_until(s, c.until) == c.fires);
      // All at once (the daemon was busy): the same fires, each once.
      jobsd::Scheduler late;
      late.set_jobs({make_job("n", c.schedule, new_york)}, utc(c.from));
      CHECK(due(late, c.until) == c.fires);
      CHECK(due(late, c.until) == Lines{});
    }
  }

  TEST_CASE("DST: catching up across a DST change") {
    struct Case {
      const char* schedule;
      const char* last;
      const char* now;
      Lines fires;
    };
    const Case cases[] = {
        // Down over the spring-forward night: the shifted fire (03:00 EDT) and the next day's.
        {"{cron: \"30 2 * * *\", missed: all}",
         "2025-03-08T07:30:00Z",
         "2025-03-10T12:00:00Z",
         {"n 2025-03-09T07:00:00Z catchup run_at 2025-03-10T12:00:00Z",
          "n 2025-03-10T06:30:00Z catchup run_at 2025-03-10T12:00:00Z"}},
        {"{cron: \"30 2 * * *\", missed: all, dst_gap: skip}",
         "2025-03-08T07:30:00Z",
         "2025-03-10T12:00:00Z",
         {"n 2025-03-10T06:30:00Z catchup run_at 2025-03-10T12:00:00Z"}},
        {"{cron: \"30 2 * * *\", missed: once}",
         "2025-03-08T07:30:00Z",
         "2025-03-10T12:00:00Z",
         {"n 2025-03-10T06:30:00Z catchup run_at 2025-03-10T12:00:00Z"}},
        {"{cron: \"0 * * * *\", missed: all}",
         "2025-03-09T05:00:00Z",
         "2025-03-09T08:30:00Z",
         {"n 2025-03-09T06:00:00Z catchup run_at 2025-03-09T08:30:00Z",
          "n 2025-03-09T07:00:00Z catchup run_at 2025-03-09T08:30:00Z",
          "n 2025-03-09T08:00:00Z catchup run_at 2025-03-09T08:30:00Z"}},
        // Down over the fall-back night.
        {"{cron: \"30 1 * * *\", missed: all}",
         "2025-11-01T05:30:00Z",
         "2025-11-02T07:00:00Z",
         {"n 2025-11-02T05:30:00Z catchup run_at 2025-11-02T07:00:00Z"}},
        {"{cron: \"0 * * * *\", missed: all}",
         "2025-11-02T04:00:00Z",
         "2025-11-02T07:30:00Z",
         {"n 2025-11-02T05:00:00Z catchup run_at 2025-11-02T07:30:00Z",
          "n 2025-11-02T06:00:00Z catchup run_at 2025-11-02T07:30:00Z",
          "n 2025-11-02T07:00:00Z catchup run_at 2025-11-02T07:30:00Z"}},
    };
    for (const auto& c : cases) {
      CAPTURE(c.schedule);
      CAPTURE(c.last);
      jobsd::Scheduler s;
      s.set_jobs({make_job("n", c.schedule, new_york)}, utc(c.now), last_fires({{"n", c.last}}));
      CHECK(due(s, c.now) == c.fires);
    }
  }

  TEST_CASE("jitter delays ordinary fires, not catch-ups") {
    struct Case {
      const char* jitter;
      double random;
      std::int64_t delay_ms;
    };
    const Case cases[] = {
        {"30s", 0.5, 15000}, {"30s", 0.0, 0}, {"1s", 0.25, 250},
        {"1m", 0.75, 45000}, {"0s", 0.5, 0},
    };
    for (const auto& c : cases) {
      CAPTURE(c.jitter);
      CAPTURE(c.random);
      jobsd::Scheduler s([r = c.random] { return r; });
      s.set_jobs({make_job("j", "{cron: \"0 * * * *\", jitter: " + std::string(c.jitter) + "}")},
                 utc("2025-06-01T12:10:00Z"));
      CHECK(iso(s.next_due()) == "2025-06-01T13:00:00Z"); // the instant, not the run time
      const auto fires = s.take_due(utc("2025-06-01T13:00:00Z"));
      REQUIRE(fires.size() == 1);
      CHECK(fires[0].instant == utc("2025-06-01T13:00:00Z"));
      CHECK(fires[0].run_at_ms == utc("2025-06-01T13:00:00Z") * 1000 + c.delay_ms);
      CHECK_FALSE(fires[0].catchup);
    }
    {
      jobsd::Scheduler s([] { return 0.5; });
      s.set_jobs({make_job("j", "{cron: \"0 * * * *\", jitter: 30s}")},
                 utc("2025-06-01T12:10:00Z"));
      CHECK(due(s, "2025-06-01T13:00:00Z") ==
            Lines{"j 2025-06-01T13:00:00Z run_at 2025-06-01T13:00:15Z"});
    }
    {
      // Catch-ups and skip records run (or are recorded) now.
      jobsd::Scheduler s([] { return 0.5; });
      s.set_jobs({make_job("j", "{cron: \"0 * * * *\", jitter: 30s, missed: all}"),
                  make_job("k", "{cron: \"0 * * * *\", jitter: 30s, missed: skip}")},
                 utc("2025-06-01T12:10:00Z"),
                 last_fires({{"j", "2025-06-01T10:00:00Z"}, {"k", "2025-06-01T11:00:00Z"}}));
      const auto fires = s.take_due(utc("2025-06-01T12:10:00Z"));
      REQUIRE(fires.size() == 3);
      for (const auto& f : fires) {
        CAPTURE(describe(f));
        CHECK(f.run_at_ms == utc("2025-06-01T12:10:00Z") * 1000);
      }
    }
  }

  TEST_CASE("a one-off fires once, in its zone") {
    // 2026-12-01T09:00 in New York is 14:00Z.
    const auto job = [] { return make_job("o", "{at: \"2026-12-01T09:00\"}", new_york); };
    jobsd::Scheduler s;
    s.set_jobs({job()}, utc("2026-11-30T00:00:00Z"));
    CHECK(iso(s.next_fire("o")) == "2026-12-01T14:00:00Z");
    CHECK(iso(s.next_due()) == "2026-12-01T14:00:00Z");
    CHECK(due(s, "2026-12-01T13:59:59Z") == Lines{});
    CHECK(due(s, "2026-12-01T14:00:00Z") == Lines{"o 2026-12-01T14:00:00Z"});
    CHECK(iso(s.next_fire("o")) == "never");
    CHECK(iso(s.next_due()) == "never");
    CHECK(due(s, "2030-01-01T00:00:00Z") == Lines{});
    s.set_jobs({job()}, utc("2030-01-01T00:00:00Z")); // read again
    CHECK(iso(s.next_due()) == "never");
    CHECK(due(s, "2031-01-01T00:00:00Z") == Lines{});

    // In the past when first seen, with no last fire: it never fires.
    jobsd::Scheduler later;
    later.set_jobs({job()}, utc("2026-12-02T00:00:00Z"), last_fires({}));
    CHECK(iso(later.next_due()) == "never");
    CHECK(due(later, "2026-12-02T00:00:00Z") == Lines{});

    // After a restart that follows its fire: it does not fire again.
    jobsd::Scheduler restarted;
    restarted.set_jobs({job()}, utc("2026-12-02T00:00:00Z"),
                       last_fires({{"o", "2026-12-01T14:00:00Z"}}));
    CHECK(iso(restarted.next_due()) == "never");
    CHECK(due(restarted, "2026-12-02T00:00:00Z") == Lines{});
  }

  TEST_CASE("a one-off missed while down follows missed") {
    struct Case {
      const char* policy;
      Lines fires;
    };
    const Case cases[] = {
        {"", {"o 2026-12-01T14:00:00Z catchup run_at 2026-12-02T00:00:00Z"}},
        {", missed: all", {"o 2026-12-01T14:00:00Z catchup run_at 2026-12-02T00:00:00Z"}},
        {", missed: skip",
         {"o 2026-12-01T14:00:00Z run_at 2026-12-02T00:00:00Z skip: missed while jobsd was down "
          "(missed: skip)"}},
        {", max_lateness: 1h",
         {"o 2026-12-01T14:00:00Z run_at 2026-12-02T00:00:00Z skip: missed while jobsd was down: "
          "10h late, more than max_lateness 1h"}},
    };
    for (const auto& c : cases) {
      CAPTURE(c.policy);
      jobsd::Scheduler s;
      s.set_jobs(
          {make_job("o", "{at: \"2026-12-01T09:00\"" + std::string(c.policy) + "}", new_york)},
          utc("2026-12-02T00:00:00Z"), last_fires({{"o", "2026-11-01T00:00:00Z"}}));
      CHECK(due(s, "2026-12-02T00:00:00Z") == c.fires);
      CHECK(iso(s.next_due()) == "never");
    }
  }

  TEST_CASE("@reboot has no next fire") {
    jobsd::Scheduler s;
    s.set_jobs({make_job("r", "\"@reboot\""), make_job("rh", "[\"@reboot\", \"0 * * * *\"]")},
               utc("2025-06-01T12:10:00Z"));
    CHECK(iso(s.next_fire("r")) == "never");
    CHECK(iso(s.next_fire("rh")) == "2025-06-01T13:00:00Z");
    CHECK(iso(s.next_due()) == "2025-06-01T13:00:00Z");
    CHECK(due(s, "2025-06-01T14:00:00Z") ==
          Lines{"rh 2025-06-01T13:00:00Z", "rh 2025-06-01T14:00:00Z"});

    jobsd::Scheduler only;
    only.set_jobs({make_job("r", "\"@reboot\"")}, utc("2025-06-01T12:10:00Z"),
                  last_fires({{"r", "2025-05-01T00:00:00Z"}}));
    CHECK(iso(only.next_due()) == "never");
    CHECK(due(only, "2035-06-01T00:00:00Z") == Lines{});
  }

  TEST_CASE("same_schedule") {
    struct Case {
      const char* id;
      const char* schedule;
      const char* extra;
      bool same;
    };
    const Case cases[] = {
        {"a", "\"0 * * * *\"", "", true},
        {"a", "{cron: \"0 * * * *\", jitter: 30s, missed: all, max_lateness: 1h}", "priority: 90\n",
         true},
        {"b", "\"0 * * * *\"", "", false},
        {"a", "\"0 * * * *\"", "timezone: America/New_York\n", false},
        {"a", "\"0 * * * *\"", "timezone: UTC\n", true},
        {"a", "{cron: \"0 * * * *\", dst_gap: skip}", "", false},
        {"a", "{at: \"2026-12-01T09:00\"}", "", false},
    };
    const auto base = make_job("a", "\"0 * * * *\"");
    for (const auto& c : cases) {
      CAPTURE(c.id);
      CAPTURE(c.schedule);
      CAPTURE(c.extra);
      CHECK(jobsd::same_schedule(*base, *make_job(c.id, c.schedule, c.extra)) == c.same);
    }
  }
}

namespace {

jobsd::JobPtr queued_job(const std::string& id, int priority, const std::string& zone = "") {
  return make_job(id, "\"0 * * * *\"",
                  "priority: " + std::to_string(priority) + "\n" +
                      (zone.empty() ? "" : "timezone: " + zone + "\n"));
}

jobsd::Pending pending(const std::string& execution_id, const jobsd::JobPtr& job) {
  jobsd::Pending p;
  p.execution_id = execution_id;
  p.job = job;
  p.trigger = "schedule";
  return p;
}

// Pops until nothing may start; the execution ids in the order they came.
Lines pop_all(jobsd::Queues& q, const std::function<bool(const jobsd::Pending&)>& may_start = {}) {
  Lines out;
  while (auto p = q.pop(may_start)) {
    out.push_back(p->execution_id);
  }
  return out;
}

Lines ids(const std::vector<jobsd::Pending>& ps) {
  Lines out;
  for (const auto& p : ps) {
    out.push_back(p.execution_id);
  }
  return out;
}

// "zone depth/running/limit" for each queue.
Lines status(const jobsd::Queues& q) {
  Lines out;
  for (const auto& z : q.status()) {
    out.push_back(z.zone + " " + std::to_string(z.depth) + "/" + std::to_string(z.running) + "/" +
                  std::to_string(z.limit));
  }
  return out;
}

// New York's queue runs 1 at a time, Tokyo's 3, the others 2.
int limit_of(const std::string& zone) {
  return zone == "America/New_York" ? 1 : zone == "Asia/Tokyo" ? 3 : 2;
}

} // namespace

TEST_SUITE("jobsd.queues") {
  TEST_CASE("zone_of") {
    CHECK(jobsd::zone_of(*queued_job("a", 50)) == "UTC");
    CHECK(jobsd::zone_of(*queued_job("a", 50, "America/New_York")) == "America/New_York");
    jobs::JobDefinition no_zone;
    CHECK(jobsd::zone_of(no_zone) == "UTC");
  }

  TEST_CASE("a zone's limit holds the rest back until one finishes") {
    jobsd::Queues q(limit_of, 100);
    const auto a = queued_job("a", 50);
    q.push(pending("x1", a));
    q.push(pending("x2", a));
    q.push(pending("x3", a));
    CHECK(status(q) == Lines{"UTC 3/0/2"});
    CHECK(pop_all(q) == Lines{"x1", "x2"});
    CHECK(status(q) == Lines{"UTC 1/2/2"});
    CHECK(q.running() == 2);
    q.finished("UTC");
    CHECK(status(q) == Lines{"UTC 1/1/2"});
    CHECK(pop_all(q) == Lines{"x3"});
    CHECK(status(q) == Lines{"UTC 0/2/2"});
    q.finished("UTC");
    q.finished("UTC");
    CHECK(status(q) == Lines{"UTC 0/0/2"});
    CHECK(q.running() == 0);
    // More finished() than started never goes below zero.
    q.finished("UTC");
    CHECK(status(q) == Lines{"UTC 0/0/2"});
    CHECK(q.running() == 0);
  }

  TEST_CASE("the global limit holds back every queue") {
    jobsd::Queues q(limit_of, 3);
    CHECK(q.global_limit() == 3);
    const auto t = queued_job("t", 50, "Asia/Tokyo");
    const auto u = queued_job("u", 50);
    q.push(pending("t1", t));
    q.push(pending("t2", t));
    q.push(pending("u1", u));
    q.push(pending("u2", u));
    CHECK(pop_all(q) == Lines{"t1", "t2", "u1"});
    CHECK(q.running() == 3);
    CHECK(status(q) == Lines{"Asia/Tokyo 0/2/3", "UTC 1/1/2"});
    q.finished("Asia/Tokyo"); // frees a global slot, which UTC may use
    CHECK(pop_all(q) == Lines{"u2"});
    CHECK(q.running() == 3);
  }

  TEST_CASE("higher priority first, then arrival, over all queues") {
    jobsd::Queues q([](const std::string&) { return 10; }, 100);
    q.push(pending("a50", queued_job("a", 50)));
    q.push(pending("b90", queued_job("b", 90, "Europe/Paris")));
    q.push(pending("c10", queued_job("c", 10)));
    q.push(pending("d90", queued_job("d", 90)));
    q.push(pending("e50", queued_job("e", 50, "Europe/Paris")));
    q.push(pending("f100", queued_job("f", 100, "Asia/Tokyo")));
    q.push(pending("g0", queued_job("g", 0, "Asia/Tokyo")));
    CHECK(pop_all(q) == Lines{"f100", "b90", "d90", "a50", "e50", "c10", "g0"});
  }

  TEST_CASE("a queue at its limit does not block another zone") {
    jobsd::Queues q(limit_of, 100);
    const auto n = queued_job("n", 90, "America/New_York");
    const auto u = queued_job("u", 10);
    q.push(pending("n1", n));
    q.push(pending("n2", n));
    q.push(pending("u1", u));
    q.push(pending("u2", u));
    q.push(pending("u3", u));
    // New York (limit 1) runs n1; n2 comes first by priority but waits; UTC (limit 2) goes on.
    CHECK(pop_all(q) == Lines{"n1", "u1", "u2"});
    CHECK(status(q) == Lines{"America/New_York 1/1/1", "UTC 1/2/2"});
    q.finished("America/New_York");
    CHECK(pop_all(q) == Lines{"n2"});
    q.finished("UTC");
    CHECK(pop_all(q) == Lines{"u3"});
  }

  TEST_CASE("may_start holds one back and the next in order is taken") {
    jobsd::Queues q([](const std::string&) { return 10; }, 100);
    q.push(pending("a1", queued_job("a", 90)));
    q.push(pending("b1", queued_job("b", 50)));
    q.push(pending("c1", queued_job("c", 50, "Asia/Tokyo")));
    q.push(pending("a2", queued_job("a", 50, "Asia/Tokyo")));
    const auto not_a = [](const jobsd::Pending& p) { return p.job->id != "a"; };
    // a1 (first by priority) and a2 are held back; b1 and c1 follow in order, across queues.
    CHECK(pop_all(q, not_a) == Lines{"b1", "c1"});
    CHECK(q.running() == 2);
    CHECK(status(q) == Lines{"Asia/Tokyo 1/1/10", "UTC 1/1/10"});
    // Held back is not taken, nor counted as running.
    CHECK_FALSE(q.pop([](const jobsd::Pending&) { return false; }).has_value());
    CHECK(q.running() == 2);
    CHECK(pop_all(q) == Lines{"a1", "a2"});
  }

  TEST_CASE("remove, remove_job, take_all and queued") {
    jobsd::Queues q(limit_of, 100);
    const auto a = queued_job("a", 50);
    const auto b = queued_job("b", 50, "Asia/Tokyo");
    q.push(pending("a1", a));
    q.push(pending("b1", b));
    q.push(pending("a2", a));
    q.push(pending("b2", b));
    q.push(pending("a3", a));
    {
      Lines queued;
      for (const auto* p : q.queued()) {
        queued.push_back(p->execution_id);
      }
      CHECK(queued == Lines{"b1", "b2", "a1", "a2", "a3"}); // by zone, then in order
    }

    const auto removed = q.remove("a2");
    REQUIRE(removed.has_value());
    CHECK(removed->execution_id == "a2");
    CHECK(removed->job == a);
    CHECK_FALSE(q.remove("a2").has_value());
    CHECK_FALSE(q.remove("zz").has_value());
    CHECK(status(q) == Lines{"Asia/Tokyo 2/0/3", "UTC 2/0/2"});

    CHECK(ids(q.remove_job("b")) == Lines{"b1", "b2"});
    CHECK(ids(q.remove_job("b")) == Lines{});
    CHECK(status(q) == Lines{"Asia/Tokyo 0/0/3", "UTC 2/0/2"});

    CHECK(pop_all(q) == Lines{"a1", "a3"});
    q.push(pending("a4", a));
    q.push(pending("b3", b));
    CHECK(ids(q.take_all()) == Lines{"b3", "a4"});
    CHECK(q.queued().empty());
    // Taking queued executions out leaves the running ones counted.
    CHECK(status(q) == Lines{"Asia/Tokyo 0/0/3", "UTC 0/2/2"});
    CHECK(q.running() == 2);
    CHECK(ids(q.take_all()) == Lines{});
  }

  TEST_CASE("queues are made on demand with their zone's limit") {
    std::vector<std::string> asked;
    jobsd::Queues q(
        [&](const std::string& zone) {
          asked.push_back(zone);
          return limit_of(zone);
        },
        100);
    CHECK(status(q) == Lines{});
    q.ensure("Asia/Tokyo");
    q.ensure("Asia/Tokyo");
    q.push(pending("n1", queued_job("n", 50, "America/New_York")));
    q.push(pending("n2", queued_job("n", 50, "America/New_York")));
    CHECK(status(q) == Lines{"America/New_York 2/0/1", "Asia/Tokyo 0/0/3"});
    CHECK(asked == std::vector<std::string>{"Asia/Tokyo", "America/New_York"});
    // finished() for a zone without a queue makes none.
    q.finished("Europe/Paris");
    CHECK(status(q) == Lines{"America/New_York 2/0/1", "Asia/Tokyo 0/0/3"});
    CHECK(q.running() == 0);
  }
}
