#include <base/duration.hpp>
#include <base/size.hpp>
#include <engine/builtin.hpp>
#include <engine/builtin_internal.hpp>
#include <engine/executor.hpp>
#include <engine/templates.hpp>
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

using namespace builtin;

// --- sql

BuiltinResult run_sql(const BuiltinContext& c) {
  Run run{c, {}, {}};

  std::string script = text(c, "query");
  if (const std::string file = text(c, "file"); !file.empty()) {
    std::ifstream in(step_path(c, file));
    if (!in) {
      return run.fail("cannot read " + step_path(c, file));
    }
    std::ostringstream text; // a read error is a state, never a throw
    text << in.rdbuf();
    script = text.str();
  }
  // A variable in the SQL text becomes a bound parameter, never SQL.
  std::vector<sql::Param> params;
  script = bind_variables(c, script, params);
  for (auto& [k, v] : pairs(c, "params")) {
    params.push_back({k, v});
  }
  sql::Options options;
  options.fetch_results = flag(c, "fetch_results", true);
  options.max_rows =
      static_cast<std::size_t>(std::max<std::int64_t>(0, number(c, "max_rows", 1000)));
  options.transaction = flag(c, "transaction", false);
  options.cancel = c.cancel;

  auto connected = open_connection(run);
  if (!connected) {
    return run.fail(connected.error().message);
  }
  auto result = (*connected)->run(script, params, options);
  if (!result) {
    return run.fail(result.error().message);
  }
  run.lines(sql::format_table(*result));
  const nlohmann::json rows = rows_json(*result);
  run.r.fields["row_count"] = std::to_string(result->row_count);
  run.r.fields["affected"] = std::to_string(result->affected);
  run.r.fields["columns"] = json_text(nlohmann::json(result->columns));
  run.r.fields["rows"] = json_text(rows);
  run.r.fields["json"] = json_text(rows);
  return run.done();
}

// --- http and webhook

// The secrets the step's keys name (in values, and in query names), registered with `run` as
// they are and percent-encoded (as they appear in a URL that is logged).
void register_url_secrets(Run& run, const jobs::Node& n) {
  const auto in_text = [&](const std::string& text) {
    for (const auto& ref : jobs::find_variables(text)) {
      if (ref.name.starts_with("secret.")) {
        const std::string value = run.c.value(ref.name);
        run.secret(value);
        run.secret(net::percent_encode(value));
      }
    }
  };
  in_text(n.scalar);
  for (const auto& item : n.items) {
    register_url_secrets(run, item);
  }
  for (const auto& e : n.entries) {
    in_text(e.key);
    register_url_secrets(run, e.value);
  }
}

BuiltinResult run_http(const BuiltinContext& c, bool webhook) {
  Run run{c, {}, {}};
  register_url_secrets(run, c.step.keys);
  net::Request request;
  request.method = webhook ? "POST" : text(c, "method", "GET");
  request.url = url_with_variables(text(c, "url"), c.value);
  request.headers = pairs(c, "headers");
  request.query = pairs(c, "query");
  for (auto& [name, value] : request.query) {
    name = substitute(c, name); // percent-encoded in the URL, as the value is
  }
  if (const jobs::Node* json = key(c, "json")) {
    request.body = json_text(json_value(c, *json));
    request.headers.emplace_back("Content-Type", "application/json");
  } else if (webhook) {
    // The execution's fields as its record has them: no scheduled time is null.
    const std::string scheduled = c.value("execution.scheduled_time");
    request.body = json_text(nlohmann::json{
        {"job_id", c.job.id},
        {"job_name", c.job.name},
        {"execution_id", c.value("execution.id")},
        {"scheduled_time", scheduled.empty() ? nlohmann::json(nullptr) : nlohmann::json(scheduled)},
        {"trigger", c.value("execution.trigger")}});
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
  retry.max = static_cast<int>(number(c, "max_retries", 3));
  retry.delay = std::chrono::seconds(seconds(c, "retry_delay", 1));

  // Refused before it is logged: a line break in the URL would split the step's log line.
  if (auto bad = net::validate(request)) {
    return run.fail(bad->message);
  }
  run.line(request.method + " " + net::redact_url(request.url));
  const net::Exchange x =
      net::send(request, *expect, retry, c.cancel, [&](const std::string& s) { run.line(s); });
  if (x.response) {
    const net::Response& response = *x.response;
    run.line("HTTP " + std::to_string(response.status) + " " + response.reason + " (" +
             std::to_string(response.body.size()) + " bytes" +
             (response.truncated ? ", truncated" : "") + ")");
    run.r.fields["status_code"] = std::to_string(response.status);
    run.r.fields["body"] = response.body.substr(0, 65536);
    const auto parsed = nlohmann::json::parse(response.body, nullptr, false);
    run.r.fields["json"] = parsed.is_discarded() ? "" : json_text(parsed);
    const auto type = response.header("Content-Type");
    if (parsed.is_discarded() && type && type->find("json") != std::string::npos) {
      run.line("the body is not valid JSON" +
               std::string(response.truncated ? " (it was truncated at max_body)" : "") +
               ", though its Content-Type is " + *type + ": ${steps." + c.step.id +
               ".json} is empty");
    }
    auto headers = nlohmann::json::object();
    for (const auto& [k, v] : response.headers) {
      headers[k] = v;
    }
    run.r.fields["headers"] = json_text(headers);
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
  run.r.fields["json"] = json_text(nlohmann::json(outcome->paths));
  return run.done();
}

// --- email

BuiltinResult run_email(const BuiltinContext& c) {
  Run run{c, {}, {}};
  if (!c.integrations.smtp) {
    return run.fail("no smtp server in the daemon config: email steps need one");
  }
  const Smtp& smtp = *c.integrations.smtp;
  const auto server = smtp_server(smtp, c.integrations.secrets);
  if (!server) {
    return run.fail(server.error().message);
  }
  if (server->password) {
    run.secret(*server->password);
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
  if (auto failed = mail::send(*server, m, c.cancel)) {
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
  static constexpr std::array<std::string_view, 10> types = {
      "azure_devops", "backup", "data_export", "database_cleanup", "email", "file",
      "http",         "report", "sql",         "webhook"};
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
    if (type == "database_cleanup") {
      return run_database_cleanup(c);
    }
    if (type == "data_export") {
      return run_data_export(c);
    }
    if (type == "backup") {
      return run_backup(c);
    }
    if (type == "report") {
      return run_report(c);
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
    if (first.ends_with('\r')) { // written with CRLF line ends
      first.pop_back();
    }
    return std::optional<std::string>(first);
  }
  }
  return std::optional<std::string>();
}

std::string url_with_variables(std::string_view url,
                               const std::function<std::string(const std::string&)>& value) {
  const auto refs = jobs::find_variables(url);
  if (refs.size() == 1 && refs[0].begin == 0 && refs[0].end == url.size()) {
    return value(refs[0].name);
  }
  return jobs::substitute_variables(
      url, [&](const std::string& name) { return net::percent_encode(value(name)); });
}

base::Result<mail::Server> smtp_server(const Smtp& smtp,
                                       const std::map<std::string, std::string>& secrets) {
  const auto password = resolve(smtp.password, secrets);
  if (!password) {
    return error("smtp: " + password.error().message);
  }
  mail::Server server = smtp.server;
  server.password = *password;
  return server;
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
