#pragma once

// Running a job: its steps in order with `when` and `continue_on_failure`, step and job
// timeouts, retries with exponential backoff, a cap and jitter, variables passed safely, and
// cancellation. The runner (jobsctl run, jobsd) records what happens through Events.

#include <engine/integrations.hpp>
#include <engine/notify.hpp>
#include <engine/result.hpp>
#include <exec/process.hpp>
#include <jobs/model.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace engine {

// Time for waits between retries: the system clock, or a fake one in tests.
class Clock {
public:
  virtual ~Clock() = default;
  virtual TimePoint now() = 0;
  // Waits `duration` unless `cancel` fires first; false when cancelled.
  virtual bool sleep_for(std::chrono::milliseconds duration, exec::CancelToken* cancel) = 0;
};

Clock& system_clock();

// What happens during a run, for logs, the store and live output. Lines and results come with
// secrets already replaced by ***.
class Events {
public:
  virtual ~Events() = default;
  // Before the first process starts.
  virtual void execution_started(const JobResult&) {}
  virtual void step_started(const JobResult&, const StepResult&) {}
  virtual void output(const JobResult&, const StepResult&, exec::Stream, std::string_view) {}
  virtual void step_finished(const JobResult&, const StepResult&) {}
  // A step (or, with `step` null, the job) runs again after `delay`.
  virtual void retrying(const JobResult&, const StepResult* /*step*/, std::chrono::milliseconds) {}
  virtual void execution_finished(const JobResult&) {}
  // After an attempt: one of the job's notifications was sent, or failed (`n.error`).
  virtual void notified(const JobResult&, const Notified& /*n*/) {}
};

struct RunOptions {
  std::string execution_id; // of the first attempt (a daemon claims its fire first); empty: new
  std::string trigger = "manual";
  std::string triggered_by;
  std::optional<std::int64_t> scheduled_time; // UTC seconds of the fire
  // The environment every step starts from (the runner's), before the job's env.
  std::vector<std::pair<std::string, std::string>> environment;
  std::map<std::string, std::string> secrets; // ${secret.NAME}
  std::chrono::milliseconds kill_grace{10000};
  exec::CancelToken* cancel = nullptr;
  Clock* clock = nullptr;         // null: the system clock
  std::function<double()> random; // [0, 1) for jitter; null: a real one
  std::string host;               // null: gethostname
  // Connections, allowed_paths and SMTP for the in-process steps; null: none configured.
  const Integrations* integrations = nullptr;
};

// Runs the job once (one attempt, `attempt`), with step retries.
JobResult run_job(const jobs::JobDefinition& job, const RunOptions& options, Events& events,
                  int attempt = 1);

// Runs the job and, while it fails (failed or timeout), again per its retry policy; one result
// per attempt, each its own execution. The last one is the outcome.
std::vector<JobResult> run_with_retries(const jobs::JobDefinition& job, const RunOptions& options,
                                        Events& events);

// The wait before retry number `retry` (1 for the first): delay * backoff^(retry - 1), at most
// max_delay, plus up to a tenth more (`random` in [0, 1)).
std::chrono::milliseconds retry_delay(const jobs::RetryPolicy& policy, int retry, double random);

// The secrets of `text` (KEY=VALUE lines, '#' comments), for --secrets files. Errors name the
// line.
base::Result<std::map<std::string, std::string>> parse_secrets(std::string_view text,
                                                               const std::string& path);

// What is wrong with a secret of fewer than 3 bytes, named `name`: masking it (it is masked all
// the same) masks those bytes wherever they appear in the output. Empty for a longer one.
std::string short_secret(const std::string& name, const std::string& value);

// The names of the secrets the job's env and its steps (or only `step`, one of them) use.
std::set<std::string> secrets_used(const jobs::JobDefinition& job,
                                   const jobs::StepDefinition* step = nullptr);

// The values of the secrets the job uses: from `known` (a secrets file), else from the
// environment variable of the same name; those found nowhere are left out.
std::map<std::string, std::string> secrets_for(const jobs::JobDefinition& job,
                                               const std::map<std::string, std::string>& known);

// The values of `secrets`, for exec::ProcessSpec::secrets and base::Redactor.
std::vector<std::string> secret_values(const std::map<std::string, std::string>& secrets);

// `text` with every secret value, of any length, replaced by *** (base::redact).
std::string redact(std::string_view text, const std::map<std::string, std::string>& secrets);

} // namespace engine
