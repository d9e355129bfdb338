#include <jobsd/health.hpp>

#include <doctest/doctest.h>

namespace {

// A status result as jobsd gives it, with what health reads.
ipc::Json status(ipc::Json errors, ipc::Json store, ipc::Json log) {
  return {{"reload", {{"errors", errors}}}, {"store", store}, {"log", log}};
}

const ipc::Json store_ok = {{"ok", true}, {"fault", nullptr}, {"waiting", 0}, {"lost", 0}};
const ipc::Json log_ok = {{"ok", true}, {"lost_lines", 0}, {"error", nullptr}};

std::vector<std::string> texts(const jobsd::health::Findings& f) {
  std::vector<std::string> out;
  for (const auto& [state, text] : f.problems) {
    out.push_back(std::string(jobsd::health::name_of(state)) + " " + text);
  }
  return out;
}

} // namespace

TEST_SUITE("jobsd::health") {
  TEST_CASE("a healthy status and jobs: no reason") {
    jobsd::health::Findings f;
    jobsd::health::judge_status(status(ipc::Json::array(), store_ok, log_ok), f);
    f.jobs.push_back(jobsd::health::listed_job(
        {{"id", "a"}, {"enabled", true}, {"schedule", {"@daily"}}, {"last_status", "success"}}));
    const auto counts = jobsd::health::judge_jobs({}, std::nullopt, "", 0, f);
    CHECK(f.sort() == jobsd::health::State::ok);
    CHECK(f.problems.empty());
    CHECK(counts.checked == 1);
  }

  TEST_CASE("the reasons of jobsctl check, the worst first, each state in the order found") {
    jobsd::health::Findings f;
    const ipc::Json errors = {{{"path", "/j/b.yaml"}, {"severity", "error"}},
                              {{"path", "/j/a.yaml"}, {"severity", "error"}},
                              {{"path", "/j/a.yaml"}, {"severity", "error"}},
                              {{"path", "/j/w.yaml"}, {"severity", "warning"}}};
    jobsd::health::judge_status(
        status(errors, {{"ok", false}, {"fault", "disk full"}, {"waiting", 3}, {"lost", 0}},
               {{"ok", false}, {"lost_lines", 1}, {"error", "EIO"}}),
        f);
    for (const auto& [id, last] : {std::pair{"x", "failed"},
                                   {"y", "partial_success"},
                                   {"z", "timeout"},
                                   {"off", "failed"}}) {
      f.jobs.push_back(jobsd::health::listed_job({{"id", id},
                                                  {"enabled", std::string(id) != "off"},
                                                  {"schedule", ipc::Json::array()},
                                                  {"last_status", last},
                                                  {"last_success", nullptr}}));
    }
    const auto counts = jobsd::health::judge_jobs({}, std::nullopt, "", 0, f);
    CHECK(f.sort() == jobsd::health::State::critical);
    CHECK(texts(f) == std::vector<std::string>{
                          "CRITICAL history store failing: disk full (3 writes waiting in memory)",
                          "CRITICAL 2 jobs failed last run: x, z",
                          "WARNING 2 files with errors: /j/a.yaml, /j/b.yaml",
                          "WARNING jobsd.log failing: 1 line lost: EIO",
                          "WARNING 1 job not wholly successful last run: y (partial_success)"});
    CHECK(counts.checked == 3);
    CHECK(counts.failed == 2);
    CHECK(f.bad_files == 2);
  }

  TEST_CASE("the store's states unreadable: a reason, and no job judged on a last run unknown") {
    jobsd::health::Findings f;
    jobsd::health::judge_store("", 0, 2, f);
    jobsd::health::judge_log(0, "", f);
    jobsd::health::history_unreadable("no such table: job_state", f);
    f.jobs.push_back(jobsd::health::listed_job(
        {{"id", "a"}, {"enabled", true}, {"schedule", {"@daily"}}, {"last_status", "failed"}}));
    jobsd::health::judge_jobs({}, std::nullopt, "", 0, f);
    CHECK(f.sort() == jobsd::health::State::unknown);
    CHECK(texts(f) ==
          std::vector<std::string>{"UNKNOWN history store unreadable: no such table: job_state",
                                   "WARNING 2 history writes lost since jobsd started"});
  }

  TEST_CASE("max_age: named jobs whatever their schedule; an unknown name is UNKNOWN") {
    jobsd::health::Findings f;
    f.jobs.push_back(jobsd::health::listed_job({{"id", "manual"},
                                                {"enabled", true},
                                                {"schedule", ipc::Json::array()},
                                                {"last_status", nullptr},
                                                {"last_success", "1970-01-01T00:00:10Z"}}));
    CHECK(f.jobs.front().last_success_ms == 10000);
    auto counts = jobsd::health::judge_jobs({}, 60, "1m", 100000, f);
    CHECK(counts.stale == 0); // not scheduled: only held to max_age when named
    counts = jobsd::health::judge_jobs({"manual", "ghost"}, 60, "1m", 100000, f);
    CHECK(counts.stale == 1);
    CHECK(f.sort() == jobsd::health::State::unknown);
    CHECK(texts(f) ==
          std::vector<std::string>{"UNKNOWN no job \"ghost\" in the folder",
                                   "WARNING 1 job without a success within 1m: manual"});
  }
}
