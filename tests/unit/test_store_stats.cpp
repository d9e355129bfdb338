#include <store/store.hpp>

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

namespace {

using store::JobStats;

// A temporary folder removed at the end.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char name[] = "/tmp/jobs-stats-test-XXXXXX";
    path = mkdtemp(name);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

} // namespace

TEST_SUITE("store stats") {
  TEST_CASE("percentile: nearest rank, always one of the values") {
    struct Case {
      std::vector<std::int64_t> sorted;
      int p;
      std::int64_t expected;
    };
    const std::vector<Case> cases = {
        {{7}, 50, 7},
        {{7}, 95, 7},
        {{1, 2}, 50, 1},
        {{1, 2, 3, 4}, 50, 2},
        {{1, 2, 3, 4}, 95, 4},
        {{1, 2, 3, 4, 5}, 50, 3},
        // 20 values: rank ceil(0.95 * 20) = 19 exactly, where floating point could round to 20.
        {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, 95, 19},
        {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, 50, 10},
        {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21}, 95, 20},
        {{5, 5, 5, 100}, 95, 100},
        {{1, 2, 3}, 100, 3},
        {{1, 2, 3}, 1, 1},
    };
    for (const auto& c : cases) {
      CAPTURE(c.sorted.size());
      CAPTURE(c.p);
      CHECK(store::percentile(c.sorted, c.p) == c.expected);
    }
  }

  TEST_CASE("percentile of 1..100 and of 1..1000") {
    std::vector<std::int64_t> hundred, thousand;
    for (std::int64_t i = 1; i <= 1000; ++i) {
      (i <= 100 ? hundred : thousand).push_back(i);
    }
    thousand.insert(thousand.begin(), hundred.begin(), hundred.end());
    CHECK(store::percentile(hundred, 50) == 50);
    CHECK(store::percentile(hundred, 95) == 95);
    CHECK(store::percentile(thousand, 50) == 500);
    CHECK(store::percentile(thousand, 95) == 950);
  }

  TEST_CASE("missed or skipped: by the reason jobsd's scheduler writes") {
    CHECK(store::missed_reason("missed while jobsd was down (missed: skip)"));
    CHECK(store::missed_reason("missed when the clock jumped forward: 2h late, more than "
                               "max_lateness 1h"));
    CHECK_FALSE(store::missed_reason("concurrency: forbid: execution 01J is still running"));
    CHECK_FALSE(store::missed_reason("missedfoo"));
  }

  TEST_CASE("StatsBuilder: counts, rate, durations, fires, last success") {
    store::StatsBuilder b;
    b.add_execution("a", "success", 1000, 1100);   // 100
    b.add_execution("a", "success", 2000, 2300);   // 300
    b.add_execution("a", "failed", 3000, 3200);    // 200
    b.add_execution("a", "cancelled", 4000, 4050); // 50: not in the rate, in the durations
    b.add_execution("a", "timeout", 5000, 6000);   // 1000
    b.add_execution("a", "running", 7000, std::nullopt);
    b.add_skipped_fire("a", "missed while jobsd was down (missed: skip)");
    b.add_skipped_fire("a", "concurrency: forbid: execution x is still running");
    b.add_skipped_fire("a", "concurrency: forbid: execution y is still running");
    b.add_job("a", 1500); // older than the success ended at 2300
    b.add_job("idle", std::nullopt);
    b.add_job("old", 99);
    const auto all = b.finish();
    REQUIRE(all.size() == 3);

    const JobStats& a = all[0];
    CHECK(a.job_id == "a");
    CHECK(a.runs == 6);
    CHECK(a.by_status ==
          std::map<std::string, std::int64_t>{
              {"cancelled", 1}, {"failed", 1}, {"running", 1}, {"success", 2}, {"timeout", 1}});
    REQUIRE(a.success_rate);
    CHECK(*a.success_rate == doctest::Approx(0.5)); // 2 of success, failed x1, timeout x1
    CHECK(a.p50_ms == 200);                         // of 50 100 200 300 1000: rank 3
    CHECK(a.p95_ms == 1000);                        // rank ceil(4.75) = 5
    CHECK(a.max_ms == 1000);
    CHECK(a.skipped_fires == 2);
    CHECK(a.missed_fires == 1);
    CHECK(a.last_success_ms == 2300);

    const JobStats& idle = all[1];
    CHECK(idle.job_id == "idle");
    CHECK(idle.runs == 0);
    CHECK_FALSE(idle.success_rate);
    CHECK_FALSE(idle.p50_ms);
    CHECK_FALSE(idle.last_success_ms);
    CHECK(all[2].last_success_ms == 99);
  }

  TEST_CASE("SQLite store: stats by job and since, skipped and missed fires") {
    TempDir dir;
    auto opened = store::open_sqlite((dir.path / "history.db").string());
    REQUIRE(opened);
    auto& s = **opened;
    const auto run = [&](const std::string& id, const std::string& job, const std::string& status,
                         std::int64_t start, std::int64_t end) {
      store::ExecutionRecord e;
      e.execution_id = id;
      e.job_id = job;
      e.job_name = job;
      e.timezone = "UTC";
      e.trigger = "manual";
      e.start_ms = start;
      REQUIRE(s.begin_execution(e));
      e.status = status;
      e.end_ms = end;
      REQUIRE(s.finish_execution(e));
    };
    run("e1", "a", "success", 1000, 1400);
    run("e2", "a", "failed", 2000, 2100);
    run("e3", "a", "success", 3000, 3200);
    run("e4", "b", "failed", 1000, 1010);
    REQUIRE(s.record_skipped_fire("a", 500, "missed while jobsd was down (missed: skip)"));
    REQUIRE(s.record_skipped_fire("a", 2500, "concurrency: forbid: execution e2 is still running"));

    auto all = s.stats({});
    REQUIRE(all);
    REQUIRE(all->size() == 2);
    const JobStats& a = (*all)[0];
    CHECK(a.job_id == "a");
    CHECK(a.runs == 3);
    CHECK(a.by_status.at("success") == 2);
    CHECK(*a.success_rate == doctest::Approx(2.0 / 3));
    CHECK(a.p50_ms == 200);
    CHECK(a.p95_ms == 400);
    CHECK(a.max_ms == 400);
    CHECK(a.skipped_fires == 1);
    CHECK(a.missed_fires == 1);
    CHECK(a.last_success_ms == 3200);
    CHECK((*all)[1].job_id == "b");
    CHECK((*all)[1].success_rate == 0.0);

    // Since 2000: e2, e3 and the fire at 2500; the last success (3200) and b listed still.
    auto since = s.stats({std::nullopt, 2000});
    REQUIRE(since);
    REQUIRE(since->size() == 2);
    CHECK((*since)[0].runs == 2);
    CHECK((*since)[0].skipped_fires == 1);
    CHECK((*since)[0].missed_fires == 0);
    CHECK((*since)[1].runs == 0);

    // One job; its last success is kept from its state even when no run is in the window.
    auto one = s.stats({std::string("a"), 5000});
    REQUIRE(one);
    REQUIRE(one->size() == 1);
    CHECK((*one)[0].runs == 0);
    CHECK((*one)[0].last_success_ms == 3200);
    auto none = s.stats({std::string("nobody"), std::nullopt});
    REQUIRE(none);
    CHECK(none->empty());
  }
}
