#include <engine/result.hpp>
#include <jobsd/metrics.hpp>

#include <algorithm>
#include <charconv>
#include <utility>

namespace jobsd {

namespace {

// A sample value: the shortest text that reads back as the same double.
std::string number(double value) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, value).ptr;
  return std::string(text, end);
}

std::string label(std::string_view name, std::string_view value) {
  return std::string(name) + "=\"" + escape_label(value) + "\"";
}

// Builds the exposition one family at a time: its HELP and TYPE lines, then its samples.
class Writer {
public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help; // ours: no backslash or newline to escape
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  // `labels`: "" or label() texts joined with ','. Appended piece by piece: with 10,000 jobs
  // there are a few hundred thousand samples.
  void sample(std::string_view name, std::string_view labels, std::string_view value,
              std::string_view more_labels = {}) {
    out_ += name;
    if (!labels.empty() || !more_labels.empty()) {
      out_ += '{';
      out_ += labels;
      if (!labels.empty() && !more_labels.empty()) {
        out_ += ',';
      }
      out_ += more_labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }

  void histogram(const std::string& name, const std::string& labels, const Histogram& h) {
    const std::string bucket = name + "_bucket";
    std::uint64_t cumulative = 0;
    for (size_t i = 0; i < h.counts().size(); ++i) {
      cumulative += h.counts()[i];
      const std::string le = i < h.bounds().size() ? number(h.bounds()[i]) : "+Inf";
      sample(bucket, labels, std::to_string(cumulative), label("le", le));
    }
    sample(name + "_sum", labels, number(h.sum()));
    sample(name + "_count", labels, std::to_string(h.count()));
  }

  std::string take() { return std::move(out_); }

private:
  std::string out_;
};

// The statuses an execution ends with, in the order they are exported.
const std::vector<std::string>& final_statuses() {
  static const std::vector<std::string> statuses = [] {
    std::vector<std::string> out;
    for (const auto s : engine::status_names()) {
      if (s != engine::to_string(engine::Status::pending) &&
          s != engine::to_string(engine::Status::running)) {
        out.emplace_back(s);
      }
    }
    return out;
  }();
  return statuses;
}

} // namespace

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(&bounds), counts_(bounds.size() + 1, 0) {}

void Histogram::observe(double value) {
  const auto bucket = std::lower_bound(bounds_->begin(), bounds_->end(), value) - bounds_->begin();
  ++counts_[static_cast<size_t>(bucket)];
  sum_ += value;
  ++count_;
}

const std::vector<double>& duration_buckets() {
  // From a quick script to a long batch job; few, for every job has them: with 10,000 jobs each
  // bucket is 10,000 more lines in each scrape.
  static const std::vector<double> bounds = {1, 10, 60, 300, 900, 3600, 21600};
  return bounds;
}

const std::vector<double>& lateness_buckets() {
  // A fire on time is late by a millisecond or so (the loop's wake-up); a busy loop adds more.
  static const std::vector<double> bounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                             1,     2.5,  5,     10,   30,  60};
  return bounds;
}

std::string escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    switch (c) {
    case '\\':
      out += "\\\\";
      break;
    case '"':
      out += "\\\"";
      break;
    case '\n':
      out += "\\n";
      break;
    default:
      out += c;
    }
  }
  return out;
}

Metrics::Metrics(std::string version) : version_(std::move(version)) {}

void Metrics::set_jobs(const std::vector<std::string>& ids, bool initial) {
  std::map<std::string, Job> jobs;
  for (const auto& id : ids) {
    const auto old = jobs_.find(id);
    jobs.emplace(id, old != jobs_.end() ? std::move(old->second) : Job{});
  }
  jobs_ = std::move(jobs);
  reloads_ += !initial;
  changed_ = true;
}

void Metrics::seed_last_success(const std::string& job, std::int64_t end_ms) {
  jobs_[job].last_success = static_cast<double>(end_ms) / 1000;
}

void Metrics::execution_ended(const std::string& job, const std::string& status,
                              std::optional<double> seconds, std::int64_t end_ms) {
  const auto it = jobs_.find(job);
  if (it == jobs_.end()) {
    return; // removed by a reload while it ran
  }
  Job& j = it->second;
  ++j.executions[status];
  if (seconds) {
    j.duration.observe(*seconds);
    j.last_run = static_cast<double>(end_ms) / 1000;
    if (status == engine::to_string(engine::Status::success)) {
      j.last_success = j.last_run;
    }
  }
  changed_ = true;
}

void Metrics::fire_not_run(const std::string& job, bool missed) {
  const auto it = jobs_.find(job);
  if (it != jobs_.end()) {
    ++(missed ? it->second.missed : it->second.skipped);
    changed_ = true;
  }
}

void Metrics::fire_late(double seconds) {
  lateness_.observe(std::max(seconds, 0.0));
  changed_ = true;
}

void Metrics::store_fault() {
  ++store_faults_;
  changed_ = true;
}

std::string Metrics::render(const MetricsNow& now) const {
  Writer w;
  const auto per_job = [&](std::string_view name, std::string_view type, std::string_view help,
                           const auto& value) {
    w.family(name, type, help);
    for (const auto& [id, j] : jobs_) {
      if (const std::optional<std::string> v = value(id, j)) {
        w.sample(name, label("job_id", id), *v);
      }
    }
  };
  using Value = std::optional<std::string>;

  w.family("jobs_executions_total", "counter",
           "Executions that ended since jobsd started, by job and status.");
  // success and failed at 0 from the start, so that rate() and increase() see the first of
  // each; the rarer statuses from their first execution (each is one more line per job).
  const std::string success = engine::to_string(engine::Status::success);
  const std::string failed = engine::to_string(engine::Status::failed);
  for (const auto& [id, j] : jobs_) {
    const std::string job = label("job_id", id);
    for (const auto& status : final_statuses()) {
      const auto n = j.executions.find(status);
      if (n != j.executions.end() || status == success || status == failed) {
        w.sample("jobs_executions_total", job,
                 std::to_string(n == j.executions.end() ? 0 : n->second), label("status", status));
      }
    }
  }
  w.family("jobs_execution_duration_seconds", "histogram",
           "How long the executions that ran took, by job.");
  for (const auto& [id, j] : jobs_) {
    w.histogram("jobs_execution_duration_seconds", label("job_id", id), j.duration);
  }
  const auto time = [](const std::optional<double>& t) {
    return t ? Value(number(*t)) : std::nullopt;
  };
  per_job("jobs_last_success_timestamp_seconds", "gauge",
          "When the latest successful execution of the job ended (Unix time).",
          [&](const std::string&, const Job& j) { return time(j.last_success); });
  per_job("jobs_last_run_timestamp_seconds", "gauge",
          "When the latest execution of the job that ran ended, whatever its status (Unix "
          "time; since jobsd started).",
          [&](const std::string&, const Job& j) { return time(j.last_run); });
  per_job("jobs_fires_skipped_total", "counter",
          "Fires not run because the job was paused or still running (concurrency: forbid).",
          [](const std::string&, const Job& j) { return Value(std::to_string(j.skipped)); });
  per_job("jobs_fires_missed_total", "counter",
          "Fires missed while jobsd was down, the host suspended or the clock jumped, and "
          "recorded as not run (per the job's missed policy and max_lateness).",
          [](const std::string&, const Job& j) { return Value(std::to_string(j.missed)); });
  per_job("jobs_running", "gauge", "Executions of the job running now.",
          [&](const std::string& id, const Job&) {
            const auto n = now.running.find(id);
            return Value(std::to_string(n == now.running.end() ? 0 : n->second));
          });

  const auto per_zone = [&](std::string_view name, std::string_view help, const auto& value) {
    w.family(name, "gauge", help);
    for (const auto& q : now.queues) {
      w.sample(name, label("zone", q.zone), std::to_string(value(q)));
    }
  };
  using Queue = MetricsNow::Queue;
  per_zone("jobs_queue_depth", "Executions waiting in the time zone's queue.",
           [](const Queue& q) { return q.depth; });
  per_zone("jobs_queue_running", "Executions of the time zone's queue running now.",
           [](const Queue& q) { return q.running; });
  per_zone("jobs_queue_limit", "How many executions of the time zone's queue may run at once.",
           [](const Queue& q) { return q.limit; });

  w.family("jobs_fire_lateness_seconds", "histogram",
           "How late jobsd acted on each scheduled fire after it was due (its instant plus its "
           "jitter); catch-ups of missed fires are not counted.");
  w.histogram("jobs_fire_lateness_seconds", "", lateness_);
  w.family("jobs_store_faults_total", "counter",
           "Faults of the history store since jobsd started (failed writes, lost writes).");
  w.sample("jobs_store_faults_total", "", std::to_string(store_faults_));
  w.family("jobs_store_writes_waiting", "gauge",
           "Writes to the history store waiting in memory for it to work again.");
  w.sample("jobs_store_writes_waiting", "", std::to_string(now.store_writes_waiting));
  w.family("jobs_log_faults_total", "counter",
           "Lines of jobsd.log that could not be written since jobsd started.");
  w.sample("jobs_log_faults_total", "", std::to_string(now.log_lines_lost));
  w.family("jobs_reloads_total", "counter",
           "Reloads of the jobs folder since jobsd started (file changes, SIGHUP, jobsctl "
           "reload).");
  w.sample("jobs_reloads_total", "", std::to_string(reloads_));
  w.family("jobs_job_files_with_errors", "gauge",
           "Job files whose last reading failed (a failing file keeps its last good version).");
  w.sample("jobs_job_files_with_errors", "", std::to_string(now.files_with_errors));
  w.family("jobs_jobs_loaded", "gauge", "Jobs loaded, enabled or not.");
  w.sample("jobs_jobs_loaded", "", std::to_string(jobs_.size()));
  w.family("jobs_build_info", "gauge", "Always 1; its label is jobsd's version.");
  w.sample("jobs_build_info", label("version", version_), "1");
  w.family("jobs_start_time_seconds", "gauge",
           "When jobsd started (Unix time): its counters began at 0 then.");
  w.sample("jobs_start_time_seconds", "", number(static_cast<double>(now.started_ms) / 1000));
  return w.take();
}

} // namespace jobsd
