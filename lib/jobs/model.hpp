#pragma once

#include <cron/schedule.hpp>
#include <jobs/doc.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace jobs {

enum class Concurrency { allow, forbid, replace };
enum class Missed { skip, once, all };
enum class When { on_success, on_failure, always };
enum class FileFormat { json, yaml };
// Where a job's time limit comes from: its own `timeout` key (a duration or none), or the
// daemon's default_timeout (jobsd.8) when it has none.
enum class TimeoutFrom { job, default_timeout };

// The default_timeout of a daemon whose configuration names none: one hour, as the schedulers
// jobs replaces had.
inline constexpr std::int64_t default_job_timeout = 60 * 60;

struct RetryPolicy {
  int max = 0;                  // retries after the first attempt
  std::int64_t delay = 30;      // seconds before the first retry
  double backoff = 2.0;         // each further delay is multiplied by this
  std::int64_t max_delay = 600; // cap on one delay
};

struct Limits {
  std::optional<std::int64_t> memory;     // bytes
  std::optional<std::int64_t> cpu_time;   // seconds
  std::optional<std::int64_t> open_files; // count
  std::optional<std::int64_t> processes;  // count, of the step's user (RLIMIT_NPROC)
  std::optional<std::int64_t> output;     // bytes of stdout and stderr kept per step
};

// When a job fires: cron expressions (each with the job's zone and the job id as H seed), an
// interval, or a one-off local time; plus the catch-up and DST policies.
struct ScheduleSpec {
  std::vector<std::string> cron;        // as written ("30 2 * * 1-5", "@daily", "@every 15m")
  std::vector<cron::Schedule> compiled; // parsed, same order as `cron`
  std::optional<std::int64_t> at;       // one-off: UTC seconds
  std::string at_text;                  // as written
  std::int64_t jitter = 0;              // seconds
  Missed missed = Missed::once;
  std::optional<std::int64_t> max_lateness; // seconds
  cron::DstGap dst_gap = cron::DstGap::shift;

  bool empty() const { return cron.empty() && !at; }
};

// One notification of notify.on_failure, on_success or on_retry (jobs(5)).
struct Notification {
  std::string kind;                 // "email", "webhook" or "command"
  std::vector<std::string> targets; // addresses; the URL; argv, or one shell command line
  bool one = true;                  // written as one string, not a list (a command: sh -c)
  Mark mark;                        // of its key (email:, webhook:, command:)
};

struct StepDefinition {
  std::string id;
  std::string name;
  std::string type;
  std::optional<std::int64_t> timeout;
  std::optional<RetryPolicy> retries;
  bool continue_on_failure = false;
  When when = When::on_success;
  Node keys; // the whole step map as written, for the type's own keys
  Mark mark;
};

// One job file, as the loader understood it.
struct JobDefinition {
  std::string id;
  std::string name;
  std::string description;
  bool enabled = true;
  std::string timezone; // as written; empty: the default zone
  const tz::Zone* zone = nullptr;
  ScheduleSpec schedule;
  Concurrency concurrency = Concurrency::forbid;
  int priority = 50;
  // Seconds the job may run (then it is stopped and ends as timeout); none: no limit.
  std::optional<std::int64_t> timeout;
  TimeoutFrom timeout_from = TimeoutFrom::job;
  RetryPolicy retries;
  std::string working_directory;
  std::vector<std::pair<std::string, std::string>> env;
  std::string run_as;
  Limits limits;
  std::vector<Notification> on_failure;
  std::vector<Notification> on_success;
  std::vector<Notification> on_retry;
  std::vector<std::string> after;
  Node metadata;
  std::vector<StepDefinition> steps;

  std::string path;
  FileFormat format = FileFormat::yaml;
  Mark id_mark;      // where the id is written (or 0:0 when it comes from the file name)
  Mark timeout_mark; // where the timeout is written (or 0:0: the default applies)
  std::vector<Mark> after_marks;

  // The first fire strictly after `from` over all the job's schedules.
  std::optional<cron::Fire> next_fire(cron::Instant from) const;
};

// The earliest fire strictly after `from` over `schedules` and the one-off `at` (UTC seconds);
// `which`, when given, receives the schedule that made it (null for `at`).
std::optional<cron::Fire> earliest_fire(const std::vector<cron::Schedule>& schedules,
                                        std::optional<std::int64_t> at, cron::Instant from,
                                        const cron::Schedule** which = nullptr);

// A fire and its DST note (cron::dst_note; "" for none, and for a one-off `at`).
struct NotedFire {
  cron::Fire fire;
  std::string dst;
};

// The first `count` fires strictly after `from` over `schedules` and `at`, each after the one
// before (jobsctl next, jobsd's show and preview).
std::vector<NotedFire> next_fires(const std::vector<cron::Schedule>& schedules,
                                  std::optional<std::int64_t> at, cron::Instant from, int count);

const char* to_string(Concurrency c);
const char* to_string(Missed m);
const char* to_string(When w);
const char* to_string(TimeoutFrom t); // "timeout", "default_timeout": the key that set it

// A time limit as written: "1h30m", or "none" for no limit.
std::string format_timeout(std::optional<std::int64_t> seconds);

} // namespace jobs
