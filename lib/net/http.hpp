#pragma once

// HTTP requests for the http step and the Azure DevOps client, over libcurl: one attempt
// (`perform`), or an exchange with retries and an expected status set (`send`). Only http and
// https, also on redirects; credentials never appear in errors or effective URLs; a cancel
// token ends a request or a wait between attempts at once.

#include <base/error.hpp>
#include <base/http_status.hpp>
#include <exec/process.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace net {

// The statuses that count as success; parse_status_set reads expect_status.
using base::parse_status_set;
using base::StatusSet;

// One HTTP request.
struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::pair<std::string, std::string>> query; // URL-encoded and appended
  std::string body;
  std::optional<std::string> bearer_token;
  std::optional<std::pair<std::string, std::string>> basic; // user, password
  std::chrono::milliseconds timeout{30000};
  std::chrono::milliseconds connect_timeout{10000};
  bool verify_tls = true;
  std::string ca_file;
  int max_redirects = 5;          // 0: redirects are not followed
  std::size_t max_body = 1 << 20; // response bytes kept
};

// What came back from the last hop of a request.
struct Response {
  long status = 0;
  std::string reason;                                       // "Not Found"
  std::vector<std::pair<std::string, std::string>> headers; // of the final response
  std::string body;                                         // at most max_body
  bool truncated = false;
  std::string url; // effective URL after redirects, without credentials

  // The first header of that name, compared case-insensitively; nullopt when absent.
  std::optional<std::string> header(std::string_view name) const;
};

// How `send` retries: at most `max` retries after the first attempt, waiting `delay`, then
// `delay * backoff`, ... at most `max_delay` each.
struct Retry {
  int max = 3;
  std::chrono::milliseconds delay{1000};
  double backoff = 2.0;
  std::chrono::milliseconds max_delay{60000};
};

// The outcome of send(): the last response (when one came), the error that makes it a failure,
// the attempts made.
struct Exchange {
  std::optional<Response> response;
  std::optional<base::Error> error;
  int attempts = 0;
  bool cancelled = false;
  bool timed_out = false;

  bool ok() const { return !error; }
};

// Refuses what would let a value smuggle extra headers or a second request: CR, LF or NUL in the
// method, the URL, a header's name or value ("url \"http://a/\\r\\nX\": a URL cannot contain a
// line break").
std::optional<base::Error> validate(const Request& request);

// One attempt. Transport failures (refused, DNS, TLS, timeout, reset, malformed response) are
// errors with curl's message and the URL (never credentials). Header names/values, the method
// and the URL containing CR, LF or NUL are refused before anything is sent ("header \"X-A\": a
// value cannot contain a line break"). Any status is a Response, not an error.
base::Result<Response> perform(const Request& request, exec::CancelToken* cancel);

// With retries on transport errors, 429 (waits Retry-After: seconds or an HTTP date, at most
// max_delay) and 5xx not in `expect`, backoff between; a final status not in `expect` is an
// error "HTTP 404 Not Found from http://.../x (expected 2xx)". `log` (may be empty) receives one
// line per attempt and per retry ("HTTP 503 from ...; retry 1 of 3 in 1s"). Waits end early on
// cancel.
Exchange send(const Request& request, const StatusSet& expect, const Retry& retry,
              exec::CancelToken* cancel, const std::function<void(const std::string&)>& log);

// `url` without the user and password of its authority, for messages.
std::string redact_url(std::string_view url);

// Percent-encodes all but the unreserved characters of RFC 3986 (letters, digits, - . _ ~): a
// value inside a URL stays one path segment or query value.
std::string percent_encode(std::string_view s);

// A duration for messages: "1s", "1.5s", "250ms", "2m", "1h30m".
std::string format_wait(std::chrono::milliseconds d);

} // namespace net
