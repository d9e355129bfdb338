#pragma once

// The daemon's configuration file as jobsctl reads it: for the connections, allowed_paths and
// SMTP server that `run` and `connections` use.

#include <jobsd/config.hpp>

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace jobsctl {

struct ConfigOption {
  std::string path;

  // --config FILE.
  void add_option(CLI::App& command);

  // The configuration: --config, else $JOBS_CONFIG, else /etc/jobs/jobsd.yaml when it exists,
  // else the defaults. Errors are printed (path:line:col) and give nullopt.
  std::optional<jobsd::Config> load() const;
};

} // namespace jobsctl
