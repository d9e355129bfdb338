#include <base/duration.hpp>
#include <base/size.hpp>
#include <engine/builtin.hpp>
#include <engine/executor.hpp>
#include <files/files.hpp>
#include <jobs/canonical.hpp>
#include <jobs/variables.hpp>
#include <mail/smtp.hpp>
#include <net/azure_devops.hpp>
#include <net/http.hpp>
#include <net/json_path.hpp>
#include <sql/sql.hpp>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace engine {

namespace {

base::Error error(std::string message) {
  base::Error e;
  e.message = std::move(message);
  return e;
}

const jobs::Node* key(const BuiltinContext& c, const char* name) {
  return c.step.keys.find(name);
}

std::string text(const BuiltinContext& c, const char* name, std::string fallback = {}) {
  const jobs::Node* n = key(c, name);
  return n != nullptr && n->is_scalar() ? n->scalar : fallback;
}

bool flag(const BuiltinContext& c, const char* name, bool fallback) {
  const jobs::Node* n = key(c, name);
  return n != nullptr && n->is_scalar() ? n->scalar == "true" : fallback;
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

// Percent-encodes all but the unreserved characters of RFC 3986: a variable's value inside a
// URL stays one path segment or query value.
std::string url_encoded(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (std::isalnum(u) != 0 || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      out += ch;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
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

// The result so far, with what is logged kept as output.
struct Run {
  const BuiltinContext& c;
  BuiltinResult r;
  std::map<std::string, std::string> secrets; // credentials resolved, for redact()

  void secret(const std::string& value) { secrets[std::to_string(secrets.size())] = value; }
  void line(const std::string& text) {
    const std::string s = redact(text, secrets);
    c.line(s);
    r.output += s + "\n";
  }
  void lines(const std::string& block) {
    std::istringstream in(block);
    for (std::string s; std::getline(in, s);) {
      line(s);
    }
  }
  BuiltinResult fail(const std::string& message) {
    r.status = Status::failed;
    r.error_message = redact(message, secrets);
    return done();
  }
  BuiltinResult done() {
    for (auto& [k, v] : r.fields) {
      v = redact(v, secrets);
    }
    return std::move(r);
  }
};

// A path of the step: variables substituted, relative to the job file's folder.
std::string step_path(const BuiltinContext& c, const std::string& written) {
  std::filesystem::path p = substitute(c, written);
  if (p.is_relative() && !c.job.path.empty()) {
    p = std::filesystem::path(c.job.path).parent_path() / p;
  }
  return p.lexically_normal().string();
}

// --- sql

BuiltinResult run_sql(const BuiltinContext& c) {
  Run run{c, {}, {}};
  const std::string name = text(c, "connection");
  const auto it = c.integrations.connections.find(name);
  if (it == c.integrations.connections.end()) {
    std::string known;
    for (const auto& [n, conn] : c.integrations.connections) {
      known += (known.empty() ? "" : ", ") + n;
    }
    return run.fail("no connection \"" + name + "\" in the daemon config" +
                    (known.empty() ? " (it has none)" : " (it has " + known + ")"));
  }
  const Connection& conn = it->second;
  sql::ConnectionSpec spec{conn.name, conn.driver, conn.target, std::nullopt};
  const auto password = resolve(conn.password, c.integrations.secrets);
  if (!password) {
    return run.fail("connection \"" + name + "\": " + password.error().message);
  }
  spec.password = *password;
  if (*password) {
    run.secret(**password);
  }

  std::string script = text(c, "query");
  if (const std::string file = text(c, "file"); !file.empty()) {
    std::ifstream in(step_path(c, file));
    if (!in) {
      return run.fail("cannot read " + step_path(c, file));
    }
    script.assign(std::istreambuf_iterator<char>(in), {});
  }
  // A variable in the SQL text becomes a bound parameter, never SQL.
  std::vector<sql::Param> params;
  int n = 0;
  script = jobs::substitute_variables(script, [&](const std::string& variable) {
    const std::string placeholder = "jobs_var_" + std::to_string(++n);
    params.push_back({placeholder, c.value(variable)});
    return ":" + placeholder;
  });
  for (auto& [k, v] : pairs(c, "params")) {
    params.push_back({k, v});
  }
  sql::Options options;
  options.fetch_results = flag(c, "fetch_results", true);
  options.max_rows =
      static_cast<std::size_t>(std::max<std::int64_t>(0, number(c, "max_rows", 1000)));
  options.transaction = flag(c, "transaction", false);
  options.cancel = c.cancel;

  auto connected = sql::connect(spec);
  if (!connected) {
    return run.fail(connected.error().message);
  }
  auto result = (*connected)->run(script, params, options);
  if (!result) {
    return run.fail(result.error().message);
  }
  run.lines(sql::format_table(*result));
  auto rows = nlohmann::json::array();
  for (const auto& row : result->rows) {
    nlohmann::json object = nlohmann::json::object();
    for (size_t i = 0; i < row.size() && i < result->columns.size(); ++i) {
      object[result->columns[i]] = row[i];
    }
    rows.push_back(std::move(object));
  }
  run.r.fields["row_count"] = std::to_string(result->row_count);
  run.r.fields["affected"] = std::to_string(result->affected);
  run.r.fields["columns"] = nlohmann::json(result->columns).dump();
  run.r.fields["rows"] = rows.dump();
  run.r.fields["json"] = rows.dump();
  return run.done();
}

// --- http and webhook

BuiltinResult run_http(const BuiltinContext& c, bool webhook) {
  Run run{c, {}, {}};
  net::Request request;
  request.method = webhook ? "POST" : text(c, "method", "GET");
  request.url = jobs::substitute_variables(
      text(c, "url"), [&](const std::string& variable) { return url_encoded(c.value(variable)); });
  request.headers = pairs(c, "headers");
  request.query = pairs(c, "query");
  if (const jobs::Node* json = key(c, "json")) {
    request.body = json_value(c, *json).dump();
    request.headers.emplace_back("Content-Type", "application/json");
  } else if (webhook) {
    request.body = nlohmann::json{{"job", c.job.id},
                                  {"job_name", c.job.name},
                                  {"execution_id", c.value("execution.id")},
                                  {"scheduled_time", c.value("execution.scheduled_time")},
                                  {"trigger", c.value("execution.trigger")}}
                       .dump();
    request.headers.emplace_back("Content-Type", "application/json");
  } else {
    request.body = substitute(c, text(c, "body"));
  }
  if (const std::string token = text(c, "bearer_token"); !token.empty()) {
    request.bearer_token = substitute(c, token);
    run.secret(*request.bearer_token);
  }
  if (const jobs::Node* basic = key(c, "basic"); basic != nullptr && basic->is_map()) {
    const jobs::Node* user = basic->find("user");
    const jobs::Node* password = basic->find("password");
    request.basic = std::pair(user ? substitute(c, user->scalar) : "",
                              password ? substitute(c, password->scalar) : "");
    run.secret(request.basic->second);
  }
  request.timeout = std::chrono::seconds(seconds(c, "request_timeout", 30));
  request.max_redirects = static_cast<int>(number(c, "max_redirects", 5));
  request.verify_tls = flag(c, "verify_tls", true);
  request.ca_file = text(c, "ca_file").empty() ? "" : step_path(c, text(c, "ca_file"));
  if (const jobs::Node* m = key(c, "max_body"); m != nullptr && m->is_scalar()) {
    if (const auto size = base::parse_size(m->scalar)) {
      request.max_body = static_cast<std::size_t>(*size);
    }
  }
  const auto expect = net::parse_status_set(list(c, "expect_status"));
  if (!expect) {
    return run.fail(expect.error().message);
  }
  net::Retry retry;
  retry.max = static_cast<int>(number(c, "retries", 3));
  retry.delay = std::chrono::seconds(seconds(c, "retry_delay", 1));

  run.line(request.method + " " + net::redact_url(request.url));
  const net::Exchange x =
      net::send(request, *expect, retry, c.cancel, [&](const std::string& s) { run.line(s); });
  if (x.response) {
    const net::Response& response = *x.response;
    run.line("HTTP " + std::to_string(response.status) + " " + response.reason + " (" +
             base::format_size(static_cast<std::int64_t>(response.body.size())) +
             (response.truncated ? ", truncated" : "") + ")");
    run.r.fields["status_code"] = std::to_string(response.status);
    run.r.fields["body"] = response.body.substr(0, 65536);
    const auto parsed = nlohmann::json::parse(response.body, nullptr, false);
    run.r.fields["json"] = parsed.is_discarded() ? "" : parsed.dump();
    auto headers = nlohmann::json::object();
    for (const auto& [k, v] : response.headers) {
      headers[k] = v;
    }
    run.r.fields["headers"] = headers.dump();
  }
  if (x.error) {
    return run.fail(x.error->message);
  }
  return run.done();
}

// --- azure_devops

BuiltinResult run_azure_devops(const BuiltinContext& c) {
  Run run{c, {}, {}};
  net::azure::Pipeline p;
  p.base_url = text(c, "base_url", p.base_url);
  p.organization = substitute(c, text(c, "organization"));
  p.project = substitute(c, text(c, "project"));
  p.pipeline_id = number(c, "pipeline_id", 0);
  p.branch = substitute(c, text(c, "branch"));
  p.parameters = pairs(c, "parameters");
  p.ca_file = text(c, "ca_file").empty() ? "" : step_path(c, text(c, "ca_file"));
  if (const std::string variable = text(c, "token_env"); !variable.empty()) {
    const char* v = std::getenv(variable.c_str());
    if (v == nullptr || *v == '\0') {
      return run.fail("token_env: the environment variable " + variable + " is not set");
    }
    p.pat = v;
  } else {
    p.pat = substitute(c, text(c, "token"));
  }
  run.secret(p.pat);
  const auto log = [&](const std::string& s) { run.line(s); };
  auto queued = net::azure::queue_run(p, c.cancel, log);
  if (!queued) {
    return run.fail(queued.error().message);
  }
  net::azure::Run r = *queued;
  run.line("queued run " + std::to_string(r.id) + " of pipeline " + std::to_string(p.pipeline_id) +
           ": " + r.url);
  const auto record = [&] {
    run.r.fields["run_id"] = std::to_string(r.id);
    run.r.fields["run_url"] = r.url;
    run.r.fields["run_state"] = r.state;
    run.r.fields["run_result"] = r.result;
  };
  record();
  if (!flag(c, "wait", false)) {
    return run.done();
  }
  auto waited = net::azure::wait_for_run(
      p, r.id, std::chrono::seconds(seconds(c, "poll_interval", 15)),
      std::chrono::seconds(seconds(c, "wait_timeout", 3600)), c.cancel, log);
  if (!waited) {
    return run.fail(waited.error().message);
  }
  r = *waited;
  record();
  run.line("run " + std::to_string(r.id) + " " + r.state + ": " + r.result);
  if (r.result != "succeeded") {
    return run.fail("pipeline run " + std::to_string(r.id) + " " +
                    (r.result.empty() ? r.state : r.result) + ": " + r.url);
  }
  return run.done();
}

// --- file

BuiltinResult run_file(const BuiltinContext& c) {
  Run run{c, {}, {}};
  files::Request request;
  const std::string action = text(c, "action");
  request.action = action == "move"      ? files::Action::move
                   : action == "delete"  ? files::Action::remove
                   : action == "archive" ? files::Action::archive
                                         : files::Action::copy;
  for (const auto& s : list(c, "source")) {
    request.sources.push_back(step_path(c, s));
  }
  if (const std::string d = text(c, "destination"); !d.empty()) {
    request.destination = step_path(c, d);
  }
  if (key(c, "older_than") != nullptr) {
    request.older_than = seconds(c, "older_than", 0);
  }
  request.recursive = flag(c, "recursive", false);
  request.dry_run = flag(c, "dry_run", false);
  request.overwrite = flag(c, "overwrite", false);
  request.remove_sources = flag(c, "remove_sources", false);
  request.allowed_paths = c.integrations.allowed_paths;
  auto outcome = files::run(request, c.cancel);
  if (!outcome) {
    return run.fail(outcome.error().message);
  }
  for (const auto& s : outcome->lines) {
    run.line(s);
  }
  run.r.fields["files"] = std::to_string(outcome->files);
  run.r.fields["bytes"] = std::to_string(outcome->bytes);
  run.r.fields["json"] = nlohmann::json(outcome->paths).dump();
  return run.done();
}

// --- email

BuiltinResult run_email(const BuiltinContext& c) {
  Run run{c, {}, {}};
  if (!c.integrations.smtp) {
    return run.fail("no smtp server in the daemon config: email steps need one");
  }
  const Smtp& smtp = *c.integrations.smtp;
  mail::Server server = smtp.server;
  const auto password = resolve(smtp.password, c.integrations.secrets);
  if (!password) {
    return run.fail("smtp: " + password.error().message);
  }
  server.password = *password;
  if (*password) {
    run.secret(**password);
  }
  mail::Message m;
  m.from = text(c, "from").empty() ? smtp.from : substitute(c, text(c, "from"));
  m.to = list(c, "to");
  m.cc = list(c, "cc");
  m.bcc = list(c, "bcc");
  m.subject = substitute(c, text(c, "subject"));
  m.body = substitute(c, text(c, "body"));
  if (flag(c, "html", false)) {
    m.content_type = "text/html; charset=utf-8";
  }
  if (auto failed = mail::send(server, m, c.cancel)) {
    return run.fail(failed->message);
  }
  std::string to;
  for (const auto& list_of : {&m.to, &m.cc, &m.bcc}) {
    for (const auto& a : *list_of) {
      to += (to.empty() ? "" : ", ") + a;
    }
  }
  run.line("sent \"" + m.subject + "\" to " + to);
  return run.done();
}

} // namespace

bool is_builtin(std::string_view type) {
  static constexpr std::array<std::string_view, 6> types = {"azure_devops", "email", "file",
                                                            "http",         "sql",   "webhook"};
  return std::find(types.begin(), types.end(), type) != types.end();
}

BuiltinResult run_builtin(const BuiltinContext& c) {
  const std::string& type = c.step.type;
  try {
    if (type == "sql") {
      return run_sql(c);
    }
    if (type == "http" || type == "webhook") {
      return run_http(c, type == "webhook");
    }
    if (type == "azure_devops") {
      return run_azure_devops(c);
    }
    if (type == "file") {
      return run_file(c);
    }
    if (type == "email") {
      return run_email(c);
    }
  } catch (const std::exception& e) {
    BuiltinResult r;
    r.status = Status::failed;
    r.error_message = std::string("internal error: ") + e.what();
    return r;
  }
  BuiltinResult r;
  r.status = Status::failed;
  r.error_message = "this release cannot run steps of type \"" + type + "\"";
  return r;
}

base::Result<std::optional<std::string>>
resolve(const Credential& c, const std::map<std::string, std::string>& secrets) {
  using Source = Credential::Source;
  switch (c.source) {
  case Source::none:
    return std::optional<std::string>();
  case Source::secret:
    if (const auto it = secrets.find(c.name); it != secrets.end()) {
      return std::optional<std::string>(it->second);
    }
    if (const char* v = std::getenv(c.name.c_str())) {
      return std::optional<std::string>(v);
    }
    return error("secret \"" + c.name +
                 "\" is not set (give it in the secrets file or the environment)");
  case Source::env:
    if (const char* v = std::getenv(c.name.c_str())) {
      return std::optional<std::string>(v);
    }
    return error("the environment variable " + c.name + " is not set");
  case Source::file: {
    std::ifstream in(c.name);
    std::string first;
    if (!in || !std::getline(in, first)) {
      return error("cannot read the password file " + c.name);
    }
    return std::optional<std::string>(first);
  }
  }
  return std::optional<std::string>();
}

const char* to_string(sql::Driver d) {
  switch (d) {
  case sql::Driver::sqlite:
    return "sqlite";
  case sql::Driver::postgresql:
    return "postgresql";
  case sql::Driver::odbc:
    return "odbc";
  }
  return "sqlite";
}

} // namespace engine
