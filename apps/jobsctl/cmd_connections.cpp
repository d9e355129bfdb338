// jobsctl connections list and test: the database connections of the daemon's configuration,
// where each one's password comes from, and whether each one opens, with the driver's own error
// when it does not.
#include "commands.hpp"
#include "daemon_config.hpp"
#include "options.hpp"
#include "output.hpp"

#include <base/duration.hpp>
#include <base/exit_codes.hpp>
#include <base/text.hpp>
#include <engine/executor.hpp>
#include <engine/integrations.hpp>
#include <sql/sql.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace jobsctl {

namespace {

const char* source_name(engine::Credential::Source s) {
  switch (s) {
  case engine::Credential::Source::none:
    return "none";
  case engine::Credential::Source::secret:
    return "secret";
  case engine::Credential::Source::env:
    return "env";
  case engine::Credential::Source::file:
    return "file";
  }
  return "none";
}

// "secret WAREHOUSE_PASSWORD", "env PGPASSWORD", "file /etc/jobs/pg.pass", "none": where the
// password comes from, never the password.
std::string password_text(const engine::Credential& c) {
  if (c.source == engine::Credential::Source::none) {
    return "none";
  }
  return std::string(source_name(c.source)) + " " + c.name;
}

struct ListOptions {
  ConfigOption config;
  bool json = false;
};

int run_list(const ListOptions& o) {
  const jobsd::Config& config = o.config.load();
  const auto& connections = config.integrations.connections;
  if (const std::string why = connections_unchecked(config); !why.empty()) {
    std::cerr << "jobsctl: no connections: " << why << "\n";
  }
  if (o.json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& [name, c] : connections) {
      const bool none = c.password.source == engine::Credential::Source::none;
      out.push_back({{"name", name},
                     {"driver", engine::to_string(c.driver)},
                     {"target", c.target},
                     {"password_source", source_name(c.password.source)},
                     {"password_name",
                      none ? nlohmann::ordered_json() : nlohmann::ordered_json(c.password.name)}});
    }
    std::cout << out.dump(2) << "\n";
    return base::exit_code::ok;
  }
  if (connections.empty()) {
    return base::exit_code::ok;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, c] : connections) {
    rows.push_back({name, engine::to_string(c.driver), c.target, password_text(c.password)});
  }
  print_table({"NAME", "DRIVER", "TARGET", "PASSWORD"}, rows);
  return base::exit_code::ok;
}

struct TestOptions {
  ConfigOption config;
  std::vector<std::string> names;
  std::string secrets_file;
  std::string timeout = "10s";
  bool json = false;
};

// What testing one connection found.
struct Probe {
  std::string name;
  std::string driver;
  bool ok = false;
  std::string server_version;
  std::string error;
  std::int64_t milliseconds = 0;
};

// The driver's message without the "cannot connect to NAME: " that sql::connect puts before
// it: the output names the connection already.
std::string driver_message(const std::string& message, const std::string& name) {
  const std::string prefix = "cannot connect to " + name + ": ";
  return message.starts_with(prefix) ? message.substr(prefix.size()) : message;
}

// Opens the connection and runs SELECT 1 on it, both within `timeout`: opening alone proves
// little for SQLite, which reads the file only on the first statement.
Probe probe(const engine::Connection& c, const std::map<std::string, std::string>& secrets,
            std::chrono::milliseconds timeout) {
  Probe p;
  p.name = c.name;
  p.driver = engine::to_string(c.driver);
  const auto start = std::chrono::steady_clock::now();
  const auto done = [&]() -> Probe {
    p.milliseconds = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    return p;
  };
  const auto password = engine::resolve(c.password, secrets);
  if (!password) {
    p.error = password.error().message;
    return done();
  }
  // SQLite creates a missing file, which would make a mistyped path look fine and leave an
  // empty database behind.
  std::error_code ec;
  if (c.driver == sql::Driver::sqlite && !c.target.starts_with("file:") && c.target != ":memory:" &&
      !std::filesystem::exists(c.target, ec)) {
    p.error = "no such file: " + c.target + " (opening it would create an empty database)";
    return done();
  }
  sql::ConnectionSpec spec{c.name, c.driver, c.target, *password, timeout};
  auto opened = sql::connect(spec);
  if (!opened) {
    p.error = driver_message(opened.error().message, c.name);
    return done();
  }
  sql::Options options;
  options.fetch_results = false;
  options.timeout = timeout;
  if (auto ran = (*opened)->run("SELECT 1", {}, options); !ran) {
    p.error = "connected, but SELECT 1 failed: " + ran.error().message;
    return done();
  }
  p.server_version = (*opened)->server_version();
  p.ok = true;
  return done();
}

nlohmann::ordered_json probe_json(const Probe& p) {
  const auto or_null = [](const std::string& s) {
    return s.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(s);
  };
  return {{"name", p.name},
          {"driver", p.driver},
          {"ok", p.ok},
          {"server_version", or_null(p.server_version)},
          {"error", or_null(p.error)},
          {"milliseconds", p.milliseconds}};
}

// The secrets file's values: --secrets, else the configuration's secrets_file; none without
// either (a ${secret.NAME} then comes from the environment variable NAME).
base::Result<std::map<std::string, std::string>> read_secrets(const std::string& file) {
  if (file.empty()) {
    return std::map<std::string, std::string>();
  }
  std::ifstream in(file);
  if (!in) {
    base::Error e;
    e.message = "cannot read the secrets file " + file;
    return e;
  }
  std::stringstream text;
  text << in.rdbuf();
  return engine::parse_secrets(text.str(), file);
}

int run_test(const TestOptions& o) {
  const auto timeout = base::parse_duration(o.timeout);
  if (!timeout || *timeout <= 0) {
    std::cerr << "jobsctl: --timeout: expected a duration such as 10s or 1m, got \"" << o.timeout
              << "\"\n";
    return base::exit_code::usage;
  }
  const jobsd::Config& config = o.config.load();
  const auto& connections = config.integrations.connections;
  std::vector<const engine::Connection*> chosen;
  for (const auto& name : o.names) {
    const auto it = connections.find(name);
    if (it == connections.end()) {
      std::cerr << "jobsctl: " << unknown_connection(config, name) << "\n";
      return base::exit_code::usage;
    }
    chosen.push_back(&it->second);
  }
  if (o.names.empty()) {
    if (const std::string why = connections_unchecked(config); !why.empty()) {
      std::cerr << "jobsctl: no connections to test: " << why << "\n";
      if (o.json) {
        std::cout << "[]\n";
      }
      return base::exit_code::ok;
    }
    for (const auto& [name, c] : connections) {
      chosen.push_back(&c);
    }
  }
  auto secrets = read_secrets(o.secrets_file.empty() ? config.secrets_file : o.secrets_file);
  if (!secrets) {
    print_error(secrets.error());
    return base::exit_code::usage;
  }

  bool all_ok = true;
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto* c : chosen) {
    const Probe p = probe(*c, *secrets, std::chrono::seconds(*timeout));
    all_ok = all_ok && p.ok;
    if (o.json) {
      out.push_back(probe_json(p));
    } else if (p.ok) {
      std::cout << p.name << ": ok, " << p.server_version << " (" << p.driver << ", "
                << p.milliseconds << " ms)" << std::endl;
    } else {
      std::cerr << "jobsctl: connection \"" << p.name << "\": " << p.error << std::endl;
    }
  }
  if (o.json) {
    // One name gives one object; the whole configuration, a list.
    std::cout << (o.names.size() == 1 ? out[0] : out).dump(2) << "\n";
  }
  return all_ok ? base::exit_code::ok : base::exit_code::job_failed;
}

} // namespace

Run setup_connections(CLI::App& command) {
  command.require_subcommand(1);
  CLI::App* list = command.add_subcommand(
      "list", "Print each connection: name, driver, target and where its password comes from");
  auto l = std::make_shared<ListOptions>();
  list->add_flag("--json", l->json,
                 "Print a JSON array of {name, driver, target, password_source, password_name}");
  l->config.add_option(*list);
  add_tsv_flag(*list);

  CLI::App* test = command.add_subcommand(
      "test", "Open each connection named (default: all) and run SELECT 1; exit 1 on a failure");
  auto t = std::make_shared<TestOptions>();
  test->add_option("name", t->names, "The connections to test (default: every one)");
  test->add_flag("--json", t->json,
                 "Print {name, driver, ok, server_version, error, milliseconds} (a list "
                 "unless one name is given)");
  test->add_option("--timeout", t->timeout,
                   "Time allowed to connect, then as long again for SELECT 1 (10s, 1m)")
      ->capture_default_str();
  test->add_option("--secrets", t->secrets_file,
                   "File of NAME=value lines for the passwords' ${secret.NAME} (default: the "
                   "configuration's secrets_file, else the environment)");
  t->config.add_option(*test);

  return [list, l, t] { return list->parsed() ? run_list(*l) : run_test(*t); };
}

} // namespace jobsctl
