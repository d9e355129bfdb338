#pragma once

// The daemon's configuration and paths as jobsctl sees them: the flags a verb was given, and
// what they resolve to in jobsd's own order (jobsd/settings.hpp), so that jobsctl finds the
// daemon's jobs folder, state, socket, zone, connections and SMTP server where jobsd does.

#include <jobsd/settings.hpp>

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace jobsctl {

// Thrown to end the verb with this exit code once the reason is printed.
struct Exit {
  int code;
};

// The path flags of this run. One verb runs per process: its options write here.
jobsd::Flags& flags();

// The settings, resolved on first use. A configuration file with errors: they are printed
// (path:line:col) and Exit{2} is thrown.
const jobsd::Settings& settings();

// Where a setting comes from: "flag --jobs-dir", "environment JOBS_DIR",
// "file /etc/jobs/jobsd.yaml:3", "default", "default (STATE_DIR/logs)".
std::string origin_text(const jobsd::Setting& s);

// Adds --config FILE to `command`, unless it has it already.
void add_config_option(CLI::App& command);

struct ConfigOption {
  // --config FILE.
  void add_option(CLI::App& command) { add_config_option(command); }

  // The configuration: --config, else $JOBS_CONFIG, else the default file when it exists, else
  // the defaults (path empty).
  const jobsd::Config& load() const { return settings().loaded.config; }
};

} // namespace jobsctl
