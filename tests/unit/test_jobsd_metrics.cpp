#include <jobsd/metrics.hpp>

#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

namespace {

// The lines of `text` that begin with `prefix`.
std::vector<std::string> lines_of(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(prefix)) {
      out.push_back(line);
    }
  }
  return out;
}

// Whether `line` is a whole line of `text`.
bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

} // namespace

TEST_SUITE("jobsd.metrics") {
  TEST_CASE("label values escape backslash, double quote and newline") {
    CHECK(jobsd::escape_label("plain-id_1.x") == "plain-id_1.x");
    CHECK(jobsd::escape_label(R"(a\b)") == R"(a\\b)");
    CHECK(jobsd::escape_label(R"(say "hi")") == R"(say \"hi\")");
    CHECK(jobsd::escape_label("two\nlines") == R"(two\nlines)");
    CHECK(jobsd::escape_label("\\\"\n") == R"(\\\"\n)");
  }

  TEST_CASE("a histogram's buckets are cumulative, end with +Inf, and give _sum and _count") {
    jobsd::Metrics m("1.0");
    m.set_jobs({"a"}, true);
    for (const double s : {0.05, 0.1, 3.0, 100000.0}) {
      m.execution_ended("a", "success", s, 1000);
    }
    const std::string text = m.render({});
    CHECK(lines_of(text, "jobs_execution_duration_seconds_bucket{job_id=\"a\"") ==
          std::vector<std::string>{
              R"(jobs_execution_duration_seconds_bucket{job_id="a",le="1"} 2)",
              R"(jobs_execution_duration_seconds_bucket{job_id="a",le="10"} 3)",
              R"(jobs_execution_duration_seconds_bucket{job_id="a",le="60"} 3)",
              R"(jobs_execution_duration_seconds_bucket{job_id="a",le="300"} 3)",
              R"(jobs_execution_duration_seconds_bucket{job_id="a",le="900"} 3)",
              R"(jobs_execution_duration_seconds_bucket{job_id="a",le="3600"} 3)",
              R"(jobs_execution_duration_seconds_bucket{job_id="a",le="21600"} 3)",
              R"(jobs_execution_duration_seconds_bucket{job_id="a",le="+Inf"} 4)",
          });
    CHECK(lines_of(text, "jobs_execution_duration_seconds_sum") ==
          std::vector<std::string>{R"(jobs_execution_duration_seconds_sum{job_id="a"} 100003.15)"});
    CHECK(lines_of(text, "jobs_execution_duration_seconds_count") ==
          std::vector<std::string>{R"(jobs_execution_duration_seconds_count{job_id="a"} 4)"});

    // Without labels: the daemon's lateness, at 0 before any fire.
    CHECK(lines_of(text, "jobs_fire_lateness_seconds_bucket{le=\"+Inf\"}") ==
          std::vector<std::string>{R"(jobs_fire_lateness_seconds_bucket{le="+Inf"} 0)"});
    CHECK(has_line(text, "jobs_fire_lateness_seconds_sum 0"));
    CHECK(has_line(text, "jobs_fire_lateness_seconds_count 0"));
  }

  TEST_CASE("each family has HELP and TYPE before its samples") {
    jobsd::Metrics m("1.0");
    m.set_jobs({"a"}, true);
    const std::string text = m.render({});
    std::istringstream in(text);
    std::string family;
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("# HELP ")) {
        family = line.substr(7, line.find(' ', 7) - 7);
        std::string type;
        REQUIRE(std::getline(in, type));
        CHECK(type.starts_with("# TYPE " + family + " "));
        continue;
      }
      INFO(line);
      CHECK(!family.empty());
      CHECK(line.starts_with(family));
    }
    for (const char* name :
         {"jobs_executions_total", "jobs_execution_duration_seconds",
          "jobs_last_success_timestamp_seconds", "jobs_last_run_timestamp_seconds",
          "jobs_fires_skipped_total", "jobs_fires_missed_total", "jobs_running", "jobs_queue_depth",
          "jobs_queue_running", "jobs_queue_limit", "jobs_fire_lateness_seconds",
          "jobs_store_faults_total", "jobs_log_faults_total", "jobs_reloads_total",
          "jobs_job_files_with_errors", "jobs_jobs_loaded", "jobs_build_info",
          "jobs_start_time_seconds"}) {
      CHECK_MESSAGE(text.find(std::string("# HELP ") + name + " ") != std::string::npos, name);
    }
  }

  TEST_CASE("per job: executions by status (success and failed at 0 first), timestamps, fires "
            "not run") {
    jobsd::Metrics m("1.2.3");
    m.seed_last_success("a", 1700000000500);
    m.set_jobs({"a", "b"}, true);
    std::string text = m.render({});
    CHECK(has_line(text, R"(jobs_executions_total{job_id="a",status="success"} 0)"));
    CHECK(has_line(text, R"(jobs_executions_total{job_id="b",status="failed"} 0)"));
    CHECK(lines_of(text, "jobs_executions_total{job_id=\"a\"").size() == 2);
    CHECK(has_line(text, R"(jobs_last_success_timestamp_seconds{job_id="a"} 1700000000.5)"));
    CHECK(lines_of(text, "jobs_last_success_timestamp_seconds{job_id=\"b\"}").empty());
    CHECK(lines_of(text, "jobs_last_run_timestamp_seconds{").empty());

    m.execution_ended("b", "failed", 2.5, 1700000100250);
    m.execution_ended("b", "cancelled", std::nullopt, 1700000200000); // never ran
    m.fire_not_run("b", false);
    m.fire_not_run("b", true);
    m.fire_not_run("b", true);
    text = m.render({});
    CHECK(has_line(text, R"(jobs_executions_total{job_id="b",status="failed"} 1)"));
    CHECK(has_line(text, R"(jobs_executions_total{job_id="b",status="cancelled"} 1)"));
    CHECK(has_line(text, R"(jobs_execution_duration_seconds_count{job_id="b"} 1)"));
    CHECK(has_line(text, R"(jobs_last_run_timestamp_seconds{job_id="b"} 1700000100.25)"));
    CHECK(lines_of(text, "jobs_last_success_timestamp_seconds{job_id=\"b\"}").empty());
    CHECK(has_line(text, R"(jobs_fires_skipped_total{job_id="b"} 1)"));
    CHECK(has_line(text, R"(jobs_fires_missed_total{job_id="b"} 2)"));

    m.execution_ended("a", "success", 1, 1700000300000);
    text = m.render({});
    CHECK(has_line(text, R"(jobs_last_success_timestamp_seconds{job_id="a"} 1700000300)"));
    CHECK(has_line(text, R"(jobs_build_info{version="1.2.3"} 1)"));

    m.execution_ended("b", "timeout", 2.0, 1700000400000);
    text = m.render({});
    CHECK(lines_of(text, "jobs_executions_total{job_id=\"b\"") ==
          std::vector<std::string>{R"(jobs_executions_total{job_id="b",status="success"} 0)",
                                   R"(jobs_executions_total{job_id="b",status="failed"} 1)",
                                   R"(jobs_executions_total{job_id="b",status="timeout"} 1)",
                                   R"(jobs_executions_total{job_id="b",status="cancelled"} 1)"});
  }

  TEST_CASE("a reload drops the jobs it removed and keeps the others' counters") {
    jobsd::Metrics m("1.0");
    m.set_jobs({"a", "b"}, true);
    m.execution_ended("a", "success", 1, 1000);
    m.execution_ended("b", "success", 1, 1000);
    m.set_jobs({"a", "c"}, false);
    m.execution_ended("b", "success", 1, 2000); // ran while it was removed: not exported
    const std::string text = m.render({});
    CHECK(has_line(text, R"(jobs_executions_total{job_id="a",status="success"} 1)"));
    CHECK(has_line(text, R"(jobs_executions_total{job_id="c",status="success"} 0)"));
    CHECK(text.find("job_id=\"b\"") == std::string::npos);
    CHECK(has_line(text, "jobs_reloads_total 1"));
    CHECK(has_line(text, "jobs_jobs_loaded 2"));
  }

  TEST_CASE("the gauges of the moment: queues, running, faults, start time") {
    jobsd::Metrics m("1.0");
    m.set_jobs({"a"}, true);
    m.store_fault();
    m.fire_late(0.003);
    m.fire_late(-1); // the clock went back: on time
    jobsd::MetricsNow now;
    now.queues = {{"Europe/Paris", 3, 2, 4}, {"UTC", 0, 0, 1}};
    now.running = {{"a", 2}};
    now.files_with_errors = 1;
    now.store_writes_waiting = 5;
    now.log_lines_lost = 7;
    now.started_ms = 1700000000123;
    const std::string text = m.render(now);
    CHECK(has_line(text, R"(jobs_queue_depth{zone="Europe/Paris"} 3)"));
    CHECK(has_line(text, R"(jobs_queue_running{zone="Europe/Paris"} 2)"));
    CHECK(has_line(text, R"(jobs_queue_limit{zone="UTC"} 1)"));
    CHECK(has_line(text, R"(jobs_running{job_id="a"} 2)"));
    CHECK(has_line(text, "jobs_job_files_with_errors 1"));
    CHECK(has_line(text, "jobs_store_faults_total 1"));
    CHECK(has_line(text, "jobs_store_writes_waiting 5"));
    CHECK(has_line(text, "jobs_log_faults_total 7"));
    CHECK(has_line(text, "jobs_start_time_seconds 1700000000.123"));
    CHECK(has_line(text, R"(jobs_fire_lateness_seconds_bucket{le="0.005"} 2)"));
    CHECK(has_line(text, "jobs_fire_lateness_seconds_count 2"));
  }

  TEST_CASE("changed: set by what the exposition shows, cleared once written") {
    jobsd::Metrics m("1.0");
    CHECK(m.changed());
    m.clear_changed();
    CHECK(!m.changed());
    m.set_jobs({"a"}, false);
    CHECK(m.changed());
    m.clear_changed();
    m.fire_not_run("gone", true); // not a job: nothing to show
    CHECK(!m.changed());
    m.fire_not_run("a", false);
    CHECK(m.changed());
    m.clear_changed();
    m.note_change();
    CHECK(m.changed());
  }
}
