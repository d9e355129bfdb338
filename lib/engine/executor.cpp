#include <base/duration.hpp>
#include <base/redact.hpp>
#include <engine/builtin.hpp>
#include <engine/executor.hpp>
#include <engine/notify.hpp>
#include <jobs/variables.hpp>
#include <net/json_path.hpp>
#include <tz/format.hpp>

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>
#include <thread>

namespace engine {

namespace {

using Env = std::vector<std::pair<std::string, std::string>>;
using SteadyTime = std::chrono::steady_clock::time_point;

class SystemClock : public Clock {
public:
  TimePoint now() override { return std::chrono::system_clock::now(); }
  bool sleep_for(std::chrono::milliseconds duration, exec::CancelToken* cancel) override {
    const auto until = std::chrono::steady_clock::now() + duration;
    while (true) {
      if (cancel != nullptr && cancel->cancelled()) {
        return false;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return true;
      }
      pollfd fd{cancel != nullptr ? cancel->fd() : -1, POLLIN, 0};
      poll(&fd, 1, static_cast<int>(std::min<std::int64_t>(left.count() + 1, 1 << 30)));
    }
  }
};

void set_env(Env& env, const std::string& key, std::string value) {
  for (auto& [k, v] : env) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  env.emplace_back(key, std::move(value));
}

const std::string* find_env(const Env& env, std::string_view key) {
  for (const auto& [k, v] : env) {
    if (k == key) {
      return &v;
    }
  }
  return nullptr;
}

// The job's time limit and where it comes from, for the history: "the job's timeout of 2h",
// "the default_timeout of 1h".
std::string job_limit_text(const jobs::JobDefinition& job) {
  return (job.timeout_from == jobs::TimeoutFrom::default_timeout ? "the default_timeout of "
                                                                 : "the job's timeout of ") +
         base::format_duration(*job.timeout);
}

std::string describe_end(const exec::ProcessResult& p) {
  if (p.signal) {
    const char* name = sigabbrev_np(*p.signal);
    return std::string("killed by signal ") +
           (name ? std::string("SIG") + name : std::to_string(*p.signal));
  }
  return "exit code " + std::to_string(p.exit_code.value_or(-1));
}

// What the variables of one execution stand for, and how they reach a step.
struct Context {
  const jobs::JobDefinition& job;
  const RunOptions& options;
  JobResult& result;
  Env base;                                                        // runner env + job env
  std::map<std::string, std::map<std::string, std::string>> steps; // id -> field -> value

  // The value of a variable, for argv items, env values and working directories.
  std::string value(const std::string& name, const Env& env) const {
    const size_t dot = name.find('.');
    const std::string ns = name.substr(0, dot);
    const std::string rest = dot == std::string::npos ? "" : name.substr(dot + 1);
    if (ns == "env") {
      const std::string* v = find_env(env, rest);
      return v ? *v : "";
    }
    if (ns == "secret") {
      const auto it = options.secrets.find(rest);
      return it == options.secrets.end() ? "" : it->second;
    }
    if (ns == "steps") {
      const size_t json = rest.find(".json.");
      const size_t last = json != std::string::npos ? json : rest.rfind('.');
      const auto step = steps.find(rest.substr(0, last));
      if (step == steps.end()) {
        return "";
      }
      if (json != std::string::npos) {
        // steps.<id>.json.<path>: a value inside the step's JSON.
        const auto doc = step->second.find("json");
        if (doc == step->second.end()) {
          return "";
        }
        const auto parsed = nlohmann::json::parse(doc->second, nullptr, false);
        const nlohmann::json* v =
            parsed.is_discarded() ? nullptr : net::json_at(parsed, rest.substr(json + 6));
        return v != nullptr ? net::json_text(*v) : "";
      }
      const auto field = step->second.find(rest.substr(last + 1));
      return field == step->second.end() ? "" : field->second;
    }
    const Env variables = variable_env();
    const std::string* v = find_env(variables, jobs::variable_env_name(name));
    return v ? *v : "";
  }

  // JOB_*, the execution's variables, as every step's process gets them. A run with no
  // scheduled instant (by hand, triggered, after another job) has no scheduled time, as its
  // record has none, and the day it started as its scheduled date.
  Env variable_env() const {
    const std::int64_t day = result.scheduled_time.value_or(
        std::chrono::duration_cast<std::chrono::seconds>(result.start.time_since_epoch()).count());
    std::string date = job.zone ? tz::format_local(day, *job.zone) : "";
    date = date.substr(0, 10);
    return {{"JOB_ID", job.id},
            {"JOB_NAME", job.name},
            {"JOB_DESCRIPTION", job.description},
            {"JOB_TIMEZONE", result.timezone},
            {"JOB_EXECUTION_ID", result.execution_id},
            {"JOB_SCHEDULED_TIME",
             result.scheduled_time
                 ? iso_time(TimePoint(std::chrono::seconds(*result.scheduled_time)))
                 : ""},
            {"JOB_SCHEDULED_DATE", date},
            {"JOB_TRIGGER", result.trigger},
            {"JOB_ATTEMPT", std::to_string(result.attempt)},
            {"JOB_STATUS", to_string(result.status)}};
  }
};

std::string env_key(std::string_view step_id, std::string_view field) {
  return jobs::variable_env_name("steps." + std::string(step_id) + "." + std::string(field));
}

// The secrets a node's text refers to, in values and in keys (an http step's query names take
// variables).
void referenced_secrets(const jobs::Node& n, std::set<std::string>& out) {
  const auto in_text = [&](const std::string& text) {
    for (const auto& ref : jobs::find_variables(text)) {
      if (ref.name.starts_with("secret.")) {
        out.insert(ref.name.substr(7));
      }
    }
  };
  in_text(n.scalar);
  for (const auto& item : n.items) {
    referenced_secrets(item, out);
  }
  for (const auto& e : n.entries) {
    in_text(e.key);
    referenced_secrets(e.value, out);
  }
}

// The steps.* variables a node's text refers to.
void collect_step_variables(const jobs::Node& n, std::set<std::string>& out) {
  if (n.is_scalar()) {
    for (const auto& ref : jobs::find_variables(n.scalar)) {
      if (ref.name.starts_with("steps.")) {
        out.insert(ref.name);
      }
    }
  }
  for (const auto& item : n.items) {
    collect_step_variables(item, out);
  }
  for (const auto& e : n.entries) {
    collect_step_variables(e.value, out);
  }
}

// A shell script or PowerShell text with each variable replaced by a reference to the
// environment variable that carries it: the value never becomes code.
std::string as_env_references(std::string_view text, bool powershell) {
  return jobs::substitute_variables(text, [&](const std::string& name) {
    const std::string var = jobs::variable_env_name(name);
    return powershell ? "$env:" + var : "${" + var + "}";
  });
}

// The process of one step: argv, environment, directory, limits.
struct Prepared {
  exec::ProcessSpec spec;
  std::string error;          // the step cannot run
  std::string temporary_file; // removed after the run
};

Prepared prepare(const jobs::StepDefinition& step, Context& c) {
  Prepared p;
  Env env = c.base;
  for (const auto& [k, v] : c.variable_env()) {
    set_env(env, k, v);
  }
  // Every earlier step's fields, but those over 64 KiB (rows, body, ...) only when this step
  // names them, and paths into a step's JSON (steps.x.json.a.b) when it names them.
  std::set<std::string> named;
  collect_step_variables(step.keys, named);
  for (const auto& [id, fields] : c.steps) {
    for (const auto& [field, value] : fields) {
      if (value.size() <= 64 * 1024 || named.count("steps." + id + "." + field)) {
        set_env(env, env_key(id, field), value);
      }
    }
  }
  for (const auto& name : named) {
    if (name.find(".json.") != std::string::npos) {
      set_env(env, jobs::variable_env_name(name), c.value(name, env));
    }
  }
  // Linux refuses to start a process with a variable longer than MAX_ARG_STRLEN (128 KiB); an
  // in-process step reads its variables directly.
  if (!is_builtin(step.type)) {
    for (const auto& [k, v] : env) {
      if (k.size() + v.size() + 1 >= 128 * 1024) {
        p.error = "the variable " + k + " holds " + std::to_string(v.size()) +
                  " bytes, more than a process's environment takes (128 KiB); bound the earlier "
                  "step's result (max_rows, max_body) or pass it through a file";
        return p;
      }
    }
  }

  const auto substitute = [&](std::string_view text) {
    return jobs::substitute_variables(text,
                                      [&](const std::string& name) { return c.value(name, env); });
  };
  if (const jobs::Node* step_env = step.keys.find("env"); step_env && step_env->is_map()) {
    for (const auto& e : step_env->entries) {
      set_env(env, e.key, substitute(e.value.scalar));
    }
  }
  for (const auto& name : secrets_used(c.job, &step)) {
    const auto it = c.options.secrets.find(name);
    if (it == c.options.secrets.end()) {
      p.error =
          "secret \"" + name + "\" is not set (give it in the environment or the secrets file)";
      return p;
    }
    set_env(env, "JOBS_SECRET_" + name, it->second);
  }
  p.spec.secrets = secret_values(c.options.secrets);

  const auto text = [&](const char* key) -> std::string {
    const jobs::Node* n = step.keys.find(key);
    return n && n->is_scalar() ? n->scalar : "";
  };
  if (step.type == "shell") {
    const std::string shell = text("shell").empty() ? "sh" : text("shell");
    p.spec.argv = {shell, "-c", as_env_references(text("run"), false)};
  } else if (step.type == "command") {
    const jobs::Node* argv = step.keys.find("argv");
    if (argv && argv->is_sequence()) {
      for (const auto& item : argv->items) {
        p.spec.argv.push_back(substitute(item.scalar));
      }
    } else if (argv) {
      p.spec.argv = {substitute(argv->scalar)};
    }
  } else if (step.type == "powershell") {
    p.spec.argv = {"pwsh", "-NoProfile", "-NonInteractive"};
    if (const std::string policy = text("execution_policy"); !policy.empty()) {
      p.spec.argv.insert(p.spec.argv.end(), {"-ExecutionPolicy", policy});
    }
    std::string file = substitute(text("script_path"));
    const jobs::Node* parameters = step.keys.find("parameters");
    if (file.empty()) {
      // An inline script: with parameters it must be a file (-File takes named arguments).
      const std::string script = as_env_references(text("script"), true);
      if (parameters == nullptr) {
        p.spec.argv.insert(p.spec.argv.end(), {"-Command", script});
      } else {
        char name[] = "/tmp/jobs-step-XXXXXX.ps1";
        const int fd = mkstemps(name, 4);
        if (fd < 0 ||
            write(fd, script.data(), script.size()) != static_cast<ssize_t>(script.size())) {
          p.error = "cannot write the script to a temporary file";
        }
        if (fd >= 0) {
          close(fd);
        }
        p.temporary_file = file = name;
      }
    }
    if (!file.empty()) {
      p.spec.argv.insert(p.spec.argv.end(), {"-File", file});
      if (parameters != nullptr && parameters->is_map()) {
        for (const auto& e : parameters->entries) {
          p.spec.argv.push_back("-" + e.key);
          p.spec.argv.push_back(substitute(e.value.scalar));
        }
      }
    }
  } else if (is_builtin(step.type)) {
    return p; // runs in this process: see run_in_process()
  } else {
    p.error = "this release cannot run steps of type \"" + step.type + "\"";
    return p;
  }

  std::string directory = text("working_directory");
  if (directory.empty()) {
    directory = c.job.working_directory;
  }
  directory = substitute(directory);
  if (!directory.empty() && directory.front() != '/' && !c.job.path.empty()) {
    // Relative to the job file's folder.
    directory = (std::filesystem::path(c.job.path).parent_path() / directory).string();
  }
  p.spec.working_directory = directory;
  p.spec.env = std::move(env);
  p.spec.run_as = c.job.run_as;
  p.spec.limits.memory = c.job.limits.memory;
  p.spec.limits.cpu_time = c.job.limits.cpu_time;
  p.spec.limits.open_files = c.job.limits.open_files;
  p.spec.limits.processes = c.job.limits.processes;
  if (c.job.limits.output) {
    p.spec.output_limit = *c.job.limits.output;
  }
  p.spec.kill_grace = c.options.kill_grace;
  return p;
}

// A token that fires when `parent` does and when `timeout` has passed: what an in-process step
// watches, since no process group can be killed for it.
class Deadline {
public:
  Deadline(exec::CancelToken* parent, std::optional<std::chrono::milliseconds> timeout) {
    thread_ = std::thread([this, parent, timeout] {
      const auto until = timeout ? std::chrono::steady_clock::now() + *timeout
                                 : std::chrono::steady_clock::time_point::max();
      pollfd fds[2] = {{done_.fd(), POLLIN, 0}, {parent ? parent->fd() : -1, POLLIN, 0}};
      for (;;) {
        int wait = -1;
        if (timeout) {
          const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
              until - std::chrono::steady_clock::now());
          wait = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 1 << 30));
        }
        const int n = poll(fds, 2, wait);
        if (n < 0 && errno == EINTR) {
          continue;
        }
        if (n == 0) {
          expired_ = true;
          token_.cancel();
        } else if (fds[1].revents != 0) {
          token_.cancel();
        }
        return;
      }
    });
  }
  ~Deadline() {
    done_.cancel();
    thread_.join();
  }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  exec::CancelToken* token() { return &token_; }
  bool expired() const { return expired_; }

private:
  exec::CancelToken token_, done_;
  std::atomic<bool> expired_{false};
  std::thread thread_;
};

// Runs an in-process step (builtin.hpp) and reports it as a process would have ended: exit
// code 0 or 1, cancelled, or timed out. `fields` receives the variables it sets.
exec::ProcessResult run_in_process(const jobs::StepDefinition& step, Context& c,
                                   std::optional<std::chrono::milliseconds> timeout,
                                   std::map<std::string, std::string>& fields,
                                   const std::function<void(std::string_view)>& line) {
  static const Integrations none;
  Deadline deadline(c.options.cancel, timeout);
  const BuiltinContext b{c.job,
                         step,
                         c.options.integrations ? *c.options.integrations : none,
                         [&](const std::string& name) { return c.value(name, c.base); },
                         deadline.token(),
                         line};
  BuiltinResult r = run_builtin(b);
  exec::ProcessResult p;
  p.cancelled = c.options.cancel != nullptr && c.options.cancel->cancelled();
  p.timed_out = !p.cancelled && deadline.expired();
  if (!p.cancelled && !p.timed_out) {
    if (r.status == Status::success) {
      p.exit_code = 0;
    } else {
      p.start_error = r.error_message;
    }
  }
  p.out = std::move(r.output);
  fields = std::move(r.fields);
  return p;
}

// The step's output as a variable: the last 64 KiB of stdout, without its final newline (a
// process's environment cannot hold much more).
std::string output_value(const std::string& out) {
  std::string v = out.size() > 65536 ? out.substr(out.size() - 65536) : out;
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) {
    v.pop_back();
  }
  return v;
}

// The variables of an execution: the runner's environment (with run_as's identity) and the
// job's env on top.
Context context_of(const jobs::JobDefinition& job, const RunOptions& options, JobResult& r) {
  Context c{job, options, r, options.environment, {}};
  // A run_as job's processes get their user's HOME, USER and LOGNAME, not the runner's; its
  // env may still set them.
  if (!job.run_as.empty()) {
    for (auto& [k, v] : exec::user_environment(job.run_as)) {
      set_env(c.base, k, std::move(v));
    }
  }
  for (const auto& [k, v] : job.env) {
    set_env(c.base, k, jobs::substitute_variables(v, [&](const std::string& name) {
              return c.value(name, c.base);
            }));
  }
  return c;
}

// Sends the job's notifications of `event` about the attempt `r`, each reported to `events`.
void notify(const jobs::JobDefinition& job, const RunOptions& options, Events& events,
            const JobResult& r, NotifyEvent event,
            std::optional<std::chrono::milliseconds> retry_in = {}) {
  JobResult copy = r;
  const Context c = context_of(job, options, copy);
  const NotifyContext n{job,
                        r,
                        event,
                        retry_in,
                        options.integrations,
                        [&](const std::string& name) { return c.value(name, c.base); },
                        options.secrets,
                        options.cancel,
                        c.base};
  for (const auto& done : send_notifications(n)) {
    events.notified(r, done);
  }
}

} // namespace

std::set<std::string> secrets_used(const jobs::JobDefinition& job,
                                   const jobs::StepDefinition* step) {
  std::set<std::string> names;
  for (const auto& s : job.steps) {
    if (step == nullptr || &s == step) {
      referenced_secrets(s.keys, names);
    }
  }
  std::vector<std::string> texts;
  for (const auto& [k, v] : job.env) {
    texts.push_back(v);
  }
  if (step == nullptr) {
    for (const auto* list : {&job.on_failure, &job.on_success, &job.on_retry}) {
      for (const auto& n : *list) {
        texts.insert(texts.end(), n.targets.begin(), n.targets.end());
      }
    }
  }
  for (const auto& text : texts) {
    for (const auto& ref : jobs::find_variables(text)) {
      if (ref.name.starts_with("secret.")) {
        names.insert(ref.name.substr(7));
      }
    }
  }
  return names;
}

Clock& system_clock() {
  static SystemClock clock;
  return clock;
}

std::chrono::milliseconds retry_delay(const jobs::RetryPolicy& policy, int retry, double random) {
  double seconds = static_cast<double>(policy.delay) * std::pow(policy.backoff, retry - 1);
  seconds = std::min(seconds, static_cast<double>(policy.max_delay));
  seconds += seconds * 0.1 * random;
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000)));
}

std::vector<std::string> secret_values(const std::map<std::string, std::string>& secrets) {
  std::vector<std::string> values;
  for (const auto& [name, value] : secrets) {
    values.push_back(value);
  }
  return values;
}

std::string redact(std::string_view text, const std::map<std::string, std::string>& secrets) {
  return base::redact(text, secret_values(secrets));
}

std::string short_secret(const std::string& name, const std::string& value) {
  if (value.size() >= 3) {
    return "";
  }
  return "secret \"" + name + "\" is " + std::to_string(value.size()) + " byte" +
         (value.size() == 1 ? "" : "s") +
         " long: a secret is masked as *** wherever its bytes appear, and bytes this few also "
         "appear in ordinary output, which would be masked too (and hint at the value); give it "
         "at least 3 bytes";
}

base::Result<std::map<std::string, std::string>> parse_secrets(std::string_view text,
                                                               const std::string& path) {
  std::map<std::string, std::string> out;
  int number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string line(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++number;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
      line.pop_back();
    }
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') {
      continue;
    }
    const size_t eq = line.find('=');
    std::string key = eq == std::string::npos ? "" : line.substr(start, eq - start);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) {
      key.pop_back();
    }
    if (key.empty() || key.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                             "0123456789_") != std::string::npos) {
      base::Error e;
      e.message = "expected NAME=value (a name of letters, digits and '_')";
      e.location = {path, number, static_cast<int>(start) + 1};
      return e;
    }
    std::string value = line.substr(line.find_first_not_of(" \t", eq + 1) == std::string::npos
                                        ? line.size()
                                        : line.find_first_not_of(" \t", eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    out[key] = value;
  }
  return out;
}

namespace {

// A number in [0, 1) for jitter.
double draw(const RunOptions& options) {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return options.random ? options.random()
                        : std::uniform_real_distribution<double>(0, 1)(generator);
}

} // namespace

JobResult run_job(const jobs::JobDefinition& job, const RunOptions& options, Events& events,
                  int attempt) {
  Clock& clock = options.clock ? *options.clock : system_clock();

  JobResult r;
  r.execution_id = attempt == 1 && !options.execution_id.empty() ? options.execution_id
                                                                 : new_execution_id(clock.now());
  r.job_id = job.id;
  r.job_name = job.name;
  r.timezone = job.zone ? std::string(job.zone->name()) : "UTC";
  r.scheduled_time = options.scheduled_time;
  r.attempt = attempt;
  r.trigger = attempt > 1 ? "retry" : options.trigger;
  r.triggered_by = options.triggered_by;
  r.host = options.host;
  if (r.host.empty()) {
    char name[256] = {};
    gethostname(name, sizeof name - 1);
    r.host = name;
  }
  for (const auto& step : job.steps) {
    StepResult s;
    s.step_id = step.id;
    s.step_name = step.name.empty() ? step.id : step.name;
    s.step_type = step.type;
    r.steps.push_back(std::move(s));
  }
  r.start = clock.now();
  r.status = Status::running;

  Context c = context_of(job, options, r);
  events.execution_started(r);

  const auto steady_start = std::chrono::steady_clock::now();
  // The job's timeout as an instant; max(): none.
  const SteadyTime deadline =
      job.timeout ? steady_start + std::chrono::seconds(*job.timeout) : SteadyTime::max();
  const auto cancelled = [&] { return options.cancel != nullptr && options.cancel->cancelled(); };
  const auto past_deadline = [&] { return std::chrono::steady_clock::now() >= deadline; };

  bool failing = false; // a step failed without continue_on_failure
  bool partial = false; // a step failed with it
  Status failing_status = Status::failed;
  std::optional<Status> stopped; // cancelled or timeout: nothing more runs

  // A bug must not leave the execution without an end: it fails, and is recorded as ended.
  std::optional<std::string> internal_error;
  try {
    for (size_t i = 0; i < job.steps.size(); ++i) {
      const jobs::StepDefinition& step = job.steps[i];
      StepResult& s = r.steps[i];
      if (!stopped && cancelled()) {
        // Cancelled between steps (or before the first): nothing more starts.
        stopped = Status::cancelled;
        r.error_message = "cancelled before step \"" + step.id + "\"";
      }
      const bool runs = !stopped && (step.when == jobs::When::always ||
                                     (step.when == jobs::When::on_success && !failing) ||
                                     (step.when == jobs::When::on_failure && failing));
      if (!runs) {
        s.status = Status::skipped;
        s.start = s.end = clock.now();
        s.error_message = stopped   ? (*stopped == Status::cancelled ? "the job was cancelled"
                                                                     : "the job timed out")
                          : failing ? "an earlier step failed"
                                    : "no step failed";
        c.steps[step.id] = {{"output", ""}, {"exit_code", ""}, {"status", "skipped"}};
        events.step_finished(r, s);
        continue;
      }
      std::map<std::string, std::string> fields; // the step's variables besides these three
      for (int n = 1;; ++n) {
        fields.clear();
        s.attempt = n;
        s.status = Status::running;
        s.start = clock.now();
        s.exit_code.reset();
        s.signal.reset();
        s.error_message.clear();
        events.step_started(r, s);

        Prepared p = prepare(step, c);
        std::optional<std::chrono::milliseconds> timeout;
        if (step.timeout) {
          timeout = std::chrono::seconds(*step.timeout);
        }
        if (deadline != SteadyTime::max()) {
          const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
              deadline - std::chrono::steady_clock::now());
          timeout =
              std::max(std::chrono::milliseconds(0), timeout ? std::min(*timeout, left) : left);
        }
        p.spec.timeout = timeout;
        exec::ProcessResult process;
        if (p.error.empty() && is_builtin(step.type)) {
          process = run_in_process(step, c, timeout, fields, [&](std::string_view line) {
            events.output(r, s, exec::Stream::out, redact(line, options.secrets));
          });
          process.out = redact(process.out, options.secrets);
          process.err = redact(process.err, options.secrets);
        } else if (p.error.empty()) {
          process = exec::run_process(
              p.spec,
              [&](exec::Stream stream, std::string_view line) {
                events.output(r, s, stream, std::string(line));
              },
              options.cancel);
          if (!p.temporary_file.empty()) {
            std::remove(p.temporary_file.c_str());
          }
        } else {
          process.start_error = p.error;
        }
        s.end = clock.now();
        s.exit_code = process.exit_code;
        s.signal = process.signal;
        s.output = std::move(process.out);
        s.error_output = std::move(process.err);
        if (!process.start_error.empty()) {
          s.status = Status::failed;
          s.error_message = process.start_error;
        } else if (process.cancelled) {
          s.status = Status::cancelled;
          s.error_message = "cancelled";
          if (process.killed) {
            s.error_message += " (killed: it ignored SIGTERM for the grace period)";
          }
        } else if (process.timed_out) {
          s.status = Status::timeout;
          const bool job_limit = past_deadline() && (!step.timeout || *step.timeout > *job.timeout);
          s.error_message = job_limit ? job_limit_text(job) + " ran out"
                                      : "timed out after " + base::format_duration(*step.timeout);
          if (process.killed) {
            s.error_message += " (killed: it ignored SIGTERM for the grace period)";
          }
        } else if (process.exit_code == 0) {
          s.status = Status::success;
        } else {
          s.status = Status::failed;
          s.error_message = describe_end(process);
        }
        s.error_message = redact(s.error_message, options.secrets);
        events.step_finished(r, s);

        if (s.status == Status::success || s.status == Status::cancelled || cancelled() ||
            past_deadline() || !step.retries || n > step.retries->max) {
          break;
        }
        const auto delay = retry_delay(*step.retries, n, draw(options));
        events.retrying(r, &s, delay);
        if (!clock.sleep_for(delay, options.cancel)) {
          break;
        }
      }
      fields["output"] = output_value(s.output);
      fields["exit_code"] = s.exit_code ? std::to_string(*s.exit_code) : "";
      fields["status"] = to_string(s.status);
      c.steps[step.id] = std::move(fields);
      if (s.status == Status::success) {
        continue;
      }
      if (cancelled() || s.status == Status::cancelled) {
        stopped = Status::cancelled;
        r.error_message = "cancelled during step \"" + step.id + "\"";
      } else if (past_deadline()) {
        stopped = Status::timeout;
        r.failing_step = i;
        r.error_message = job_limit_text(job) + " ran out during step \"" + step.id + "\"";
      } else if (step.continue_on_failure) {
        partial = true;
      } else if (!failing) {
        failing = true;
        failing_status = s.status == Status::timeout ? Status::timeout : Status::failed;
        r.failing_step = i;
        r.error_message = "step \"" + step.id + "\": " + s.error_message;
      }
    }
  } catch (const std::exception& e) {
    internal_error = std::string("internal error: ") + e.what();
  }

  r.status = stopped   ? *stopped
             : failing ? failing_status
             : partial ? Status::partial_success
                       : Status::success;
  if (internal_error) {
    r.status = Status::failed;
    r.error_message = *internal_error;
    for (auto& s : r.steps) {
      if (s.status == Status::running) {
        s.status = Status::failed;
        s.error_message = *internal_error;
      } else if (s.status == Status::pending) {
        s.status = Status::skipped;
      }
    }
  }
  r.end = clock.now();
  events.execution_finished(r);
  return r;
}

std::vector<JobResult> run_with_retries(const jobs::JobDefinition& job, const RunOptions& options,
                                        Events& events) {
  Clock& clock = options.clock ? *options.clock : system_clock();
  std::vector<JobResult> attempts;
  for (int attempt = 1;; ++attempt) {
    attempts.push_back(run_job(job, options, events, attempt));
    const Status status = attempts.back().status;
    if ((status != Status::failed && status != Status::timeout) || attempt > job.retries.max ||
        (options.cancel != nullptr && options.cancel->cancelled())) {
      break;
    }
    const auto delay = retry_delay(job.retries, attempt, draw(options));
    events.retrying(attempts.back(), nullptr, delay);
    notify(job, options, events, attempts.back(), NotifyEvent::retry, delay);
    if (!clock.sleep_for(delay, options.cancel)) {
      break;
    }
  }
  if (const auto event = notify_event(attempts.back().status);
      event && !(options.cancel != nullptr && options.cancel->cancelled())) {
    notify(job, options, events, attempts.back(), *event);
  }
  return attempts;
}

std::map<std::string, std::string> secrets_for(const jobs::JobDefinition& job,
                                               const std::map<std::string, std::string>& known) {
  std::map<std::string, std::string> secrets;
  for (const auto& name : secrets_used(job)) {
    if (const auto it = known.find(name); it != known.end()) {
      secrets[name] = it->second;
    } else if (const char* v = std::getenv(name.c_str())) {
      secrets[name] = v;
    }
  }
  return secrets;
}

} // namespace engine
