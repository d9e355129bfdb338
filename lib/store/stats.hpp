#pragma once

// A job's executions and fires summed up (jobsctl stats): executions by status, success rate,
// duration percentiles, fires skipped and missed, last success. Store::stats() fills it; the
// summing is here so that every store sums alike.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace store {

// Which records stats() sums up.
struct StatsQuery {
  std::optional<std::string> job_id;    // only this job; absent: every job
  std::optional<std::int64_t> since_ms; // executions started, fires due, at or after
};

// One job's figures. Every job the store has a state for is listed, with zeros when nothing of
// it matches the query.
struct JobStats {
  std::string job_id;
  std::int64_t runs = 0;                         // executions
  std::map<std::string, std::int64_t> by_status; // executions by status; only those seen
  // Successes over the executions that ended, not counting cancelled or skipped ones (an
  // operator's decision, not the job's outcome); absent when there is none.
  std::optional<double> success_rate;
  // Durations (end - start) of the executions that ended, whatever their status: nearest-rank
  // percentiles (percentile()) and the longest; absent when none ended.
  std::optional<std::int64_t> p50_ms;
  std::optional<std::int64_t> p95_ms;
  std::optional<std::int64_t> max_ms;
  std::int64_t skipped_fires = 0; // fires skipped (concurrency: forbid, ...)
  std::int64_t missed_fires = 0;  // fires missed (jobsd down, ...) and recorded as not run
  // The end of the latest success, also before since_ms (the job's state, which pruning keeps).
  std::optional<std::int64_t> last_success_ms;

  bool operator==(const JobStats&) const = default;
};

// The nearest-rank percentile of `sorted` (ascending, not empty): its smallest value that at
// least `p` percent (1 to 100) of the values are less than or equal to, i.e. the value at rank
// ceil(p / 100 * n). It is always one of the values: p50 of {1, 2, 3, 4} is 2, p95 is 4.
std::int64_t percentile(const std::vector<std::int64_t>& sorted, int p);

// Whether a skipped fire's reason says it was missed (jobsd's scheduler writes "missed while
// jobsd was down ...", "missed when the clock jumped forward: ..."), rather than skipped.
bool missed_reason(const std::string& reason);

// Sums records up into one JobStats per job.
class StatsBuilder {
public:
  // An execution; `end_ms` absent while it runs.
  void add_execution(const std::string& job_id, const std::string& status, std::int64_t start_ms,
                     std::optional<std::int64_t> end_ms);
  // A fire recorded as skipped, with its reason.
  void add_skipped_fire(const std::string& job_id, const std::string& reason);
  // A job the store has a state for, listed even when nothing else of it is added.
  void add_job(const std::string& job_id, std::optional<std::int64_t> last_success_ms);
  // The figures, by job id.
  std::vector<JobStats> finish();

private:
  struct Job {
    JobStats stats;
    std::vector<std::int64_t> durations;
    std::int64_t successes = 0;
    std::int64_t rated = 0; // executions the success rate is over
  };
  Job& job(const std::string& job_id);
  std::map<std::string, Job> jobs_;
};

} // namespace store
