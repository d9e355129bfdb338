#pragma once

// Recording executions: the history store (the execution before its first process, the whole
// result at its end), one log file per execution, and jobs.jsonl with one record per finished
// execution. A log that cannot be written is reported once and never fails the job.

#include <engine/executor.hpp>
#include <store/store.hpp>

#include <cstdio>
#include <functional>
#include <string>

namespace engine {

// Where the state of a runner lives: <dir>/history.db, and its logs in <dir>/logs/ unless
// `logs` names another folder.
struct StateDir {
  std::string dir;
  std::string logs;

  std::string store_path() const { return dir + "/history.db"; }
  std::string log_dir() const { return logs.empty() ? dir + "/logs" : logs; }
  // The log file of one execution: logs/<job>/<execution>.log
  std::string log_path(const std::string& job_id, const std::string& execution_id) const {
    return log_dir() + "/" + job_id + "/" + execution_id + ".log";
  }
};

// The store's record of a result.
store::ExecutionRecord to_record(const JobResult& r, const std::string& log_path);

// A step's log keeps this many bytes of each stream as they come; of the rest, the end that the
// step's result kept (its bounded output) is written when the step ends.
inline constexpr std::uint64_t log_stream_bytes = 1 << 20;

// jobs.jsonl is rotated when it passes this size; this many old files are kept.
inline constexpr std::int64_t jsonl_rotate_bytes = 16 << 20;
inline constexpr int jsonl_keep = 5;

class Recorder : public Events {
public:
  // `store` may be null (nothing stored); every event is passed on to `next` after it is
  // recorded. Problems are reported through `warn` (default: standard error), once each kind.
  Recorder(store::Store* store, StateDir state, Events* next = nullptr,
           std::function<void(const std::string&)> warn = {});
  ~Recorder() override;

  void execution_started(const JobResult&) override;
  void step_started(const JobResult&, const StepResult&) override;
  void output(const JobResult&, const StepResult&, exec::Stream, std::string_view) override;
  void step_finished(const JobResult&, const StepResult&) override;
  void retrying(const JobResult&, const StepResult*, std::chrono::milliseconds) override;
  void execution_finished(const JobResult&) override;
  // Adds a line to the execution's log and a row to the audit log (action "notify"); one that
  // failed is also reported through `warn`.
  void notified(const JobResult&, const Notified&) override;

  // The log file of the current (or last) execution.
  const std::string& log_path() const { return log_path_; }

  // With `claim`, the first attempt of an execution with a scheduled time claims its fire as it
  // begins (Store::claim_and_begin: one transaction). When that fire ran already, nothing of the
  // execution is recorded (no store rows, no log, no jobs.jsonl line) and refused() is true: the
  // runner must cancel it.
  void claim_fires(bool claim) { claim_ = claim; }
  bool refused() const { return refused_; }

  // jobs.jsonl is rotated when it passes `max_bytes`, keeping `keep` old files (defaults:
  // jsonl_rotate_bytes, jsonl_keep).
  void set_jsonl_rotation(std::int64_t max_bytes, int keep) {
    jsonl_max_bytes_ = max_bytes;
    jsonl_keep_ = keep;
  }

private:
  void line(const std::string& text);
  void problem(const std::string& kind, const std::string& message);
  void append_jsonl(const JobResult& r);

  store::Store* store_;
  StateDir state_;
  Events* next_;
  std::function<void(const std::string&)> warn_;
  std::string log_path_;
  std::FILE* log_ = nullptr;
  // Bytes of the current step's stdout and stderr logged, and left out past the bound.
  std::uint64_t logged_[2] = {0, 0};
  std::uint64_t left_out_[2] = {0, 0};
  std::vector<std::string> reported_;
  std::int64_t jsonl_max_bytes_;
  int jsonl_keep_;
  bool claim_ = false;
  bool refused_ = false;
};

} // namespace engine
