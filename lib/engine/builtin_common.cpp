#include <base/duration.hpp>
#include <engine/builtin_internal.hpp>
#include <engine/executor.hpp>
#include <jobs/canonical.hpp>
#include <jobs/variables.hpp>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <sstream>

namespace engine::builtin {

base::Error error(std::string message) {
  base::Error e;
  e.message = std::move(message);
  return e;
}

const jobs::Node* key(const BuiltinContext& c, const char* name) {
  return c.step.keys.find(name);
}

std::string text(const BuiltinContext& c, const char* name, std::string fallback) {
  const jobs::Node* n = key(c, name);
  return n != nullptr && n->is_scalar() ? n->scalar : fallback;
}

bool flag(const BuiltinContext& c, const char* name, bool fallback) {
  const jobs::Node* n = key(c, name);
  const auto b = n != nullptr && n->is_scalar() ? jobs::boolean_word(n->scalar) : std::nullopt;
  return b.value_or(fallback);
}

std::int64_t number(const BuiltinContext& c, const char* name, std::int64_t fallback) {
  const jobs::Node* n = key(c, name);
  return n != nullptr && n->is_scalar() ? std::atoll(n->scalar.c_str()) : fallback;
}

std::int64_t seconds(const BuiltinContext& c, const char* name, std::int64_t fallback) {
  const jobs::Node* n = key(c, name);
  if (n == nullptr || !n->is_scalar()) {
    return fallback;
  }
  const auto d = base::parse_duration(n->scalar);
  return d ? *d : fallback;
}

// Text with each variable replaced by its value as it is (for values that are data: bound
// parameters, header values, email text).
std::string substitute(const BuiltinContext& c, std::string_view s) {
  return jobs::substitute_variables(s, c.value);
}

std::vector<std::string> list(const BuiltinContext& c, const char* name) {
  std::vector<std::string> out;
  if (const jobs::Node* n = key(c, name)) {
    if (n->is_scalar()) {
      out.push_back(substitute(c, n->scalar));
    }
    for (const auto& item : n->items) {
      out.push_back(substitute(c, item.scalar));
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> pairs(const BuiltinContext& c, const char* name) {
  std::vector<std::pair<std::string, std::string>> out;
  if (const jobs::Node* n = key(c, name); n != nullptr && n->is_map()) {
    for (const auto& e : n->entries) {
      out.emplace_back(e.key, substitute(c, e.value.scalar));
    }
  }
  return out;
}

// A JSON value from the step's YAML/JSON, with variables substituted into its strings (the
// values are JSON-escaped when the body is written, never spliced into JSON text).
nlohmann::json json_value(const BuiltinContext& c, const jobs::Node& n) {
  nlohmann::json v = nlohmann::json::parse(jobs::to_json(n).dump());
  std::function<void(nlohmann::json&)> walk = [&](nlohmann::json& j) {
    if (j.is_string()) {
      j = substitute(c, j.get<std::string>());
    } else if (j.is_structured()) {
      for (auto& item : j) {
        walk(item);
      }
    }
  };
  walk(v);
  return v;
}

void Run::secret(const std::string& value) {
  secrets[std::to_string(secrets.size())] = value;
}

void Run::line(const std::string& text) {
  const std::string s = redact(text, secrets);
  c.line(s);
  r.output += s + "\n";
}

void Run::lines(const std::string& block) {
  std::istringstream in(block);
  for (std::string s; std::getline(in, s);) {
    line(s);
  }
}

BuiltinResult Run::fail(const std::string& message) {
  r.status = Status::failed;
  r.error_message = redact(message, secrets);
  return done();
}

BuiltinResult Run::done() {
  for (auto& [k, v] : r.fields) {
    v = redact(v, secrets);
  }
  return std::move(r);
}

// A path of the step: variables substituted, relative to the job file's folder.
std::string step_path(const BuiltinContext& c, const std::string& written) {
  std::filesystem::path p = substitute(c, written);
  if (p.is_relative() && !c.job.path.empty()) {
    p = std::filesystem::path(c.job.path).parent_path() / p;
  }
  std::error_code ec;
  const auto absolute = std::filesystem::absolute(p, ec);
  return (ec ? p : absolute).lexically_normal().string();
}

base::Result<const Connection*> configured_connection(const BuiltinContext& c) {
  const std::string name = text(c, "connection");
  const auto it = c.integrations.connections.find(name);
  if (it == c.integrations.connections.end()) {
    std::string known;
    for (const auto& [n, conn] : c.integrations.connections) {
      known += (known.empty() ? "" : ", ") + n;
    }
    return error("no connection \"" + name + "\" in the daemon config" +
                 (known.empty() ? " (it has none)" : " (it has " + known + ")"));
  }
  return &it->second;
}

base::Result<std::unique_ptr<sql::Connection>> open_connection(Run& run) {
  const auto configured = configured_connection(run.c);
  if (!configured) {
    return configured.error();
  }
  const Connection& conn = **configured;
  sql::ConnectionSpec spec{conn.name, conn.driver, conn.target, std::nullopt};
  const auto password = resolve(conn.password, run.c.integrations.secrets);
  if (!password) {
    return error("connection \"" + conn.name + "\": " + password.error().message);
  }
  spec.password = *password;
  if (*password) {
    run.secret(**password);
  }
  return sql::connect(spec);
}

std::string bind_variables(const BuiltinContext& c, std::string_view sql,
                           std::vector<sql::Param>& params) {
  return jobs::substitute_variables(sql, [&](const std::string& variable) {
    const std::string placeholder = "jobs_var_" + std::to_string(params.size() + 1);
    params.push_back({placeholder, c.value(variable)});
    return ":" + placeholder;
  });
}

std::string json_text(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json rows_json(const sql::Result& result) {
  auto rows = nlohmann::json::array();
  for (const auto& row : result.rows) {
    nlohmann::json object = nlohmann::json::object();
    for (size_t i = 0; i < row.size() && i < result.columns.size(); ++i) {
      object[result.columns[i]] = row[i];
    }
    rows.push_back(std::move(object));
  }
  return rows;
}

} // namespace engine::builtin
