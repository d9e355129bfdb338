#pragma once

// jobsd's metrics (man/jobsd.8, METRICS): counters, histograms and timestamps kept as things
// happen, and the gauges of the moment, rendered in the Prometheus text exposition format 0.0.4
// for the metrics command, the HTTP /metrics route and node_exporter's textfile collector.
// Labels are the job id and the zone only, so that the series are bounded by the jobs loaded: a
// job a reload removes stops being exported. Everything restarts with jobsd (counters at 0, as
// Prometheus expects, with jobs_start_time_seconds), except the last success, which start-up
// reads from the history store. Used on the event loop only.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobsd {

// Observations counted in buckets of fixed upper bounds (ascending); the last bucket is +Inf.
class Histogram {
public:
  explicit Histogram(const std::vector<double>& bounds);

  void observe(double value);

  const std::vector<double>& bounds() const { return *bounds_; }
  // The observations of each bucket alone (not cumulative), one more than bounds(): +Inf's.
  const std::vector<std::uint64_t>& counts() const { return counts_; }
  double sum() const { return sum_; }
  std::uint64_t count() const { return count_; }

private:
  const std::vector<double>* bounds_;
  std::vector<std::uint64_t> counts_;
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

// The buckets (seconds) of jobs_execution_duration_seconds and jobs_fire_lateness_seconds.
const std::vector<double>& duration_buckets();
const std::vector<double>& lateness_buckets();

// A label value escaped for the text format: backslash, double quote and newline.
std::string escape_label(std::string_view value);

// What the daemon is at the moment of rendering: the gauges.
struct MetricsNow {
  struct Queue {
    std::string zone;
    std::size_t depth = 0;
    int running = 0;
    int limit = 0;
  };
  std::vector<Queue> queues;
  std::map<std::string, int> running; // executions running, by job id (those not listed: 0)
  std::size_t files_with_errors = 0;
  std::size_t store_writes_waiting = 0;
  std::int64_t log_lines_lost = 0; // since jobsd started
  std::int64_t started_ms = 0;     // when jobsd started (UTC ms)
};

class Metrics {
public:
  // `version`: jobsd's.
  explicit Metrics(std::string version);

  // The jobs of a new generation, by id: those gone are forgotten, new ones start at 0. A load
  // that is not the first counts as a reload.
  void set_jobs(const std::vector<std::string>& ids, bool initial);
  // The end (UTC ms) of the latest success of `job`, as the history store knows it when `job`
  // is loaded (at start-up, or by a reload that adds it back).
  void seed_last_success(const std::string& job, std::int64_t end_ms);

  // An execution of `job` ended with `status` ("success", "failed" ...) at `end_ms` (UTC ms).
  // `seconds`: how long it ran; absent for one recorded without running (cancelled while
  // queued, skipped, interrupted by a shutdown), which counts but sets no duration or last run.
  void execution_ended(const std::string& job, const std::string& status,
                       std::optional<double> seconds, std::int64_t end_ms);
  // A fire of `job` did not run: `missed` (jobsd down, the host suspended, the clock jumped)
  // or skipped (paused, concurrency: forbid).
  void fire_not_run(const std::string& job, bool missed);
  // jobsd acted on a scheduled fire `seconds` after it was due (its instant plus its jitter).
  void fire_late(double seconds);
  // The history store reported a fault.
  void store_fault();
  // Something the gauges show changed (a queue, the executions running).
  void note_change() { changed_ = true; }

  // Whether anything changed since the last clear_changed() (at first: yes).
  bool changed() const { return changed_; }
  void clear_changed() { changed_ = false; }

  // The exposition, with `now`'s gauges.
  std::string render(const MetricsNow& now) const;

private:
  struct Job {
    std::map<std::string, std::uint64_t> executions; // by status
    Histogram duration{duration_buckets()};
    std::optional<double> last_success; // UTC seconds
    std::optional<double> last_run;
    std::uint64_t skipped = 0, missed = 0;
  };

  std::string version_;
  std::map<std::string, Job> jobs_;
  Histogram lateness_{lateness_buckets()};
  std::uint64_t reloads_ = 0, store_faults_ = 0;
  bool changed_ = true;
};

} // namespace jobsd
