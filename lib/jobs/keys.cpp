#include <jobs/keys.hpp>

#include <algorithm>

namespace jobs {

const KeySpec& key_spec(const std::vector<KeySpec>& keys, std::string_view name) {
  return *std::find_if(keys.begin(), keys.end(), [&](const KeySpec& k) { return k.name == name; });
}

const std::vector<KeySpec>& job_keys() {
  static const std::vector<KeySpec> keys = {
      {"id", ValueType::string, "Job id, unique in the folder; default: the file name"},
      {"name", ValueType::string, "Display name; default: the id"},
      {"description", ValueType::string, "What the job does"},
      {"enabled", ValueType::boolean, "false: the job never fires (it can still be run)"},
      {"timezone", ValueType::string, "IANA zone the schedule is read in; default: the daemon's"},
      {"schedule", ValueType::schedule,
       "A cron expression, a list of them, or a map with cron, every or at"},
      {"concurrency",
       ValueType::string,
       "A fire while the job runs: allow, forbid or replace",
       {"allow", "forbid", "replace"}},
      {"priority",
       ValueType::integer,
       "0-100, higher first within a time-zone queue",
       {},
       false,
       0,
       100},
      {"timeout", ValueType::timeout,
       "Limit on the whole job, or none; default: the daemon's default_timeout (1h)"},
      {"retries", ValueType::map, "Retry policy of the job: max, delay, backoff, max_delay"},
      {"working_directory", ValueType::string, "Folder the steps run in"},
      {"env", ValueType::string_map, "Environment variables for every step"},
      {"run_as", ValueType::string, "User the steps run as (jobsd running as root only)"},
      {"limits", ValueType::map, "memory, cpu_time, open_files, processes, output"},
      {"notify", ValueType::map,
       "on_failure, on_success and on_retry lists of {email: ...}, {webhook: ...} or "
       "{command: ...}"},
      {"after", ValueType::string_list, "Run when these jobs succeed"},
      {"metadata", ValueType::any, "Free-form data kept with the job"},
      {"steps", ValueType::list, "The steps, run in order"},
      {"command", ValueType::string, "Single-step form: a shell command (instead of steps)"},
  };
  return keys;
}

const std::vector<KeySpec>& schedule_keys() {
  static const std::vector<KeySpec> keys = {
      {"cron", ValueType::string_list, "Cron expression(s), see jobs(5)"},
      {"every", ValueType::duration, "Fixed interval, anchored at the Unix epoch"},
      {"at", ValueType::string, "One-off run at this local time (2026-12-01T09:00)"},
      {"jitter", ValueType::duration, "Random delay added to each fire"},
      {"missed",
       ValueType::string,
       "Fires missed while down: skip, once or all",
       {"skip", "once", "all"}},
      {"max_lateness", ValueType::duration, "A missed fire older than this is skipped"},
      {"dst_gap",
       ValueType::string,
       "A fixed-time fire in a DST gap: shift or skip",
       {"shift", "skip"}},
  };
  return keys;
}

const std::vector<KeySpec>& retries_keys() {
  static const std::vector<KeySpec> keys = {
      {"max", ValueType::integer, "Retries after the first attempt", {}, false, 0, 1000},
      {"delay", ValueType::duration, "Wait before the first retry"},
      {"backoff", ValueType::number, "Factor applied to each further wait"},
      {"max_delay", ValueType::duration, "Cap on one wait"},
  };
  return keys;
}

const std::vector<KeySpec>& limits_keys() {
  static const std::vector<KeySpec> keys = {
      {"memory", ValueType::size, "Address space limit (512M, 2G)"},
      {"cpu_time", ValueType::duration, "CPU time limit"},
      {"open_files", ValueType::integer, "Open file descriptors limit", {}, false, 1, 1 << 20},
      {"processes",
       ValueType::integer,
       "Processes of the step's user (not enforced for root: use run_as)",
       {},
       false,
       1,
       1 << 22}, // the kernel's PID_MAX_LIMIT
      {"output", ValueType::size, "Bytes of stdout and stderr kept per step (default 1M)"},
  };
  return keys;
}

const std::vector<KeySpec>& notify_keys() {
  static const std::vector<KeySpec> keys = {
      {"on_failure", ValueType::list, "Notifications when the job fails"},
      {"on_success", ValueType::list, "Notifications when the job succeeds"},
      {"on_retry", ValueType::list, "Notifications when a failed attempt is retried"},
  };
  return keys;
}

const std::vector<KeySpec>& step_common_keys() {
  static const std::vector<KeySpec> keys = {
      {"id", ValueType::string, "Step id, unique in the job; default: step-N"},
      {"name", ValueType::string, "Display name"},
      {"type", ValueType::string, "The step type", {}, true},
      {"timeout", ValueType::duration, "Limit on this step"},
      {"retries", ValueType::map, "Retry policy of this step"},
      {"continue_on_failure", ValueType::boolean, "A failure does not stop the job"},
      {"when",
       ValueType::string,
       "Run on_success (default), on_failure or always",
       {"on_success", "on_failure", "always"}},
      {"working_directory", ValueType::string, "Folder the step runs in"},
      {"env", ValueType::string_map, "Environment variables of this step"},
  };
  return keys;
}

} // namespace jobs
