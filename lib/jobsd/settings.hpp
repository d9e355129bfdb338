#pragma once

// Where jobsd and jobsctl find things: the configuration file, the jobs folder, the state
// folder, the log folder, the socket, the default time zone and the default job timeout. Both
// programs resolve them here, in one order (man jobsd.8 and jobsctl.1, "CONFIGURATION ORDER"): the
// command line, then an environment variable, then the configuration file, then a built-in default,
// so that jobsctl finds the daemon, its jobs and its zone wherever the daemon was told they are.

#include <jobsd/config.hpp>

#include <functional>
#include <string>

namespace jobsd {

// Where a setting's value came from.
enum class Origin { flag, environment, file, built_in };

// "flag", "environment", "file", "default"
const char* to_string(Origin origin);

struct Setting {
  std::string value; // empty: none (a configuration file that was not found)
  Origin origin = Origin::built_in;
  // The flag ("--jobs-dir"), the variable ("JOBS_DIR"), the file and line
  // ("/etc/jobs/jobsd.yaml:3"), or how the default was made ("STATE_DIR/logs").
  std::string where;

  // Whether a person named it (a flag or an environment variable), not a file or a default.
  bool named() const { return origin == Origin::flag || origin == Origin::environment; }
};

// What a command line gave; empty: not given.
struct Flags {
  std::string config{};
  std::string jobs_dir{};
  std::string state_dir{};
  std::string log_dir{};
  std::string socket{};
};

// The user whose defaults apply and the environment they are read from (tests give their own).
struct Environment {
  bool root = false;
  std::function<std::string(const char* name)> get; // "" when unset

  // This process's: root when the effective uid is 0, getenv.
  static Environment of_process();
};

struct Settings {
  Setting config_file; // its value is empty when no file was named and the default is absent
  Setting jobs_dir;
  Setting state_dir;
  Setting log_dir;
  Setting socket;
  Setting default_timezone; // "UTC" by default
  Setting default_timeout;  // "1h" by default; "none": no limit
  // The configuration file as read (the defaults when there is none), with its errors.
  LoadedConfig loaded;
};

// The environment variables, one per setting but the zone.
inline constexpr const char* config_env = "JOBS_CONFIG";
inline constexpr const char* jobs_dir_env = "JOBS_DIR";
inline constexpr const char* state_dir_env = "JOBS_STATE_DIR";
inline constexpr const char* log_dir_env = "JOBS_LOG_DIR";
inline constexpr const char* socket_env = "JOBS_SOCKET";

// The configuration file used when none is named: /etc/jobs/jobsd.yaml for root, else
// $XDG_CONFIG_HOME/jobs/jobsd.yaml (~/.config/jobs/jobsd.yaml).
std::string default_config_file(const Environment& env);
// The jobs folder and the state folder used when nothing names them: /etc/jobs/jobs.d and
// /var/lib/jobs for root, else $XDG_CONFIG_HOME/jobs/jobs.d and $XDG_STATE_HOME/jobs.
std::string default_jobs_dir(const Environment& env);
std::string default_state_dir(const Environment& env);

// Resolves every setting and reads the configuration file: the one named (--config, then
// JOBS_CONFIG), else the default one when it exists. A named file that cannot be read is an
// error in `loaded`. Then, each of the others: the flag, its variable, the file's key, the
// default (root: /etc/jobs/jobs.d, /var/lib/jobs; others: $XDG_CONFIG_HOME/jobs/jobs.d,
// $XDG_STATE_HOME/jobs; for both: STATE_DIR/logs, STATE_DIR/jobsd.sock, UTC, 1h). Paths are
// returned as given (relative ones stay relative); the file's own are absolute.
Settings resolve_settings(const Flags& flags, const Environment& env = Environment::of_process());

} // namespace jobsd
