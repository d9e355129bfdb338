#pragma once

#include <engine/result.hpp>
#include <store/store.hpp>

#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace jobsctl {

// The --state-dir option of the verbs that use the history store: the daemon's state folder
// (the flag, JOBS_STATE_DIR, the configuration's state_dir, the default; daemon_config.hpp).
struct StateOption {
  // --state-dir and --config.
  void add_option(CLI::App& command);
  const std::string& dir() const;
  // Whether the state folder has a store (none before the first run).
  bool has_store() const;
  // The store, opened; an error when there is none yet ("no history yet in DIR").
  base::Result<std::unique_ptr<store::Store>> open_existing() const;
};

// The time a --since or --until (`option`) names, in UTC milliseconds: a time argument
// (times.hpp; clock times in this machine's zone, or UTC with --utc) or a bare duration ago
// ("2h", "3d"); nothing when `text` is empty. Anything else is printed as an error and throws
// Exit{2}.
std::optional<std::int64_t> history_time_ms(const std::string& option, const std::string& text);

// A result as the execution object of jobsctl(1), JSON OUTPUT (store::to_json of its record),
// with the log it was written to (empty: none).
nlohmann::ordered_json result_json(const engine::JobResult& r, const std::string& log_path);

// The exit code that tells a job's status: 0 success, 1 failed, 4 partial_success, 5 timeout,
// 130 cancelled.
int exit_code_of(engine::Status status);

// Prints "partial_success: 3 steps (2 succeeded, 1 failed, 0 skipped) in 0.04s, execution
// 01M8..." and a line end to `out`, from a result or a stored execution as JSON, the status in its
// colour. Cancelled steps are counted as such ("1 step (0 succeeded, 0 failed, 0 skipped,
// 1 cancelled)"), not as failed.
void print_summary(std::ostream& out, const nlohmann::ordered_json& r);

// "1.23s", "2m05s", "1h02m"
std::string short_duration(double seconds);

} // namespace jobsctl
