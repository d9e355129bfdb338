#include <store/json.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

std::vector<std::string> keys_of(const nlohmann::ordered_json& object) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.items()) {
    keys.push_back(key);
  }
  return keys;
}

// The execution object of jobsctl(1), JSON OUTPUT.
const std::vector<std::string> execution_keys = {
    "execution_id", "job_id",        "job_name",         "status",  "timezone", "scheduled_time",
    "start_time",   "end_time",      "duration_seconds", "attempt", "trigger",  "triggered_by",
    "host",         "error_message", "log_path",         "steps"};

} // namespace

TEST_SUITE("store json") {
  TEST_CASE("a running execution: every key, in order, null for what it lacks") {
    store::ExecutionRecord e;
    e.execution_id = "01ABC";
    e.job_id = "backup";
    e.status = "running";
    e.trigger = "schedule";
    e.start_ms = 1000;
    const auto j = store::to_json(e);
    CHECK(keys_of(j) == execution_keys);
    for (const char* key :
         {"job_name", "timezone", "scheduled_time", "end_time", "duration_seconds", "triggered_by",
          "host", "error_message", "log_path", "steps"}) {
      CAPTURE(key);
      CHECK(j[key].is_null());
    }
    CHECK(j["start_time"] == "1970-01-01T00:00:01.000Z");
  }

  TEST_CASE("a skipped fire has the keys of an execution; what only a run has is null") {
    store::FireRecord f;
    f.job_id = "backup";
    f.scheduled_ms = 60000;
    f.reason = "paused by alice";
    const auto j = store::to_json(f);
    CHECK(keys_of(j) == execution_keys);
    CHECK(j["execution_id"].is_null());
    CHECK(j["attempt"].is_null());
    CHECK(j["start_time"].is_null());
    CHECK(j["status"] == "skipped");
    CHECK(j["scheduled_time"] == "1970-01-01T00:01:00.000Z");
    CHECK(j["error_message"] == "paused by alice");
  }

  TEST_CASE("a step: its duration, and its standard error from its data, else null") {
    store::ExecutionRecord e;
    e.job_id = "backup";
    e.status = "failed";
    store::StepRecord s;
    s.step_id = "dump";
    s.step_type = "shell";
    s.status = "failed";
    s.start_ms = 1000;
    s.end_ms = 3500;
    s.outputs_json = R"({"stderr":"disk full\n"})";
    e.steps = {s, s};
    e.steps[1].outputs_json.clear();
    const auto steps = store::to_json(e)["steps"];
    CHECK(keys_of(steps[0]) ==
          std::vector<std::string>{"step_id", "step_name", "step_type", "status", "start_time",
                                   "end_time", "duration_seconds", "exit_code", "signal", "attempt",
                                   "error_message", "output", "error_output"});
    CHECK(steps[0]["duration_seconds"] == 2.5);
    CHECK(steps[0]["error_output"] == "disk full\n");
    CHECK(steps[0]["output"].is_null());
    CHECK(steps[1]["error_output"].is_null());
  }
}
