// The route table of the HTTP API (the contract of issue 19): one row per route, each naming
// one command of the socket's table; nothing here runs a command.
#include <jobsd/api.hpp>
#include <tz/format.hpp>
#include <tz/zone.hpp>

#include <algorithm>
#include <charconv>

namespace jobsd::api {

namespace {

using Json = ipc::Json;

constexpr const char* object_schema = R"({"type":"object"})";
constexpr const char* paged_jobs = R"({"type":"object","required":["jobs"],"properties":{
  "jobs_dir":{"type":"string"},"jobs":{"type":"array","items":{"type":"object"}},
  "files_with_errors":{"type":"integer"},"total":{"type":"integer"},
  "next_cursor":{"type":["string","null"]}}})";
constexpr const char* paged_executions = R"({"type":"object","required":["executions"],
  "properties":{"executions":{"type":"array","items":{"type":"object"}},
  "next_cursor":{"type":["string","null"]}}})";
constexpr const char* paged_audit = R"({"type":"object","required":["entries"],
  "properties":{"entries":{"type":"array","items":{"type":"object"}},
  "next_cursor":{"type":["string","null"]}}})";
constexpr const char* text_schema = R"({"type":"string"})";

const Field limit{"limit", "limit", Kind::integer, "page size (default 50, at most 500)"};
const Field cursor{"cursor", "cursor", Kind::string, "next_cursor of the previous page"};

// A job id or execution id in a path: what the loader and the store make, nothing that could
// mean another path.
bool valid_id(std::string_view s) {
  return !s.empty() && s.size() <= 255 && s != "." && s != ".." &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
                  c == ':' || c == '@';
         });
}

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t slash = std::min(path.find('/', start), path.size());
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

// Whether `path` fits `pattern`; its {id}, if any, into `id`.
bool fits(std::string_view pattern, std::string_view path, std::string& id) {
  const auto want = segments(pattern);
  const auto have = segments(path);
  if (want.size() != have.size()) {
    return false;
  }
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] == "{id}") {
      if (!valid_id(have[i])) {
        return false;
      }
      id = have[i];
    } else if (want[i] != have[i]) {
      return false;
    }
  }
  return true;
}

base::Error wrong(const std::string& message) {
  base::Error e;
  e.message = message;
  return e;
}

base::Result<Json> convert(const Field& f, const std::string& text) {
  switch (f.kind) {
  case Kind::string:
    return Json(text);
  case Kind::integer: {
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return wrong(std::string("\"") + f.name + "\" must be an integer, not \"" + text + "\"");
    }
    return Json(n);
  }
  case Kind::boolean:
    if (text != "true" && text != "false") {
      return wrong(std::string("\"") + f.name + "\" must be true or false, not \"" + text + "\"");
    }
    return Json(text == "true");
  case Kind::time: {
    auto t = tz::parse_time(text, tz::utc());
    if (!t) {
      return wrong(std::string("\"") + f.name + "\": " + t.error().message);
    }
    return Json(*t * 1000);
  }
  }
  return Json(text);
}

Json field_schema(Kind kind) {
  switch (kind) {
  case Kind::integer:
    return {{"type", "integer"}};
  case Kind::boolean:
    return {{"type", "boolean"}};
  case Kind::time:
    return {{"type", "string"}, {"format", "date-time"}};
  case Kind::string:
    break;
  }
  return {{"type", "string"}};
}

// "get_api_v2_jobs_id_trigger": unique per route.
std::string operation_id(const Route& r) {
  std::string out = r.method;
  std::transform(out.begin(), out.end(), out.begin(), [](char c) { return std::tolower(c); });
  for (char c : std::string_view(r.pattern)) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += c;
    } else if (out.back() != '_') {
      out += '_';
    }
  }
  while (out.back() == '_') {
    out.pop_back();
  }
  return out;
}

} // namespace

const std::vector<Route>& routes() {
  static const std::vector<Route> table = {
      {"GET",
       "/api/v2/jobs",
       "list",
       "",
       {{"match", "match", Kind::string, "glob of job ids"},
        {"status", "status", Kind::string, "last status, or paused, running, never"},
        {"enabled", "enabled", Kind::boolean, "enabled or disabled jobs only"},
        limit,
        cursor},
       {},
       "{}",
       false,
       Answer::json,
       "List the jobs, a page at a time",
       paged_jobs},
      {"GET",
       "/api/v2/jobs/{id}",
       "show",
       "job",
       {{"fires", "fires", Kind::integer, "next fires shown (default 5, at most 50)"}},
       {},
       "{}",
       false,
       Answer::json,
       "One job: its definition, next fires and last execution",
       object_schema},
      {"POST",
       "/api/v2/jobs/{id}/trigger",
       "trigger",
       "job",
       {},
       {{"replace", "replace", Kind::boolean,
         "cancel the job's queued and running executions first"}},
       "{}",
       false,
       Answer::json,
       "Run a job now",
       object_schema},
      {"POST",
       "/api/v2/jobs/{id}/enable",
       "enable",
       "job",
       {},
       {},
       "{}",
       false,
       Answer::json,
       "Set enabled: true in a job's file",
       object_schema},
      {"POST",
       "/api/v2/jobs/{id}/disable",
       "disable",
       "job",
       {},
       {},
       "{}",
       false,
       Answer::json,
       "Set enabled: false in a job's file",
       object_schema},
      {"POST",
       "/api/v2/jobs/{id}/pause",
       "pause",
       "job",
       {},
       {{"until", "until", Kind::string, "when the pause ends by itself"},
        {"reason", "reason", Kind::string, "why, shown in list and status"}},
       "{}",
       false,
       Answer::json,
       "Skip a job's fires until resumed",
       object_schema},
      {"POST",
       "/api/v2/jobs/{id}/schedule",
       "schedule",
       "job",
       {},
       {{"at", "at", Kind::string,
         "when: an ISO 8601 time, a clock time or \"in 2h\" (as jobsctl schedule --at)"}},
       "{}",
       false,
       Answer::json,
       "Run a job once at a given time",
       object_schema},
      {"POST",
       "/api/v2/reload",
       "reload",
       "",
       {},
       {},
       "{}",
       false,
       Answer::json,
       "Re-read the jobs folder now (admins)",
       object_schema},
      {"POST",
       "/api/v2/jobs/{id}/resume",
       "resume",
       "job",
       {},
       {},
       "{}",
       false,
       Answer::json,
       "End a job's pause",
       object_schema},
      {"GET",
       "/api/v2/executions",
       "history",
       "",
       {{"job", "job", Kind::string, "one job's executions"},
        {"status", "status", Kind::string, "one status"},
        {"since", "since_ms", Kind::time, "started at or after (ISO 8601)"},
        {"until", "until_ms", Kind::time, "started before (ISO 8601)"},
        limit,
        cursor},
       {},
       R"({"page":true})",
       false,
       Answer::json,
       "Past executions, newest first, a page at a time",
       paged_executions},
      {"GET",
       "/api/v2/executions/{id}",
       "execution",
       "execution",
       {},
       {},
       "{}",
       false,
       Answer::json,
       "One execution with its steps",
       object_schema},
      {"GET",
       "/api/v2/executions/{id}/log",
       "logs",
       "target",
       {},
       {},
       "{}",
       false,
       Answer::log,
       "An execution's log: text, or live as Server-Sent Events (Accept: text/event-stream)",
       text_schema},
      {"POST",
       "/api/v2/executions/{id}/cancel",
       "cancel",
       "execution",
       {},
       {},
       "{}",
       false,
       Answer::json,
       "Cancel a queued or running execution",
       object_schema},
      {"GET",
       "/api/v2/queues",
       "queues",
       "",
       {},
       {},
       "{}",
       false,
       Answer::json,
       "The time-zone queues: depth, running and limit",
       object_schema},
      {"POST",
       "/api/v2/validate",
       "validate",
       "",
       {{"name", "name", Kind::string, "the file name the findings give"}},
       {},
       "{}",
       true,
       Answer::json,
       "Check a job file's text (JSON or YAML); its findings",
       object_schema},
      {"GET",
       "/api/v2/types",
       "types",
       "",
       {},
       {},
       "{}",
       false,
       Answer::json,
       "The step types and their JSON Schemas",
       object_schema},
      {"GET",
       "/api/v2/health",
       "health",
       "",
       {},
       {},
       "{}",
       false,
       Answer::health,
       "Whether jobsd and the jobs are well (503 when not), and why",
       object_schema},
      {"GET",
       "/api/v2/version",
       "version",
       "",
       {},
       {},
       "{}",
       false,
       Answer::json,
       "The daemon's and the protocol's versions",
       object_schema},
      {"GET",
       "/api/v2/audit",
       "audit",
       "",
       {limit,
        cursor,
        {"user", "user", Kind::string, "one user's entries"},
        {"job", "job", Kind::string, "one job's entries"}},
       {},
       "{}",
       false,
       Answer::json,
       "Who did what (admins)",
       paged_audit},
      {"GET",
       "/api/v2/schedule",
       "preview",
       "",
       {{"expr", "expr", Kind::string, "a cron expression"},
        {"tz", "timezone", Kind::string, "a time zone"},
        {"count", "count", Kind::integer, "fires shown (default 10, at most 100)"}},
       {},
       "{}",
       false,
       Answer::json,
       "The next fires of a schedule, with DST notes",
       object_schema},
      {"GET",
       "/api/v2/whoami",
       "hello",
       "",
       {},
       {},
       "{}",
       false,
       Answer::json,
       "The daemon's greeting and the token's name, role and jobs",
       object_schema},
      {"GET",
       "/api/v2/openapi.json",
       "",
       "",
       {},
       {},
       "{}",
       false,
       Answer::document,
       "This document",
       object_schema},
      {"GET",
       "/metrics",
       "metrics",
       "",
       {},
       {},
       "{}",
       false,
       Answer::metrics,
       "Prometheus metrics (text format 0.0.4)",
       text_schema},
  };
  return table;
}

Match match(std::string_view method, std::string_view path) {
  Match m;
  for (const auto& r : routes()) {
    std::string id;
    if (!fits(r.pattern, path, id)) {
      continue;
    }
    if (method == r.method) {
      m.route = &r;
      m.id = id;
      return m;
    }
    m.allow.emplace_back(r.method);
  }
  return m;
}

base::Result<Json> build_args(const Route& route, const std::string& id,
                              const std::map<std::string, std::string>& query, const Json& body) {
  Json args = Json::parse(route.fixed);
  if (*route.id_arg != '\0') {
    args[route.id_arg] = id;
  }
  for (const auto& f : route.query) {
    if (const auto it = query.find(f.name); it != query.end()) {
      auto value = convert(f, it->second);
      if (!value) {
        return value.error();
      }
      args[f.arg] = std::move(*value);
    }
  }
  if (body.is_null()) {
    return args;
  }
  if (!body.is_object()) {
    return wrong("the body must be a JSON object");
  }
  for (const auto& item : body.items()) {
    const std::string& key = item.key();
    const Json& value = item.value();
    const auto f = std::find_if(route.body.begin(), route.body.end(),
                                [&](const Field& b) { return key == b.name; });
    if (f == route.body.end()) {
      return wrong("unknown field \"" + key + "\" in the body");
    }
    const bool fits_kind = f->kind == Kind::boolean   ? value.is_boolean()
                           : f->kind == Kind::integer ? value.is_number_integer()
                                                      : value.is_string();
    if (!fits_kind) {
      return wrong("\"" + key + "\" must be " +
                   (f->kind == Kind::boolean   ? "true or false"
                    : f->kind == Kind::integer ? "an integer"
                                               : "a string"));
    }
    args[f->arg] = value;
  }
  return args;
}

int status_of(std::string_view code) {
  static const std::map<std::string_view, int> statuses = {
      {ipc::code::bad_request, 400},     {ipc::code::invalid, 422},  {ipc::code::denied, 403},
      {ipc::code::not_found, 404},       {ipc::code::conflict, 409}, {ipc::code::too_large, 413},
      {ipc::code::unknown_command, 404}, {ipc::code::internal, 500}};
  const auto it = statuses.find(code);
  return it == statuses.end() ? 500 : it->second;
}

Json problem(int status, std::string_view code, std::string_view detail) {
  return {{"type", "https://jobs.invalid/problems/" + std::string(code)},
          {"title", code},
          {"status", status},
          {"detail", detail},
          {"code", code}};
}

Json openapi(const std::string& version) {
  const Json problem_ref = {{"$ref", "#/components/schemas/Problem"}};
  const Json problem_response = {
      {"description", "an error (RFC 9457)"},
      {"content", {{"application/problem+json", {{"schema", problem_ref}}}}}};
  Json paths = Json::object();
  for (const auto& r : routes()) {
    Json op = {{"operationId", operation_id(r)}, {"summary", r.summary}};
    Json parameters = Json::array();
    if (*r.id_arg != '\0') {
      parameters.push_back(
          {{"name", "id"}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}});
    }
    for (const auto& f : r.query) {
      parameters.push_back({{"name", f.name},
                            {"in", "query"},
                            {"description", f.description},
                            {"schema", field_schema(f.kind)}});
    }
    if (!parameters.empty()) {
      op["parameters"] = parameters;
    }
    if (r.text_body) {
      op["requestBody"] = {{"required", true},
                           {"content",
                            {{"application/json", {{"schema", {{"type", "object"}}}}},
                             {"application/yaml", {{"schema", {{"type", "string"}}}}},
                             {"text/yaml", {{"schema", {{"type", "string"}}}}}}}};
    } else if (!r.body.empty()) {
      Json properties = Json::object();
      for (const auto& f : r.body) {
        properties[f.name] = field_schema(f.kind);
        properties[f.name]["description"] = f.description;
      }
      op["requestBody"] = {{"required", false},
                           {"content",
                            {{"application/json",
                              {{"schema",
                                {{"type", "object"},
                                 {"properties", properties},
                                 {"additionalProperties", false}}}}}}}};
    }
    const Json schema = Json::parse(r.result);
    Json content;
    switch (r.answer) {
    case Answer::log:
      content = {{"text/plain", {{"schema", schema}}}, {"text/event-stream", {{"schema", schema}}}};
      break;
    case Answer::metrics:
      content = {{"text/plain", {{"schema", schema}}}};
      break;
    default:
      content = {{"application/json", {{"schema", schema}}}};
    }
    op["responses"] = {{"200", {{"description", r.summary}, {"content", content}}},
                       {"default", problem_response}};
    if (r.answer == Answer::health) {
      op["responses"]["503"] = {{"description", "not well: the reasons"}, {"content", content}};
    }
    if (r.answer == Answer::metrics) { // a token only with metrics_auth: true
      op["security"] = Json::array({Json::object(), {{"bearer", Json::array()}}});
    }
    std::string method = r.method;
    std::transform(method.begin(), method.end(), method.begin(),
                   [](char c) { return std::tolower(c); });
    paths[r.pattern][method] = op;
  }
  return {
      {"openapi", "3.1.0"},
      {"info",
       {{"title", "jobsd HTTP API"},
        {"version", version},
        {"description", "Each route runs one command of jobsd's control socket; see jobsd(8)."}}},
      {"paths", paths},
      {"security", Json::array({{{"bearer", Json::array()}}})},
      {"components",
       {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}},
        {"schemas",
         {{"Problem",
           {{"type", "object"},
            {"required", {"type", "title", "status", "detail", "code"}},
            {"properties",
             {{"type", {{"type", "string"}}},
              {"title", {{"type", "string"}}},
              {"status", {{"type", "integer"}}},
              {"detail", {{"type", "string"}}},
              {"code", {{"type", "string"}}}}}}}}}}}};
}

} // namespace jobsd::api
