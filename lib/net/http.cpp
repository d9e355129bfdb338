#include <base/duration.hpp>
#include <base/text.hpp>
#include <net/http.hpp>
#include <net/http_internal.hpp>

#include <curl/curl.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <ctime>
#include <memory>
#include <mutex>
#include <thread>

namespace net {

using base::all_digits;
using base::parse_status_code;
using base::quoted;
using base::trim;

namespace {

void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    auto x = static_cast<unsigned char>(a[i]);
    auto y = static_cast<unsigned char>(b[i]);
    if (std::tolower(x) != std::tolower(y)) {
      return false;
    }
  }
  return true;
}

// The reason phrase when the status line has none (HTTP/2 sends none).
std::string standard_reason(long status) {
  switch (status) {
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 202:
    return "Accepted";
  case 203:
    return "Non-Authoritative Information";
  case 204:
    return "No Content";
  case 301:
    return "Moved Permanently";
  case 302:
    return "Found";
  case 303:
    return "See Other";
  case 304:
    return "Not Modified";
  case 307:
    return "Temporary Redirect";
  case 308:
    return "Permanent Redirect";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 409:
    return "Conflict";
  case 410:
    return "Gone";
  case 413:
    return "Payload Too Large";
  case 422:
    return "Unprocessable Entity";
  case 429:
    return "Too Many Requests";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  default:
    return "";
  }
}

// What makes `s` unfit for a request line or header: "a line break", "a NUL byte", or empty.
std::string forbidden_in(std::string_view s) {
  if (s.find_first_of("\r\n") != std::string_view::npos) {
    return "a line break";
  }
  if (s.find('\0') != std::string_view::npos) {
    return "a NUL byte";
  }
  return "";
}

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_token_char);
}

base::Error error(std::string message) {
  return base::Error{std::move(message), {}, {}, 1};
}

std::string base64(std::string_view in) {
  static constexpr char table[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    auto n = (static_cast<unsigned char>(in[i]) << 16) |
             (static_cast<unsigned char>(in[i + 1]) << 8) | static_cast<unsigned char>(in[i + 2]);
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += table[(n >> 6) & 63];
    out += table[n & 63];
  }
  if (i + 1 == in.size()) {
    auto n = static_cast<unsigned char>(in[i]) << 16;
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    auto n =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += table[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

// The URL with the query parameters appended before any fragment.
std::string full_url(const Request& request) {
  if (request.query.empty()) {
    return request.url;
  }
  auto hash = request.url.find('#');
  std::string base = request.url.substr(0, hash);
  std::string fragment = hash == std::string::npos ? "" : request.url.substr(hash);
  std::string joiner;
  if (base.find('?') == std::string::npos) {
    joiner = "?";
  } else if (base.back() != '?' && base.back() != '&') {
    joiner = "&";
  }
  for (const auto& [name, value] : request.query) {
    base += joiner + percent_encode(name) + "=" + percent_encode(value);
    joiner = "&";
  }
  return base + fragment;
}

} // namespace

std::optional<base::Error> validate(const Request& request) {
  if (auto bad = forbidden_in(request.method); !bad.empty()) {
    return error("method " + quoted(request.method) + ": a method cannot contain " + bad);
  }
  if (!is_token(request.method)) {
    return error("method " + quoted(request.method) + " is not a method like GET or POST");
  }
  if (request.url.empty()) {
    return error("url: the URL is empty");
  }
  if (auto bad = forbidden_in(request.url); !bad.empty()) {
    return error("url " + quoted(redact_url(request.url)) + ": a URL cannot contain " + bad);
  }
  for (const auto& [name, value] : request.headers) {
    if (auto bad = forbidden_in(name); !bad.empty()) {
      return error("header " + quoted(name) + ": a name cannot contain " + bad);
    }
    if (!is_token(name)) {
      return error("header " + quoted(name) + ": a name must be a token like X-Request-Id");
    }
    if (auto bad = forbidden_in(value); !bad.empty()) {
      return error("header " + quoted(name) + ": a value cannot contain " + bad);
    }
  }
  if (request.bearer_token) {
    if (auto bad = forbidden_in(*request.bearer_token); !bad.empty()) {
      return error("bearer token: a token cannot contain " + bad);
    }
  }
  if (request.basic && request.basic->first.find(':') != std::string::npos) {
    return error("basic auth: a user name cannot contain ':'");
  }
  return std::nullopt;
}

namespace {

// One transfer's state, for the callbacks.
struct Transfer {
  const Request* request = nullptr;
  exec::CancelToken* cancel = nullptr;
  Response response;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  size_t room = t->request->max_body - std::min(t->request->max_body, t->response.body.size());
  if (n > room) {
    // Stops the transfer: the rest would be thrown away anyway.
    t->response.body.append(data, room);
    t->response.truncated = true;
    return 0;
  }
  t->response.body.append(data, n);
  return n;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  std::string_view line(data, n);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) {
    line.remove_suffix(1);
  }
  if (line.starts_with("HTTP/")) {
    // A new response: a redirect hop or an interim 1xx came before.
    t->response.headers.clear();
    t->response.reason.clear();
    auto sp = line.find(' ');
    if (sp != std::string_view::npos) {
      auto rest = line.substr(sp + 1);
      auto sp2 = rest.find(' ');
      if (auto code = parse_status_code(rest.substr(0, sp2))) {
        t->response.status = *code;
      }
      if (sp2 != std::string_view::npos) {
        t->response.reason = std::string(trim(rest.substr(sp2 + 1)));
      }
    }
  } else if (line.empty()) {
    return n;
  } else if ((line.front() == ' ' || line.front() == '\t') && !t->response.headers.empty()) {
    t->response.headers.back().second += " " + std::string(trim(line));
  } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
    t->response.headers.emplace_back(std::string(trim(line.substr(0, colon))),
                                     std::string(trim(line.substr(colon + 1))));
  }
  return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  return t->cancel != nullptr && t->cancel->cancelled() ? 1 : 0;
}

// One attempt's outcome, with what send() needs to decide on a retry.
struct Attempt {
  std::optional<Response> response;
  std::optional<base::Error> error;
  bool cancelled = false;
  bool timed_out = false;
  bool retryable = false;
};

bool retryable(CURLcode code) {
  switch (code) {
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
  case CURLE_NOT_BUILT_IN:
  case CURLE_TOO_MANY_REDIRECTS:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_LOGIN_DENIED:
  case CURLE_ABORTED_BY_CALLBACK:
  case CURLE_BAD_FUNCTION_ARGUMENT:
  case CURLE_OUT_OF_MEMORY:
  case CURLE_FILESIZE_EXCEEDED:
    return false;
  default:
    return true;
  }
}

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct MultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct ListDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

Attempt attempt(const Request& request, exec::CancelToken* cancel) {
  Attempt out;
  std::string url = full_url(request);
  std::string where = request.method + " " + redact_url(url);
  if (auto bad = validate(request)) {
    out.error = std::move(bad);
    return out;
  }
  if (cancel != nullptr && cancel->cancelled()) {
    out.cancelled = true;
    out.error = error(where + ": cancelled");
    return out;
  }
  init_curl();
  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  std::unique_ptr<CURLM, MultiDeleter> multi(curl_multi_init());
  if (!easy || !multi) {
    out.error = error(where + ": could not set up libcurl");
    return out;
  }
  CURL* h = easy.get();
  Transfer transfer;
  transfer.request = &request;
  transfer.cancel = cancel;
  char errbuf[CURL_ERROR_SIZE] = {};

  curl_slist* raw_headers = nullptr;
  auto add_header = [&](const std::string& name, const std::string& value) {
    // "Name;" is how curl sends a header with an empty value.
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    raw_headers = curl_slist_append(raw_headers, line.c_str());
  };
  bool has_expect = false;
  for (const auto& [name, value] : request.headers) {
    add_header(name, value);
    has_expect = has_expect || iequals(name, "Expect");
  }
  if (!has_expect) {
    // Without it curl waits for a 100 Continue before larger bodies.
    raw_headers = curl_slist_append(raw_headers, "Expect:");
  }
  if (request.bearer_token) {
    add_header("Authorization", "Bearer " + *request.bearer_token);
  } else if (request.basic) {
    // Built here rather than with CURLOPT_USERNAME, which sends nothing for an empty user
    // (Azure DevOps wants exactly that: an empty user and the token as password).
    add_header("Authorization",
               "Basic " + base64(request.basic->first + ":" + request.basic->second));
  }
  std::unique_ptr<curl_slist, ListDeleter> headers(raw_headers);

  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "jobs");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, request.max_redirects > 0 ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, static_cast<long>(std::max(request.max_redirects, 0)));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, request.verify_tls ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, request.verify_tls ? 2L : 0L);
  if (!request.ca_file.empty()) {
    curl_easy_setopt(h, CURLOPT_CAINFO, request.ca_file.c_str());
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &transfer);

  if (request.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (request.method == "GET" && request.body.empty()) {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else {
    if (request.method != "POST") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    if (request.method == "POST" || !request.body.empty()) {
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.c_str());
    }
  }

  // Driven through a multi handle so that a cancel wakes the wait at once: the token's fd is
  // polled with curl's sockets.
  curl_multi_add_handle(multi.get(), h);
  CURLcode code = CURLE_OK;
  bool done = false;
  while (!done) {
    int running = 0;
    CURLMcode mc = curl_multi_perform(multi.get(), &running);
    if (mc != CURLM_OK) {
      out.error = error(where + ": " + curl_multi_strerror(mc));
      curl_multi_remove_handle(multi.get(), h);
      return out;
    }
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi.get(), &left)) {
      if (msg->msg == CURLMSG_DONE) {
        code = msg->data.result;
        done = true;
      }
    }
    if (done) {
      break;
    }
    if (cancel != nullptr && cancel->cancelled()) {
      code = CURLE_ABORTED_BY_CALLBACK;
      break;
    }
    curl_waitfd extra{};
    extra.fd = cancel != nullptr ? cancel->fd() : -1;
    extra.events = CURL_WAIT_POLLIN;
    curl_multi_poll(multi.get(), cancel != nullptr ? &extra : nullptr, cancel != nullptr ? 1 : 0,
                    1000, nullptr);
  }
  curl_multi_remove_handle(multi.get(), h);

  if (code == CURLE_WRITE_ERROR && transfer.response.truncated) {
    code = CURLE_OK; // stopped on purpose at max_body
  }
  if (code != CURLE_OK) {
    if (code == CURLE_ABORTED_BY_CALLBACK && cancel != nullptr && cancel->cancelled()) {
      out.cancelled = true;
      out.error = error(where + ": cancelled");
      return out;
    }
    std::string detail = errbuf[0] != '\0' ? std::string(trim(errbuf)) : curl_easy_strerror(code);
    if (code == CURLE_TOO_MANY_REDIRECTS) {
      detail = "more than " + std::to_string(request.max_redirects) + " redirects (max_redirects " +
               std::to_string(request.max_redirects) + ")";
    }
    out.timed_out = code == CURLE_OPERATION_TIMEDOUT;
    out.retryable = retryable(code);
    out.error = error(where + ": " + detail);
    return out;
  }

  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  transfer.response.status = status;
  if (transfer.response.reason.empty()) {
    transfer.response.reason = standard_reason(status);
  }
  char* effective = nullptr;
  curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &effective);
  transfer.response.url = redact_url(effective != nullptr ? effective : url);
  out.response = std::move(transfer.response);
  return out;
}

std::chrono::milliseconds backoff_delay(const Retry& retry, int retry_number) {
  double ms = static_cast<double>(retry.delay.count()) *
              std::pow(std::max(retry.backoff, 1.0), retry_number - 1);
  double cap = static_cast<double>(retry.max_delay.count());
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(ms, cap)));
}

// Retry-After: delay-seconds or an HTTP date.
std::optional<std::chrono::milliseconds> retry_after(const Response& response) {
  auto value = response.header("Retry-After");
  if (!value) {
    return std::nullopt;
  }
  std::string_view v = trim(*value);
  if (all_digits(v)) {
    if (v.size() > 9) {
      return std::chrono::milliseconds::max();
    }
    return std::chrono::seconds(std::stoll(std::string(v)));
  }
  std::string text(v);
  time_t when = curl_getdate(text.c_str(), nullptr);
  if (when == -1) {
    return std::nullopt;
  }
  auto delta = std::chrono::system_clock::from_time_t(when) - std::chrono::system_clock::now();
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(delta));
}

std::string status_text(const Response& r) {
  return r.reason.empty() ? std::to_string(r.status) : std::to_string(r.status) + " " + r.reason;
}

} // namespace

std::optional<std::string> Response::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) {
      return v;
    }
  }
  return std::nullopt;
}

std::string redact_url(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) {
    return std::string(url);
  }
  auto start = scheme + 3;
  auto end = url.find_first_of("/?#", start);
  auto authority = url.substr(start, end == std::string_view::npos ? url.npos : end - start);
  auto at = authority.rfind('@');
  if (at == std::string_view::npos) {
    return std::string(url);
  }
  return std::string(url.substr(0, start)) + std::string(url.substr(start + at + 1));
}

std::string format_wait(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms < 1000) {
    return std::to_string(ms) + "ms";
  }
  if (ms % 1000 != 0 && ms < 60000) {
    auto tenths = (ms + 50) / 100;
    if (tenths % 10 == 0) {
      return std::to_string(tenths / 10) + "s";
    }
    return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + "s";
  }
  return base::format_duration((ms + 500) / 1000);
}

base::Result<Response> perform(const Request& request, exec::CancelToken* cancel) {
  auto a = attempt(request, cancel);
  if (a.error) {
    return std::move(*a.error);
  }
  return std::move(*a.response);
}

Exchange send(const Request& request, const StatusSet& expect, const Retry& retry,
              exec::CancelToken* cancel, const std::function<void(const std::string&)>& log) {
  return detail::send(request, expect, retry, cancel, log, log);
}

std::string percent_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

namespace detail {

bool wait_or_cancel(std::chrono::milliseconds d, exec::CancelToken* cancel) {
  auto deadline = std::chrono::steady_clock::now() + d;
  if (cancel == nullptr) {
    std::this_thread::sleep_until(deadline);
    return true;
  }
  while (!cancel->cancelled()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return true;
    }
    pollfd p{cancel->fd(), POLLIN, 0};
    // Rounded up so that the wait never ends before the deadline.
    int timeout = static_cast<int>(std::min<std::int64_t>(left.count() + 1, 1 << 30));
    if (poll(&p, 1, timeout) < 0 && errno != EINTR) {
      std::this_thread::sleep_until(deadline);
      return !cancel->cancelled();
    }
  }
  return false;
}

Exchange send(const Request& request, const StatusSet& expect, const Retry& retry,
              exec::CancelToken* cancel, const LogSink& attempt_log, const LogSink& retry_log) {
  Exchange ex;
  const std::string where = request.method + " " + redact_url(full_url(request));
  for (int n = 1;; ++n) {
    ex.attempts = n;
    auto start = std::chrono::steady_clock::now();
    Attempt a = attempt(request, cancel);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    std::string prefix = "attempt " + std::to_string(n) + ": ";
    ex.timed_out = a.timed_out;
    if (a.cancelled) {
      ex.cancelled = true;
      ex.response.reset();
      ex.error = std::move(a.error);
      if (attempt_log) {
        attempt_log(prefix + ex.error->message);
      }
      return ex;
    }
    bool again = false;
    auto wait = backoff_delay(retry, n);
    std::string why;
    if (a.error) {
      if (attempt_log) {
        attempt_log(prefix + a.error->message);
      }
      ex.response.reset();
      ex.error = std::move(a.error);
      again = a.retryable;
      why = ex.error->message;
    } else {
      const Response& r = *a.response;
      if (attempt_log) {
        attempt_log(prefix + where + ": HTTP " + status_text(r) + " in " + format_wait(took));
      }
      if (expect.contains(r.status)) {
        ex.response = std::move(a.response);
        ex.error.reset();
        return ex;
      }
      ex.error =
          error("HTTP " + status_text(r) + " from " + r.url + " (expected " + expect.text() + ")");
      if (r.status == 429 || (r.status >= 500 && r.status <= 599)) {
        again = true;
        if (r.status == 429 || r.status == 503) {
          if (auto after = retry_after(r)) {
            wait = std::min(*after, retry.max_delay);
          }
        }
      }
      why = "HTTP " + std::to_string(r.status) + " from " + r.url;
      ex.response = std::move(a.response);
    }
    if (!again || n > retry.max) {
      if (again && n > 1) {
        ex.error->message += " after " + std::to_string(n) + " attempts";
      }
      return ex;
    }
    if (retry_log) {
      retry_log(why + "; retry " + std::to_string(n) + " of " + std::to_string(retry.max) + " in " +
                format_wait(wait));
    }
    if (!wait_or_cancel(wait, cancel)) {
      ex.cancelled = true;
      ex.timed_out = false;
      ex.error = error(where + ": cancelled while waiting to retry");
      return ex;
    }
  }
}

} // namespace detail

} // namespace net
