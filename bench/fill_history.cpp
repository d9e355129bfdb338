// For bench/run-stats: fills a history store with executions through the Store interface, as
// jobsd records them (begin, then finish with one step), so that `jobsctl stats` can be timed on
// a history of a given size.
//
//   fill_history PATH EXECUTIONS JOBS
//
// The executions are spread evenly over JOBS jobs and over the 30 days before now, one every
// 30 days / EXECUTIONS; from a fixed seed, 90% succeed, 6% fail, 2% time out, 1% partially
// succeed and 1% are cancelled, lasting 0.05 s to 10 min (log-uniform). One fire in a hundred
// is recorded skipped instead, half of them missed. Prints what it made and how long it took.
#include <store/store.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: fill_history PATH EXECUTIONS JOBS\n");
    return 2;
  }
  const std::string path = argv[1];
  const long executions = std::atol(argv[2]);
  const long jobs = std::atol(argv[3]);
  if (executions <= 0 || jobs <= 0) {
    std::fprintf(stderr, "fill_history: EXECUTIONS and JOBS must be positive numbers\n");
    return 2;
  }
  auto opened = store::open_sqlite(path);
  if (!opened) {
    std::fprintf(stderr, "fill_history: %s\n", opened.error().message.c_str());
    return 1;
  }
  store::Store& history = **opened;
  const auto started = std::chrono::steady_clock::now();
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  const std::int64_t span = 30LL * 24 * 3600 * 1000;
  std::mt19937_64 random(20261207);
  std::uniform_real_distribution<double> unit(0, 1);
  long skipped = 0;
  for (long i = 0; i < executions; ++i) {
    const std::string job = "job-" + std::to_string(i % jobs);
    const std::int64_t start = now - span + span / executions * i;
    // 101 and 202: prime to the job count of a hundred, so that every job gets some.
    if (i % 101 == 100) {
      const char* reason = i % 202 == 201 ? "missed while jobsd was down (missed: skip)"
                                          : "concurrency: forbid: execution x is still running";
      if (!history.record_skipped_fire(job, start, reason)) {
        std::fprintf(stderr, "fill_history: cannot record a skipped fire\n");
        return 1;
      }
      ++skipped;
    }
    store::ExecutionRecord e;
    e.execution_id = "bench-" + std::to_string(i);
    e.job_id = job;
    e.job_name = job;
    e.timezone = "UTC";
    e.trigger = "schedule";
    e.host = "bench";
    e.start_ms = start;
    if (auto begun = history.begin_execution(e); !begun) {
      std::fprintf(stderr, "fill_history: %s\n", begun.error().message.c_str());
      return 1;
    }
    const double draw = unit(random);
    e.status = draw < 0.90   ? "success"
               : draw < 0.96 ? "failed"
               : draw < 0.98 ? "timeout"
               : draw < 0.99 ? "partial_success"
                             : "cancelled";
    e.end_ms = start + static_cast<std::int64_t>(50 * std::pow(12000.0, unit(random)));
    store::StepRecord step;
    step.step_id = "main";
    step.step_name = "main";
    step.step_type = "shell";
    step.status = e.status == "partial_success" ? "failed" : e.status;
    step.start_ms = e.start_ms;
    step.end_ms = e.end_ms;
    step.exit_code = e.status == "success" ? 0 : 1;
    e.steps.push_back(step);
    if (auto finished = history.finish_execution(e); !finished) {
      std::fprintf(stderr, "fill_history: %s\n", finished.error().message.c_str());
      return 1;
    }
  }
  std::printf("filled %s: %ld executions of %ld jobs, %ld skipped fires, in %.1f s\n", path.c_str(),
              executions, jobs, skipped,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return 0;
}
