#pragma once

// The HTTP API's routes (man/jobsd.8, HTTP API): each names one command of the control socket's
// table and says how its arguments are built from the path, the query and the body. The table
// also gives the OpenAPI 3.1 document and maps the commands' error codes to problem+json.

#include <base/error.hpp>
#include <ipc/protocol.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobsd::api {

// How the command's answer becomes the response.
enum class Answer {
  json,     // the result as application/json
  health,   // the same, with 503 when "ok" is false
  metrics,  // the result's "text" as the Prometheus text format
  log,      // text/plain lines, or Server-Sent Events with Accept: text/event-stream
  document, // the OpenAPI document itself (no command)
};

// The type of a query parameter or body field, and how it becomes an argument.
enum class Kind { string, integer, boolean, time /* ISO 8601 -> UTC milliseconds */ };

struct Field {
  const char* name; // in the query or body
  const char* arg;  // in the command's args
  Kind kind;
  const char* description;
};

struct Route {
  const char* method;  // GET reads, POST mutates
  const char* pattern; // "/api/v2/jobs/{id}/trigger": {id} is one path segment
  const char* command; // of the command table; empty: none
  const char* id_arg;  // the argument {id} fills; empty: no {id}
  std::vector<Field> query;
  std::vector<Field> body; // fields of a JSON object body
  const char* fixed;       // JSON object merged into the args ("{}": nothing)
  bool text_body;          // the body is the text argument itself (validate)
  Answer answer;
  const char* summary;
  const char* result; // JSON Schema of the 200 body
};

const std::vector<Route>& routes();

// The route of `method` and `path` (percent-decoded, no query). None: `allow` lists the methods
// the path has (405), or is empty (404).
struct Match {
  const Route* route = nullptr;
  std::string id;
  std::vector<std::string> allow;
};
Match match(std::string_view method, std::string_view path);

// The command's args from the path's id, the query and the body (a JSON object or null). The
// error's message says which parameter is wrong and why (422).
base::Result<ipc::Json> build_args(const Route& route, const std::string& id,
                                   const std::map<std::string, std::string>& query,
                                   const ipc::Json& body);

// The HTTP status of a command's error code (unknown_command: 404).
int status_of(std::string_view code);

// An RFC 9457 problem: {"type","title","status","detail","code"}.
ipc::Json problem(int status, std::string_view code, std::string_view detail);

// The OpenAPI 3.1 document of routes().
ipc::Json openapi(const std::string& version);

} // namespace jobsd::api
