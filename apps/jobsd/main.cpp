// jobsd: the jobs daemon. Reads its configuration and command line, starts the daemon (in the
// foreground, or in the background once it is ready), and maps the outcome to an exit code
// (base/exit_codes.hpp, man/jobsd.8).
#include <base/exit_codes.hpp>
#include <engine/recorder.hpp>
#include <jobsd/daemon.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>

namespace {

namespace fs = std::filesystem;

constexpr const char* system_config = "/etc/jobs/jobsd.yaml";

std::string absolute(const std::string& path) {
  std::error_code ec;
  const auto p = fs::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

// The jobs folder when neither the command line nor the config names one.
std::string default_jobs_dir() {
  if (const char* dir = std::getenv("JOBS_DIR"); dir && *dir) {
    return dir;
  }
  if (geteuid() == 0) {
    return "/etc/jobs/jobs.d";
  }
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg) {
    return std::string(xdg) + "/jobs";
  }
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.config/jobs";
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
  std::string config_path, jobs_dir, state_dir, log_dir, socket;
  bool foreground = false, check = false;
  app.add_option("--config", config_path,
                 std::string("Configuration file (default: ") + system_config + " when it exists)")
      ->envname("JOBSD_CONFIG");
  app.add_option("--jobs-dir", jobs_dir,
                 "Folder of job files (default: config, JOBS_DIR, " + default_jobs_dir() + ")");
  app.add_option("--state-dir", state_dir,
                 "Folder of the history store and the lock (default: config, JOBS_STATE_DIR, " +
                     engine::default_state_dir() + ")");
  app.add_option("--log-dir", log_dir, "Folder of the logs (default: config, STATE_DIR/logs)");
  app.add_option("--socket", socket, "Control socket (default: config, STATE_DIR/jobsd.sock)");
  app.add_flag("--foreground,-f", foreground,
               "Stay in the foreground and log to standard error too (for systemd and terminals)");
  app.add_flag("--check-config", check, "Check the configuration file and exit");
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
    jobsd::LoadedConfig loaded;
    std::error_code ec;
    if (config_path.empty() && fs::exists(system_config, ec)) {
      config_path = system_config;
    }
    if (!config_path.empty()) {
      loaded = jobsd::load_config(config_path);
      for (const auto& e : loaded.errors) {
        std::cerr << e.render() << "\n";
      }
      if (!loaded.ok()) {
        std::cerr << "jobsd: " << loaded.errors.size() << " error"
                  << (loaded.errors.size() == 1 ? "" : "s") << " in " << config_path << "\n";
        return base::exit_code::usage;
      }
    }
    if (check) {
      std::cout << (config_path.empty() ? "no configuration file; the defaults apply"
                                        : config_path + ": ok")
                << "\n";
      return base::exit_code::ok;
    }
    jobsd::Options o;
    o.config = std::move(loaded.config);
    jobsd::Config& c = o.config;
    const auto pick = [](const std::string& flag, std::string& configured, std::string fallback) {
      configured = absolute(!flag.empty() ? flag : !configured.empty() ? configured : fallback);
    };
    pick(jobs_dir, c.jobs_dir, default_jobs_dir());
    pick(state_dir, c.state_dir, engine::default_state_dir());
    pick(log_dir, c.log_dir, c.state_dir + "/logs");
    pick(socket, c.socket, c.state_dir + "/jobsd.sock");
    o.to_stderr = foreground;
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
