// jobsd: the jobs daemon. Reads its configuration and command line, starts the daemon (in the
// foreground, or in the background once it is ready), and maps the outcome to an exit code
// (base/exit_codes.hpp, man/jobsd.8).
#include <base/exit_codes.hpp>
#include <jobs/trust.hpp>
#include <jobsd/daemon.hpp>
#include <jobsd/settings.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>

namespace {

namespace fs = std::filesystem;

std::string absolute(const std::string& path) {
  std::error_code ec;
  const auto p = fs::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

// Forks; the parent waits until the child is ready (exit 0) or says why it is not (exit 1).
// Returns in the child, with the write end of the pipe to report through.
int detach() {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    std::perror("jobsd: pipe");
    std::exit(base::exit_code::internal);
  }
  const pid_t pid = fork();
  if (pid < 0) {
    std::perror("jobsd: fork");
    std::exit(base::exit_code::internal);
  }
  if (pid > 0) {
    close(pipe_fds[1]);
    std::string report;
    char chunk[4096];
    for (ssize_t n; (n = read(pipe_fds[0], chunk, sizeof chunk)) > 0;) {
      report.append(chunk, static_cast<size_t>(n));
    }
    if (report == "ready") {
      std::exit(base::exit_code::ok);
    }
    std::cerr << (report.empty() ? "jobsd: the daemon ended before it was ready\n" : report);
    std::exit(1);
  }
  close(pipe_fds[0]);
  setsid();
  return pipe_fds[1];
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"jobsd: run the jobs of a folder on their schedules, each in its own time zone",
               "jobsd"};
  app.set_version_flag("--version", "jobsd " JOBS_VERSION);
  jobsd::Flags flags;
  bool foreground = false, check = false, new_store = false;
  // The defaults and their order are jobsctl's too (jobsd/settings.hpp); `jobsctl config`
  // shows where each value comes from.
  const auto env = jobsd::Environment::of_process();
  app.add_option("--config", flags.config,
                 "Configuration file (default: JOBS_CONFIG, else " +
                     jobsd::default_config_file(env) + " when it exists)");
  app.add_option("--jobs-dir", flags.jobs_dir,
                 "Folder of job files (default: JOBS_DIR, the config's jobs_dir, " +
                     jobsd::default_jobs_dir(env) + ", created when missing)");
  app.add_option("--state-dir", flags.state_dir,
                 "Folder of the history store and the lock (default: JOBS_STATE_DIR, the "
                 "config's state_dir, " +
                     jobsd::default_state_dir(env) + ")");
  app.add_option(
      "--log-dir", flags.log_dir,
      "Folder of the logs (default: JOBS_LOG_DIR, the config's log_dir, STATE_DIR/logs)");
  app.add_option(
      "--socket", flags.socket,
      "Control socket (default: JOBS_SOCKET, the config's socket, STATE_DIR/jobsd.sock)");
  app.add_flag("--foreground,-f", foreground,
               "Stay in the foreground and log to standard error too (for systemd and terminals)");
  app.add_flag("--check-config", check, "Check the configuration file and exit");
  app.add_flag("--new-store", new_store,
               "Begin a new history when history.db is missing or empty where jobsd has run "
               "before (otherwise refused: restore it from a backup)");
  app.footer("Exit codes: 0 ok (stopped by SIGTERM or SIGINT), 1 cannot start, 2 usage or\n"
             "invalid configuration, 70 internal error. See jobsd(8).");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return base::exit_code::usage;
  }

  try {
    if (!env.get("JOBSD_CONFIG").empty() && env.get(jobsd::config_env).empty()) {
      std::cerr << "jobsd: warning: JOBSD_CONFIG is not read: JOBS_CONFIG names the "
                   "configuration file, for jobsd and jobsctl alike\n";
    }
    auto settings = jobsd::resolve_settings(flags, env);
    const std::string& config_path = settings.config_file.value;
    const auto& errors = settings.loaded.errors;
    for (const auto& e : errors) {
      std::cerr << e.render() << "\n";
    }
    if (!errors.empty()) {
      std::cerr << "jobsd: " << errors.size() << " error" << (errors.size() == 1 ? "" : "s")
                << " in " << config_path << "\n";
      return base::exit_code::usage;
    }
    // Root reads only files of root's that others cannot write (jobsd(8), SECURITY).
    const std::pair<std::string, bool> root_files[] = {{config_path, false},
                                                       {settings.loaded.config.secrets_file, true}};
    for (const auto& [file, secret] : root_files) {
      struct stat st {};
      if (::geteuid() == 0 && !file.empty() && ::stat(file.c_str(), &st) == 0) {
        if (const auto problem = jobs::root_file_problem(st, file, secret); !problem.empty()) {
          std::cerr << "jobsd: refused: " << problem << "\n";
          return base::exit_code::usage;
        }
      }
    }
    if (check) {
      std::cout << (config_path.empty() ? "no configuration file; the defaults apply"
                                        : config_path + ": ok")
                << "\n";
      return base::exit_code::ok;
    }
    jobsd::Options o;
    o.config = std::move(settings.loaded.config);
    jobsd::Config& c = o.config;
    c.jobs_dir = absolute(settings.jobs_dir.value);
    c.state_dir = absolute(settings.state_dir.value);
    c.log_dir = absolute(settings.log_dir.value);
    c.socket = absolute(settings.socket.value);
    o.create_jobs_dir = settings.jobs_dir.origin == jobsd::Origin::built_in;
    o.to_stderr = foreground;
    o.new_store = new_store;
    o.version = JOBS_VERSION;

    int report_fd = -1;
    if (!foreground) {
      report_fd = detach();
      o.ready = [&report_fd] {
        // Ready: the parent exits 0; the daemon lets go of the terminal.
        (void)!write(report_fd, "ready", 5);
        close(report_fd);
        report_fd = -1;
        const int null = open("/dev/null", O_RDWR);
        for (int fd : {0, 1, 2}) {
          dup2(null, fd);
        }
        close(null);
      };
    }
    jobsd::Daemon daemon(std::move(o));
    if (auto started = daemon.start(); !started) {
      const std::string text = "jobsd: " + started.error().render() + "\n";
      if (report_fd >= 0) {
        (void)!write(report_fd, text.data(), text.size());
      } else {
        std::cerr << text;
      }
      return 1;
    }
    return daemon.run();
  } catch (const std::exception& e) {
    std::cerr << "jobsd: internal error: " << e.what() << "\n";
    return base::exit_code::internal;
  }
}
