#include "daemon_config.hpp"

#include "output.hpp"

#include <base/exit_codes.hpp>

#include <iostream>

namespace jobsctl {

jobsd::Flags& flags() {
  static jobsd::Flags given;
  return given;
}

const jobsd::Settings& settings() {
  static const jobsd::Settings resolved = [] {
    auto s = jobsd::resolve_settings(flags());
    for (const auto& e : s.loaded.errors) {
      print_finding(std::cerr, e);
    }
    if (!s.loaded.ok()) {
      std::cerr << "jobsctl: " << counted(s.loaded.errors.size(), "error") << " in "
                << s.config_file.value << "\n";
      throw Exit{base::exit_code::usage};
    }
    return s;
  }();
  return resolved;
}

std::string origin_text(const jobsd::Setting& s) {
  const std::string kind = jobsd::to_string(s.origin);
  if (s.where.empty()) {
    return kind;
  }
  return s.origin == jobsd::Origin::built_in ? kind + " (" + s.where + ")" : kind + " " + s.where;
}

void add_config_option(CLI::App& command) {
  if (command.get_option_no_throw("--config") == nullptr) {
    command.add_option("--config", flags().config,
                       "The daemon's configuration file, for its paths, zone, connections and "
                       "smtp (default: JOBS_CONFIG, else " +
                           jobsd::default_config_file(jobsd::Environment::of_process()) +
                           " when it exists)");
  }
}

} // namespace jobsctl
