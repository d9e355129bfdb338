#include <base/file.hpp>
#include <engine/recorder.hpp>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>

namespace engine {

namespace {

std::int64_t ms(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string seconds_text(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2fs", s);
  return text;
}

std::string step_end(const StepResult& s) {
  std::string text = "--- step " + s.step_id + ": " + to_string(s.status);
  if (s.exit_code) {
    text += " (exit code " + std::to_string(*s.exit_code) + ")";
  }
  if (!s.error_message.empty() && s.status != Status::success &&
      !s.error_message.starts_with("exit code")) {
    text += ": " + s.error_message;
  }
  return text + " in " + seconds_text(s.duration_seconds());
}

} // namespace

store::ExecutionRecord to_record(const JobResult& r, const std::string& log_path) {
  store::ExecutionRecord e;
  e.execution_id = r.execution_id;
  e.job_id = r.job_id;
  e.job_name = r.job_name;
  e.status = to_string(r.status);
  e.timezone = r.timezone;
  e.trigger = r.trigger;
  e.triggered_by = r.triggered_by;
  e.host = r.host;
  if (r.scheduled_time) {
    e.scheduled_ms = *r.scheduled_time * 1000;
  }
  e.start_ms = ms(r.start);
  if (r.status != Status::running && r.status != Status::pending) {
    e.end_ms = ms(r.end);
  }
  e.attempt = r.attempt;
  e.error_message = r.error_message;
  e.log_path = log_path;
  for (const auto& s : r.steps) {
    store::StepRecord step;
    step.step_id = s.step_id;
    step.step_name = s.step_name;
    step.step_type = s.step_type;
    step.status = to_string(s.status == Status::running ? Status::interrupted : s.status);
    if (s.status != Status::pending) {
      step.start_ms = ms(s.start);
      step.end_ms = ms(s.end);
    }
    step.exit_code = s.exit_code;
    step.signal = s.signal;
    step.output = s.output;
    step.error_message = s.error_message;
    step.attempt = s.attempt;
    // The store keeps one output per step (stdout); stderr goes with the step's data.
    if (!s.error_output.empty()) {
      step.outputs_json = nlohmann::json{{"stderr", s.error_output}}.dump(
          -1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    e.steps.push_back(std::move(step));
  }
  return e;
}

Recorder::Recorder(store::Store* store, StateDir state, Events* next,
                   std::function<void(const std::string&)> warn)
    : store_(store), state_(std::move(state)), next_(next), warn_(std::move(warn)),
      jsonl_max_bytes_(jsonl_rotate_bytes), jsonl_keep_(jsonl_keep) {
  if (!warn_) {
    warn_ = [](const std::string& message) { std::cerr << "jobs: warning: " << message << "\n"; };
  }
}

Recorder::~Recorder() {
  if (log_ != nullptr) {
    std::fclose(log_);
  }
}

void Recorder::problem(const std::string& kind, const std::string& message) {
  if (std::find(reported_.begin(), reported_.end(), kind) == reported_.end()) {
    reported_.push_back(kind);
    warn_(message);
  }
}

void Recorder::line(const std::string& text) {
  if (log_ == nullptr) {
    return;
  }
  const std::string out = iso_time(std::chrono::system_clock::now()) + " " + text + "\n";
  if (std::fwrite(out.data(), 1, out.size(), log_) != out.size() || std::fflush(log_) != 0) {
    problem("log", "cannot write the log " + log_path_ + ": " + std::strerror(errno) +
                       " (the job goes on)");
  }
}

void Recorder::execution_started(const JobResult& r) {
  if (log_ != nullptr) {
    std::fclose(log_);
    log_ = nullptr;
  }
  log_path_ = state_.log_path(r.job_id, r.execution_id);
  if (store_ != nullptr) {
    const auto record = to_record(r, log_path_);
    if (claim_ && r.scheduled_time && r.attempt == 1) {
      auto begun = store_->claim_and_begin(record);
      if (begun && !*begun) {
        refused_ = true;
        return;
      }
      if (!begun) {
        problem("store", begun.error().message);
      }
    } else if (auto begun = store_->begin_execution(record); !begun) {
      problem("store", begun.error().message);
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(log_path_).parent_path(), ec);
  log_ = base::open_append(log_path_, 0640);
  if (log_ == nullptr) {
    problem("log", "cannot write the log " + log_path_ + ": " + std::strerror(errno) +
                       " (the job goes on)");
  }
  line("execution " + r.execution_id + " of job " + r.job_id + " (" + r.job_name + "), attempt " +
       std::to_string(r.attempt) + ", trigger " + r.trigger +
       (r.triggered_by.empty() ? "" : " by " + r.triggered_by) + ", host " + r.host);
  if (next_ != nullptr) {
    next_->execution_started(r);
  }
}

void Recorder::step_started(const JobResult& r, const StepResult& s) {
  if (refused_) {
    return;
  }
  logged_[0] = logged_[1] = left_out_[0] = left_out_[1] = 0;
  line("=== step " + s.step_id + " (" + s.step_type + "), attempt " + std::to_string(s.attempt));
  if (next_ != nullptr) {
    next_->step_started(r, s);
  }
}

void Recorder::output(const JobResult& r, const StepResult& s, exec::Stream stream,
                      std::string_view text) {
  if (refused_) {
    return;
  }
  const int k = stream == exec::Stream::out ? 0 : 1;
  if (logged_[k] < log_stream_bytes) {
    logged_[k] += text.size() + 1;
    line("[" + s.step_id + "] " + (k == 0 ? "out: " : "err: ") + std::string(text));
  } else {
    left_out_[k] += text.size() + 1;
  }
  if (next_ != nullptr) {
    next_->output(r, s, stream, text);
  }
}

void Recorder::step_finished(const JobResult& r, const StepResult& s) {
  if (refused_) {
    return;
  }
  for (int k = 0; k < 2; ++k) {
    if (left_out_[k] == 0) {
      continue;
    }
    // The end of the stream, as the bounded output kept it (after its marker).
    const std::string& kept = k == 0 ? s.output : s.error_output;
    const size_t marker = kept.find(" bytes not kept ...]\n");
    const std::string tail = marker == std::string::npos ? "" : kept.substr(marker + 21);
    const std::string prefix = "[" + s.step_id + "] " + (k == 0 ? "out: " : "err: ");
    line(prefix + "[... " + std::to_string(left_out_[k]) + " bytes not logged ...]");
    size_t start = tail.find('\n') == std::string::npos ? 0 : tail.find('\n') + 1;
    while (start < tail.size()) {
      const size_t end = std::min(tail.find('\n', start), tail.size());
      line(prefix + tail.substr(start, end - start));
      start = end + 1;
    }
  }
  line(step_end(s));
  if (next_ != nullptr) {
    next_->step_finished(r, s);
  }
}

void Recorder::retrying(const JobResult& r, const StepResult* s, std::chrono::milliseconds d) {
  if (refused_) {
    return;
  }
  line(std::string("retry of ") + (s ? "step " + s->step_id : "the job") + " in " +
       seconds_text(static_cast<double>(d.count()) / 1000));
  if (next_ != nullptr) {
    next_->retrying(r, s, d);
  }
}

void Recorder::execution_finished(const JobResult& r) {
  if (refused_) {
    return;
  }
  line("execution " + r.execution_id + ": " + to_string(r.status) +
       (r.error_message.empty() ? "" : " (" + r.error_message + ")") + " in " +
       seconds_text(r.duration_seconds()));
  if (log_ != nullptr) {
    std::fclose(log_);
    log_ = nullptr;
  }
  if (store_ != nullptr) {
    if (auto done = store_->finish_execution(to_record(r, log_path_)); !done) {
      problem("store", done.error().message);
    }
  }
  append_jsonl(r);
  if (next_ != nullptr) {
    next_->execution_finished(r);
  }
}

void Recorder::notified(const JobResult& r, const Notified& n) {
  if (refused_) {
    return;
  }
  const std::string what = std::string(to_string(n.event)) + " " + n.channel + " " + n.target;
  const bool was_open = log_ != nullptr;
  if (!was_open && !log_path_.empty()) {
    log_ = base::open_append(log_path_, 0640);
  }
  line("notify " + what + ": " + (n.error.empty() ? "sent" : "failed: " + n.error));
  if (!was_open && log_ != nullptr) {
    std::fclose(log_);
    log_ = nullptr;
  }
  if (!n.error.empty()) {
    warn_("job " + r.job_id + ": execution " + r.execution_id + ": notification " + what +
          " failed: " + n.error);
  }
  if (store_ != nullptr) {
    store::AuditRecord a;
    a.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
    a.user = "jobs";
    a.action = "notify";
    a.target = r.execution_id;
    a.detail = what;
    a.outcome = n.error.empty() ? "ok" : n.error;
    if (auto done = store_->audit(a); !done) {
      problem("store", done.error().message);
    }
  }
  if (next_ != nullptr) {
    next_->notified(r, n);
  }
}

// The production-jobs log entry (timestamp, job_name, event, start_time, end_time,
// duration_seconds, exit_code, status, stdout, stderr) plus execution_id and steps.
void Recorder::append_jsonl(const JobResult& r) {
  std::string out, err;
  // The step whose exit code tells the outcome: the failed step, else the last one that has one.
  const StepResult* telling = r.failed_step();
  const bool failed = telling != nullptr;
  auto steps = nlohmann::json::array();
  for (const auto& s : r.steps) {
    out += s.output;
    err += s.error_output;
    if (!failed && s.exit_code) {
      telling = &s;
    }
    steps.push_back({{"step_id", s.step_id},
                     {"status", to_string(s.status)},
                     {"exit_code", s.exit_code ? nlohmann::json(*s.exit_code) : nullptr},
                     {"duration_seconds", s.duration_seconds()}});
  }
  const nlohmann::json record = {{"timestamp", iso_time(r.end)},
                                 {"job_name", r.job_name},
                                 {"event", "execution_finished"},
                                 {"start_time", iso_time(r.start)},
                                 {"end_time", iso_time(r.end)},
                                 {"duration_seconds", r.duration_seconds()},
                                 {"exit_code", telling != nullptr && telling->exit_code
                                                   ? nlohmann::json(*telling->exit_code)
                                                   : nullptr},
                                 {"status", to_string(r.status)},
                                 {"stdout", out},
                                 {"stderr", err},
                                 {"execution_id", r.execution_id},
                                 {"job_id", r.job_id},
                                 {"trigger", r.trigger},
                                 {"steps", steps}};
  const std::string path = state_.log_dir() + "/jobs.jsonl";
  // Executions end on several threads of a daemon: one record, and one rotation, at a time.
  static std::mutex jsonl_mutex;
  std::lock_guard lock(jsonl_mutex);
  std::error_code ec;
  std::filesystem::create_directories(state_.log_dir(), ec);
  if (std::filesystem::file_size(path, ec) >= static_cast<std::uintmax_t>(jsonl_max_bytes_) &&
      !ec) {
    for (int i = jsonl_keep_ - 1; i >= 1; --i) {
      std::filesystem::rename(path + "." + std::to_string(i), path + "." + std::to_string(i + 1),
                              ec);
    }
    std::filesystem::rename(path, path + ".1", ec);
  }
  const std::string text =
      record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::FILE* f = base::open_append(path, 0640);
  bool ok = f != nullptr;
  if (ok) {
    ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    ok = std::fclose(f) == 0 && ok;
  }
  if (!ok) {
    problem("jsonl", "cannot write " + path + ": " + std::strerror(errno) + " (the job goes on)");
  }
}

} // namespace engine
