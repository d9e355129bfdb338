#pragma once

// What the runners of the in-process steps share (builtin.cpp, templates.cpp): reading the
// step's keys, substituting variables the safe way, the result being built with the
// credentials it must redact, and opening the step's connection.

#include <engine/builtin.hpp>
#include <sql/sql.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace engine::builtin {

base::Error error(std::string message);

// The step's key `name`, or null.
const jobs::Node* key(const BuiltinContext& c, const char* name);
// A scalar key as written (no substitution), else `fallback`.
std::string text(const BuiltinContext& c, const char* name, std::string fallback = {});
bool flag(const BuiltinContext& c, const char* name, bool fallback);
std::int64_t number(const BuiltinContext& c, const char* name, std::int64_t fallback);
// A duration key in seconds.
std::int64_t seconds(const BuiltinContext& c, const char* name, std::int64_t fallback);

// Text with each variable replaced by its value as it is (for values that are data: bound
// parameters, header values, email text).
std::string substitute(const BuiltinContext& c, std::string_view s);
// A string or list key, each item substituted.
std::vector<std::string> list(const BuiltinContext& c, const char* name);
// A map key, each value substituted.
std::vector<std::pair<std::string, std::string>> pairs(const BuiltinContext& c, const char* name);
// A JSON value from the step's YAML/JSON, with variables substituted into its strings.
nlohmann::json json_value(const BuiltinContext& c, const jobs::Node& n);
// A path of the step, absolute: variables substituted, relative to the job file's folder.
std::string step_path(const BuiltinContext& c, const std::string& written);

// The result so far, with what is logged kept as output and every credential resolved on
// the way redacted from lines, error and fields.
struct Run {
  const BuiltinContext& c;
  BuiltinResult r;
  std::map<std::string, std::string> secrets; // credentials resolved, for redact()

  void secret(const std::string& value);
  void line(const std::string& text);
  void lines(const std::string& block); // one line() per line of `block`
  BuiltinResult fail(const std::string& message);
  BuiltinResult done();
};

// The connection the step's "connection" key names, as configured, without opening it (a
// backup must not create the SQLite file it was meant to copy); the error says which
// connections exist.
base::Result<const Connection*> configured_connection(const BuiltinContext& c);

// The connection the step's "connection" key names, opened with its password (registered
// with run.secret()); the error says which connections exist.
base::Result<std::unique_ptr<sql::Connection>> open_connection(Run& run);

// The SQL text with each ${variable} replaced by a bound parameter :jobs_var_N, added to
// `params`.
std::string bind_variables(const BuiltinContext& c, std::string_view sql,
                           std::vector<sql::Param>& params);

// JSON text that never throws: invalid UTF-8 (a process's bytes, a Latin-1 column) becomes U+FFFD.
std::string json_text(const nlohmann::json& j);

// The rows of a result as JSON objects keyed by column.
nlohmann::json rows_json(const sql::Result& result);

} // namespace engine::builtin
