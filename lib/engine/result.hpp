#pragma once

// What an execution produced: the seeds' JobExecutionResult and StepExecutionResult, with the
// statuses of the spec (section 4).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace engine {

enum class Status {
  pending,
  running,
  success,
  failed,
  partial_success, // a step failed with continue_on_failure, the others succeeded
  timeout,
  cancelled,
  skipped,
  interrupted, // running when the runner died (set by the store at the next start)
};

const char* to_string(Status s);
std::optional<Status> parse_status(std::string_view text);
// Every status's name, in the order of the enum (for jobsctl's shell completion).
const std::vector<std::string_view>& status_names();

using TimePoint = std::chrono::system_clock::time_point;

struct StepResult {
  std::string step_id;
  std::string step_name;
  std::string step_type;
  Status status = Status::pending;
  TimePoint start{}, end{};
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::string output;       // stdout, bounded, secrets replaced by ***
  std::string error_output; // stderr, likewise
  std::string error_message;
  int attempt = 1;

  double duration_seconds() const;
};

struct JobResult {
  std::string execution_id;
  std::string job_id;
  std::string job_name;
  Status status = Status::pending;
  std::string timezone;
  std::optional<std::int64_t> scheduled_time; // UTC seconds; none for a manual run
  TimePoint start{}, end{};
  std::vector<StepResult> steps;
  // The index in `steps` of the step that ended the execution as failed or timed out: it failed
  // without continue_on_failure, or the job's timeout ran out during it. None when no step did.
  std::optional<std::size_t> failing_step;
  std::string error_message;
  int attempt = 1;
  std::string trigger; // schedule, manual, api, after, catchup, retry
  std::string triggered_by;
  std::string host;

  double duration_seconds() const;
  // The step that made the status: the failing step, else (a partial success) the first step
  // that failed or timed out; null when no step failed.
  const StepResult* failed_step() const;
};

// "2026-11-23T18:40:01.123Z": UTC, ISO 8601 with milliseconds.
std::string iso_time(TimePoint t);

// A new execution id: a ULID (48 bits of milliseconds, 80 random bits, Crockford base 32), so
// ids sort by time and do not collide across restarts and hosts. Ids made by one process in the
// same millisecond still sort in the order they were made.
std::string new_execution_id(TimePoint now = std::chrono::system_clock::now());

} // namespace engine
