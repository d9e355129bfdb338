// jobsctl config: every path, the zone and the default timeout as jobsd and jobsctl resolve
// them, with where each value comes from (git config --show-origin).
#include "commands.hpp"
#include "daemon_config.hpp"
#include "options.hpp"
#include "output.hpp"

#include <base/exit_codes.hpp>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

namespace jobsctl {

namespace {

struct ConfigVerbOptions {
  bool json = false;
};

int run_config(const ConfigVerbOptions& o) {
  const auto s = jobsd::resolve_settings(flags());
  const std::pair<const char*, const jobsd::Setting*> rows[] = {
      {"config", &s.config_file},
      {"jobs_dir", &s.jobs_dir},
      {"state_dir", &s.state_dir},
      {"log_dir", &s.log_dir},
      {"socket", &s.socket},
      {"default_timezone", &s.default_timezone},
      {"default_timeout", &s.default_timeout}};
  if (o.json) {
    nlohmann::ordered_json out;
    for (const auto& [key, setting] : rows) {
      out[key] = {{"value", setting->value.empty() ? nlohmann::ordered_json()
                                                   : nlohmann::ordered_json(setting->value)},
                  {"origin", jobsd::to_string(setting->origin)},
                  {"where", setting->where.empty() ? nlohmann::ordered_json()
                                                   : nlohmann::ordered_json(setting->where)}};
    }
    auto errors = nlohmann::ordered_json::array();
    for (const auto& e : s.loaded.errors) {
      errors.push_back(e.render());
    }
    out["errors"] = errors;
    std::cout << out.dump(2) << "\n";
  } else {
    std::vector<std::vector<std::string>> table;
    for (const auto& [key, setting] : rows) {
      table.push_back(
          {key, setting->value.empty() ? "(none)" : setting->value, origin_text(*setting)});
    }
    print_table({"KEY", "VALUE", "ORIGIN"}, table);
    for (const auto& e : s.loaded.errors) {
      print_finding(std::cerr, e);
    }
  }
  return s.loaded.ok() ? base::exit_code::ok : base::exit_code::usage;
}

} // namespace

Run setup_config(CLI::App& command) {
  auto o = std::make_shared<ConfigVerbOptions>();
  add_config_option(command);
  jobsd::Flags& f = flags();
  command.add_option("--jobs-dir", f.jobs_dir, "Folder of job files, as other verbs take it");
  command.add_option("--state-dir", f.state_dir, "State folder, as other verbs take it");
  command.add_option("--log-dir", f.log_dir, "Log folder, as jobsd takes it");
  command.add_option("--socket", f.socket, "Control socket, as other verbs take it");
  command.add_flag("--json", o->json,
                   "Print one object: for each key its value, origin (flag, environment, file, "
                   "default) and where");
  add_tsv_flag(command);
  return [o] { return run_config(*o); };
}

} // namespace jobsctl
