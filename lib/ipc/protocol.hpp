#pragma once

// The control protocol of jobsd (man/jobsd.8, PROTOCOL): a Unix stream socket carrying one
// compact JSON message per line. The daemon speaks first with a hello; then each request
//   {"v":1,"id":7,"cmd":"trigger","args":{"job":"backup"}}
// gets exactly one reply, {"id":7,"result":...} or {"id":7,"error":{"code":...,"message":...}},
// after, for the commands that stream (logs and trigger with follow), any number of events
// {"id":7,"event":...}.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace ipc {

using Json = nlohmann::ordered_json;

inline constexpr int protocol_version = 1;

// A request line longer than this is refused (requests are small; replies are not bounded so).
inline constexpr size_t max_request_bytes = 64 * 1024;

// The codes of error replies.
namespace code {
inline constexpr const char* bad_request = "bad_request"; // not JSON, or not a request
inline constexpr const char* too_large = "too_large";     // over max_request_bytes
inline constexpr const char* unknown_command = "unknown_command";
inline constexpr const char* denied = "denied";       // the peer may not do this
inline constexpr const char* not_found = "not_found"; // no such job or execution
inline constexpr const char* invalid = "invalid";     // bad arguments, or a job file that fails
inline constexpr const char* conflict = "conflict";   // e.g. cancelling what has ended
inline constexpr const char* internal = "internal";   // a bug in the daemon
} // namespace code

struct Request {
  std::int64_t id = 0;
  std::string cmd;
  Json args = Json::object();
};

// One request line (without its '\n'), decoded: the request, or the error reply to send.
struct Decoded {
  std::optional<Request> request;
  Json error_reply;
};
Decoded decode_request(std::string_view line);

// The messages, as JSON values.
Json reply(std::int64_t id, Json result);
Json error_reply(std::optional<std::int64_t> id, std::string_view code, std::string_view message);
Json event(std::int64_t id, Json body);

// `message` as one line: compact JSON and '\n'. Invalid UTF-8 in strings is replaced.
std::string encode(const Json& message);

} // namespace ipc
