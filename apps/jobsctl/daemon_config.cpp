#include "daemon_config.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

namespace jobsctl {

namespace {

constexpr const char* system_config = "/etc/jobs/jobsd.yaml";

} // namespace

void ConfigOption::add_option(CLI::App& command) {
  command.add_option("--config", path,
                     std::string("The daemon's configuration, for its connections, allowed_paths "
                                 "and smtp (default: JOBS_CONFIG, else ") +
                         system_config + " when it exists)");
}

std::optional<jobsd::Config> ConfigOption::load() const {
  std::string file = path;
  if (file.empty()) {
    if (const char* env = std::getenv("JOBS_CONFIG"); env != nullptr && *env != '\0') {
      file = env;
    } else if (std::error_code ec; std::filesystem::exists(system_config, ec)) {
      // The system's configuration, found rather than named: a user who may not read it (it
      // is often 0640 root) runs and validates jobs as if there were none.
      if (::access(system_config, R_OK) != 0) {
        std::cerr << "jobsctl: warning: " << system_config
                  << " is not readable: going on without the daemon's configuration (--config "
                     "names one)\n";
        return jobsd::Config{};
      }
      file = system_config;
    }
  }
  if (file.empty()) {
    return jobsd::Config{};
  }
  auto loaded = jobsd::load_config(file);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) {
      std::cerr << e.render() << "\n";
    }
    return std::nullopt;
  }
  return std::move(loaded.config);
}

} // namespace jobsctl
