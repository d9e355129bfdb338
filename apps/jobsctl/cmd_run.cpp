// jobsctl run: one job, now, in the foreground, without a daemon: live output, Ctrl-C cancels,
// the exit code tells the status, and the run is recorded in the history store.
#include "commands.hpp"
#include "daemon_config.hpp"
#include "job_folder.hpp"
#include "output.hpp"
#include "state.hpp"

#include <base/exit_codes.hpp>
#include <engine/recorder.hpp>

#include <pwd.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace jobsctl {

namespace {

struct RunOptions {
  JobFolder folder;
  StateOption state;
  std::string job;
  bool json = false;
  bool no_record = false;
  bool raw = false;
  std::string secrets_file;
  ConfigOption config;
};

exec::CancelToken* interrupt_token = nullptr;

extern "C" void on_interrupt(int sig) {
  if (interrupt_token != nullptr) {
    interrupt_token->cancel();
  }
  // A second Ctrl-C ends jobsctl at once.
  std::signal(sig, SIG_DFL);
}

std::string user_name() {
  if (const passwd* pw = getpwuid(getuid())) {
    return pw->pw_name;
  }
  return std::to_string(getuid());
}

// Live output: step headers, stream-prefixed lines, durations.
class Printer : public engine::Events {
public:
  explicit Printer(std::ostream& out) : out_(out) {}

  void step_started(const engine::JobResult&, const engine::StepResult& s) override {
    out_ << glyph(out_, Glyph::step) << " " << s.step_id << " (" << s.step_type << ")"
         << (s.attempt > 1 ? ", attempt " + std::to_string(s.attempt) : "") << "\n";
    out_.flush();
  }
  void output(const engine::JobResult&, const engine::StepResult& s, exec::Stream stream,
              std::string_view line) override {
    out_ << "  " << s.step_id << " "
         << (stream == exec::Stream::out ? glyph(out_, Glyph::out_line) : "!") << " " << line
         << "\n";
    out_.flush();
  }
  void step_finished(const engine::JobResult&, const engine::StepResult& s) override {
    const std::string status = engine::to_string(s.status);
    const Color color = status_color(status);
    out_ << Painted{color, glyph(out_, status_glyph(status))} << " " << s.step_id;
    if (s.status == engine::Status::skipped) {
      out_ << " " << Painted{color, "skipped"} << ": " << s.error_message << "\n";
      return;
    }
    out_ << " " << Painted{color, status}
         << (s.status != engine::Status::success && !s.error_message.empty()
                 ? " (" + s.error_message + ")"
                 : "")
         << " in " << short_duration(s.duration_seconds()) << "\n";
    out_.flush();
  }
  void retrying(const engine::JobResult&, const engine::StepResult* s,
                std::chrono::milliseconds d) override {
    out_ << glyph(out_, Glyph::retry) << " " << (s ? "step " + s->step_id : std::string("the job"))
         << " again in " << short_duration(static_cast<double>(d.count()) / 1000) << "\n";
  }
  void notified(const engine::JobResult&, const engine::Notified& n) override {
    out_ << Painted{n.error.empty() ? Color::none : Color::red,
                    glyph(out_, n.error.empty() ? Glyph::mail : Glyph::failure)}
         << " " << engine::to_string(n.event) << " " << n.channel << " " << n.target
         << (n.error.empty() ? ": sent" : ": failed: " + n.error) << "\n";
    out_.flush();
  }

private:
  std::ostream& out_;
};

// The secrets the job refers to: from the secrets file, else from the environment variable of
// the same name.
base::Result<std::map<std::string, std::string>> load_secrets(const jobs::JobDefinition& job,
                                                              const std::string& file) {
  std::map<std::string, std::string> from_file;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) {
      base::Error e;
      e.message = "cannot read the secrets file " + file;
      return e;
    }
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = engine::parse_secrets(text.str(), file);
    if (!parsed) {
      return parsed.error();
    }
    from_file = std::move(*parsed);
  }
  return engine::secrets_for(job, from_file);
}

int run(const RunOptions& o) {
  if (o.raw && !raw_stdout()) {
    return base::exit_code::usage;
  }
  // A job file's path, or the id of a job in the folder.
  std::optional<jobs::LoadedFile> file;
  std::error_code ec;
  if (std::filesystem::is_regular_file(o.job, ec)) {
    file = jobs::load_job_file(o.job, o.folder.load_options());
  } else {
    auto set = o.folder.load();
    const std::string path = find_job_path(set, o.job);
    if (path.empty()) {
      std::cerr << "jobsctl: " << no_job(o.folder, set, o.job, " (give a job id or a job file)")
                << "\n";
      return base::exit_code::usage;
    }
    for (auto& f : set.files) {
      if (f.path == path) {
        file = std::move(f);
      }
    }
  }
  if (!file) {
    std::cerr << "jobsctl: cannot load " << o.job << "\n";
    return base::exit_code::usage;
  }
  if (!file->job) {
    for (const auto& d : file->diagnostics) {
      print_finding(std::cerr, d);
    }
    return base::exit_code::usage;
  }
  const jobs::JobDefinition& job = *file->job;

  jobsd::Config config = o.config.load();
  const std::string secrets_file = o.secrets_file.empty() ? config.secrets_file : o.secrets_file;
  auto secrets = load_secrets(job, secrets_file);
  if (!secrets) {
    print_error(secrets.error());
    return base::exit_code::usage;
  }
  std::unique_ptr<store::Store> history;
  // Absolute: the store keeps each log's path, for logs and --json to name it from any folder.
  const auto absolute = [](const std::string& path) {
    return path.empty() ? path : std::filesystem::absolute(path).lexically_normal().string();
  };
  const engine::StateDir state{absolute(o.state.dir()), absolute(settings().log_dir.value)};
  if (!o.no_record) {
    std::filesystem::create_directories(state.dir, ec);
    auto opened = store::open_sqlite(state.store_path());
    if (!opened) {
      print_error(opened.error());
      std::cerr << "jobsctl: --no-record runs the job without a history store\n";
      return base::exit_code::usage;
    }
    history = std::move(*opened);
  }

  exec::CancelToken cancel;
  interrupt_token = &cancel;
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  exec::become_subreaper();

  engine::RunOptions options;
  options.trigger = "manual";
  options.triggered_by = user_name();
  options.cancel = &cancel;
  options.secrets = std::move(*secrets);
  engine::Integrations& integrations = config.integrations;
  if (!secrets_file.empty()) {
    // All of the file, for the connections' and the SMTP server's passwords.
    std::ifstream in(secrets_file);
    std::stringstream text;
    text << in.rdbuf();
    if (auto all = engine::parse_secrets(text.str(), secrets_file)) {
      integrations.secrets = std::move(*all);
    }
  }
  options.integrations = &integrations;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const size_t eq = entry.find('=');
    if (eq != std::string::npos) {
      options.environment.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
    }
  }

  // With --json the JSON result is all of standard output; live output goes to stderr.
  Printer printer(o.json ? std::cerr : std::cout);
  engine::Recorder recorder(o.no_record ? nullptr : history.get(), state, &printer);
  engine::Events& events = o.no_record ? static_cast<engine::Events&>(printer) : recorder;
  const auto attempts = engine::run_with_retries(job, options, events);
  interrupt_token = nullptr;
  const engine::JobResult& last = attempts.back();
  if (history) {
    // Retention: the store's defaults (1000 executions per job, 90 days).
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    if (auto pruned = history->prune({}, now); !pruned) {
      print_error(pruned.error());
    }
  }

  const auto log_of = [&](const engine::JobResult& r) {
    return o.no_record ? std::string() : state.log_path(r.job_id, r.execution_id);
  };
  if (o.json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& r : attempts) {
      out.push_back(result_json(r, log_of(r)));
    }
    // Step output need not be UTF-8: a byte that is not becomes U+FFFD, as on the socket.
    std::cout << (attempts.size() == 1 ? out[0] : out)
                     .dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
              << "\n";
  } else {
    print_summary(std::cout, result_json(last, log_of(last)));
    if (!last.error_message.empty() && last.status != engine::Status::success) {
      std::cout << "  " << last.error_message << "\n";
    }
  }
  return exit_code_of(last.status);
}

} // namespace

Run setup_run(CLI::App& command) {
  auto o = std::make_shared<RunOptions>();
  command.add_option("job", o->job, "Job id or job file")->required();
  command.add_flag("--json", o->json, "Print the result as JSON (live output to stderr)");
  command.add_flag("--no-record", o->no_record, "Do not record the run in the history store");
  command.add_flag("--raw", o->raw,
                   "Print the output unchanged, control characters too (not on a terminal)");
  command.add_option("--secrets", o->secrets_file,
                     "File of NAME=value lines for ${secret.NAME} (else the environment)");
  o->folder.add_option(command);
  o->state.add_option(command);
  o->config.add_option(command);
  return [o] { return run(*o); };
}

} // namespace jobsctl
