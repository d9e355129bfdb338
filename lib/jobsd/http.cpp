// libmicrohttpd glue: the listening socket, TLS, the access handler that turns a request into a
// command on a bridge, the answers (JSON, problem+json, text, Server-Sent Events), sign-in
// failures per address and manual runs per token.
#include <base/text.hpp>
#include <jobsd/api.hpp>
#include <jobsd/http.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstring>
#include <tuple>
#include <web/assets.hpp>

namespace jobsd {

namespace {

using Json = ipc::Json;

constexpr std::int64_t keepalive_ms = 15000;
// After this many failed sign-ins from one address within a minute, its requests get 429 until
// the minute ends.
constexpr int max_failures = 10;
constexpr std::int64_t failure_window_ms = 60000;
// Refused requests of nobody signed in are told in jobsd.log at most this often per address.
constexpr std::int64_t refusal_report_ms = 60000;
constexpr std::int64_t hour_ms = 3600 * 1000;
constexpr size_t max_pem_bytes = 1 << 20;
constexpr size_t max_query_parameters = 32;
// A command's answer larger than this is refused (500): jobsd's own replies stay far below.
constexpr size_t max_answer_bytes = 64 << 20;
// A stream reads this much of its bridge at a time.
constexpr size_t stream_chunk = 256 << 10;

std::int64_t steady_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

base::Error failure(const std::string& message) {
  base::Error e;
  e.message = message;
  return e;
}

// A PEM file: a regular file (not through a link), at most 1 MiB.
base::Result<std::string> read_pem(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    return failure("cannot read " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  std::string text;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<size_t>(st.st_size) > max_pem_bytes) {
    ::close(fd);
    return failure(path + " is not a regular file of at most 1 MiB");
  }
  text.resize(static_cast<size_t>(st.st_size));
  const ssize_t got = ::read(fd, text.data(), text.size());
  ::close(fd);
  if (got != static_cast<ssize_t>(text.size())) {
    return failure("cannot read " + path + ": " + std::strerror(errno));
  }
  return text;
}

// The socket of `listen` (host:port, [v6]:port, unix:PATH), bound and listening; whether it is
// on the loopback interface (a Unix socket counts as one) into `loopback`.
base::Result<int> listen_on(const std::string& listen, bool& loopback) {
  const auto bad = [&](const std::string& why) {
    return failure("http.listen \"" + listen + "\": " + why);
  };
  if (listen.starts_with("unix:")) {
    const std::string path = listen.substr(5);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof a.sun_path) {
      return bad("the path must have 1 to " + std::to_string(sizeof a.sun_path - 1) + " bytes");
    }
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    struct stat st {};
    if (lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      ::unlink(path.c_str()); // left by a jobsd that died: this one holds the state folder
    }
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const mode_t old_mask = umask(0117);
    const bool bound = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    umask(old_mask);
    if (!bound || ::listen(fd, 128) != 0) {
      const std::string why = std::strerror(errno);
      if (fd >= 0) {
        ::close(fd);
      }
      return bad(why);
    }
    loopback = true;
    return fd;
  }
  std::string host, port;
  if (listen.starts_with("[")) {
    const size_t close = listen.find(']');
    if (close == std::string::npos || listen.compare(close, 2, "]:") != 0) {
      return bad("expected [ADDRESS]:PORT");
    }
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == std::string::npos) {
      return bad("expected HOST:PORT, [ADDRESS]:PORT or unix:PATH");
    }
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  if (host == "localhost") {
    host = "127.0.0.1";
  }
  int number = 0;
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      (number = std::stoi(port)) < 1 || number > 65535) {
    return bad("the port must be a number from 1 to 65535");
  }
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(number));
    length = sizeof *v4;
    loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(number));
    length = sizeof *v6;
    loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
  } else {
    return bad("\"" + host + "\" is not an IPv4 or IPv6 address (names are not resolved)");
  }
  const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int on = 1;
  if (fd >= 0) {
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (family == AF_INET6) {
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    }
  }
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0 ||
      ::listen(fd, 128) != 0) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) {
      ::close(fd);
    }
    return bad(why);
  }
  return fd;
}

std::string client_address(MHD_Connection* c) {
  const auto* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (info == nullptr || info->client_addr == nullptr) {
    return "unix";
  }
  char text[INET6_ADDRSTRLEN] = "";
  const sockaddr* a = info->client_addr;
  if (a->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a)->sin_addr, text, sizeof text);
  } else if (a->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr, text, sizeof text);
  } else {
    return "unix";
  }
  return text;
}

std::string header(MHD_Connection* c, const char* name) {
  const char* v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
  return v == nullptr ? std::string() : std::string(v);
}

// The media type of a Content-Type value, lowercase, without parameters.
std::string media_type(std::string value) {
  value = value.substr(0, value.find(';'));
  value.erase(std::remove(value.begin(), value.end(), ' '), value.end());
  std::transform(value.begin(), value.end(), value.begin(),
                 [](char ch) { return static_cast<char>(std::tolower(ch)); });
  return value;
}

// The query's parameters; what makes it unusable into `wrong` (a key given twice: which one
// would count is a guess, so neither does).
struct Query {
  std::map<std::string, std::string> values;
  std::string wrong;
};

MHD_Result collect_query(void* cls, MHD_ValueKind, const char* key, const char* value) {
  auto& query = *static_cast<Query*>(cls);
  if (query.values.size() >= max_query_parameters) {
    query.wrong = "the query has more than " + std::to_string(max_query_parameters) + " parameters";
    return MHD_NO;
  }
  if (!query.values.emplace(key, value == nullptr ? "" : value).second) {
    query.wrong = "the query gives " + base::quoted(key) + " more than once";
    return MHD_NO;
  }
  return MHD_YES;
}

// Whether the path, its %XX escapes decoded, has a NUL or another control character (MHD hands
// the decoded path over as a C string: a %00 would cut it short).
bool has_control(std::string_view raw) {
  raw = raw.substr(0, raw.find('?'));
  for (size_t i = 0; i < raw.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    if (c == '%' && i + 2 < raw.size() && std::isxdigit(static_cast<unsigned char>(raw[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(raw[i + 2]))) {
      c = static_cast<unsigned char>(std::stoi(std::string(raw.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    }
    if (c < 0x20 || c == 0x7f) {
      return true;
    }
  }
  return false;
}

} // namespace

struct HttpServer::Instance {
  MHD_Daemon* daemon = nullptr;
  int epoll_fd = -1;
  bool accepting = true;
  std::string cert, key; // MHD keeps pointers to them
};

struct HttpServer::Exchange {
  HttpServer* server = nullptr;
  MHD_Connection* connection = nullptr;
  std::string raw;          // the request's target as it came, escapes and all
  bool begun = false;       // access() has seen the request's head
  std::string method, path; // the path decoded by MHD
  const api::Route* route = nullptr;
  std::string id;
  Principal who;
  std::string content_type;
  std::string body;
  std::int64_t too_large_ms = 0; // steady ms a chunked body went past max_request_bytes
  bool answered = false;         // a response is queued
  bool reached = false;          // the request reached the command table (which audits it)
  int fd = -1;                   // the bridge
  std::string in;                // read from the bridge, not yet used
  bool eof = false;
  bool suspended = false;
  bool stream = false; // the answer is a stream of the log's lines
  bool sse = false;
  bool ended = false; // the stream's final reply came
  std::string out;    // stream output not yet given to MHD
  std::int64_t keepalive_at = 0;
  std::int64_t sent_ms = 0; // steady ms MHD last took stream output
  bool dropped = false;     // its client reads too slowly: its socket is shut down
};

// What every response carries: no sniffing, no framing, no referrer, only the dashboard's own
// files as scripts and styles (none inline), and no caching unless `headers` says otherwise.
void add_common_headers(MHD_Response* r,
                        const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(r, "X-Frame-Options", "DENY");
  MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
  MHD_add_response_header(r, "Content-Security-Policy",
                          "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                          "form-action 'none'; frame-ancestors 'none'");
  if (std::none_of(headers.begin(), headers.end(),
                   [](const auto& h) { return h.first == MHD_HTTP_HEADER_CACHE_CONTROL; })) {
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  }
  for (const auto& [name, value] : headers) {
    MHD_add_response_header(r, name.c_str(), value.c_str());
  }
}

// The C callbacks MHD calls, with access to the server.
struct HttpCallbacks {
  static MHD_Result respond(HttpServer::Exchange& x, unsigned status, const std::string& body,
                            const char* type,
                            const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    MHD_Response* r = MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()),
                                                      MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    add_common_headers(r, headers);
    const MHD_Result queued = MHD_queue_response(x.connection, status, r);
    MHD_destroy_response(r);
    x.answered = true;
    return queued;
  }

  // An error. A mutating request refused before it reached a command is audited here when a
  // valid token sent it, else only told in jobsd.log.
  static MHD_Result refuse(HttpServer::Exchange& x, int status, const std::string& code,
                           const std::string& detail,
                           const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    if (x.method == "POST" && !x.reached) {
      const std::string outcome = code + " (HTTP " + std::to_string(status) + "): " + detail;
      if (x.who.token.empty()) {
        x.server->refused(x.who.address, "POST " + x.path + ": " + outcome);
      } else {
        x.server->hooks_.audit(x.who, x.route->command, x.id.empty() ? x.path : x.id, outcome);
      }
    }
    return respond(x, static_cast<unsigned>(status), api::problem(status, code, detail).dump(),
                   "application/problem+json", headers);
  }

  // A request without a valid token: 401, or 429 while its address is locked out. Only wrong
  // tokens count and are locked out (a request without one guesses nothing); a locked address's
  // wrong token is not counted. A valid token is never refused for its address's failures.
  static MHD_Result refuse_sign_in(HttpServer::Exchange& x, bool wrong_token) {
    const std::vector<std::pair<std::string, std::string>> challenge = {
        {MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"jobsd\""}};
    if (!wrong_token) {
      return refuse(x, 401, "unauthorized", "this route needs a token: Authorization: Bearer TOKEN",
                    challenge);
    }
    HttpServer& s = *x.server;
    const std::int64_t now = steady_now();
    if (now - s.failures_pruned_ms_ >= failure_window_ms) {
      // Addresses whose window has closed are forgotten: the map stays as small as the abuse.
      std::erase_if(s.failures_, [&](const auto& e) {
        return now - e.second.window_start >= failure_window_ms;
      });
      s.failures_pruned_ms_ = now;
    }
    auto f = s.failures_.find(x.who.address);
    if (f != s.failures_.end() && now - f->second.window_start >= failure_window_ms) {
      s.failures_.erase(f);
      f = s.failures_.end();
    }
    if (f == s.failures_.end()) {
      f = s.failures_.emplace(x.who.address, HttpServer::Failures{now, 0}).first;
    } else if (f->second.count >= max_failures) {
      const auto wait = (f->second.window_start + failure_window_ms - now + 999) / 1000;
      return refuse(x, 429, "rate_limited",
                    "too many failed sign-ins from " + x.who.address + "; try again in " +
                        std::to_string(wait) + "s",
                    {{"Retry-After", std::to_string(wait)}});
    }
    if (++f->second.count == max_failures) {
      s.hooks_.log->warn("http: {} failed sign-ins from {} within a minute; its wrong tokens get "
                         "429 until the minute ends",
                         max_failures, base::escaped(x.who.address));
    }
    return refuse(x, 401, "unauthorized", "the token is not valid", challenge);
  }

  // A request's exchange, made as soon as its request line is read, to keep its raw target.
  static void* start_request(void* cls, const char* uri, MHD_Connection* connection) {
    auto* x = new HttpServer::Exchange;
    x->server = static_cast<HttpServer*>(cls);
    x->connection = connection;
    x->raw = uri;
    return x;
  }

  static MHD_Result access(void* cls, MHD_Connection*, const char* url, const char* method,
                           const char*, const char* upload_data, size_t* upload_size,
                           void** state) {
    auto* server = static_cast<HttpServer*>(cls);
    auto* x = static_cast<HttpServer::Exchange*>(*state); // made by start_request()
    if (!x->begun) {
      x->begun = true;
      x->method = method;
      x->path = url;
      return begin(*x);
    }
    if (x->answered) {
      *upload_size = 0; // what remains of a refused body is dropped with the connection
      return MHD_YES;
    }
    const auto limit = static_cast<size_t>(server->config_.max_request_bytes);
    if (*upload_size > 0) {
      if (x->too_large_ms == 0 && x->body.size() + *upload_size > limit) {
        x->too_large_ms = steady_now();
        x->body.clear();
      }
      if (x->too_large_ms != 0) {
        // A chunked body too large (one of announced length is refused at its head): MHD
        // (0.9.75) takes a response only once the body is in, so the rest is read and dropped,
        // for request_timeout at most, then the connection is closed.
        *upload_size = 0;
        return steady_now() - x->too_large_ms < server->config_.request_timeout.count() * 1000
                   ? MHD_YES
                   : MHD_NO;
      }
      x->body.append(upload_data, *upload_size);
      *upload_size = 0;
      return MHD_YES;
    }
    if (x->too_large_ms != 0) {
      return refuse(*x, 413, ipc::code::too_large,
                    "the body is larger than " + std::to_string(limit) +
                        " bytes (http.max_request_bytes)");
    }
    if (x->fd < 0) {
      return dispatch(*x);
    }
    return answer(*x);
  }

  // The request's head: its route, its token, its body's announced size and type.
  static MHD_Result begin(HttpServer::Exchange& x) {
    HttpServer& s = *x.server;
    x.who.address = client_address(x.connection);
    if (has_control(x.raw)) {
      return refuse(x, 400, ipc::code::bad_request,
                    "the path has a NUL or another control character");
    }
    if (x.path == "/" || x.path.starts_with("/assets/")) {
      if (x.method != "GET") {
        return refuse(x, 405, "method_not_allowed", x.method + " " + x.path + " is not allowed",
                      {{"Allow", "GET"}});
      }
      if (const web::Asset* asset = web::find_asset(x.path)) {
        // Kept by the browser, asked again each time: a new jobsd's files replace the old.
        const std::vector<std::pair<std::string, std::string>> cache = {
            {"ETag", std::string(asset->etag)}, {MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache"}};
        if (header(x.connection, MHD_HTTP_HEADER_IF_NONE_MATCH) == asset->etag) {
          return respond(x, 304, "", std::string(asset->content_type).c_str(), cache);
        }
        return respond(x, 200, std::string(asset->body), std::string(asset->content_type).c_str(),
                       cache);
      }
      return refuse(x, 404, ipc::code::not_found, "no such page " + base::quoted(x.path));
    }
    const auto m = api::match(x.method, x.path);
    if (m.route == nullptr) {
      if (!m.allow.empty()) {
        std::string allow;
        for (const auto& a : m.allow) {
          allow += (allow.empty() ? "" : ", ") + a;
        }
        return refuse(x, 405, "method_not_allowed",
                      x.method + " is not allowed on " + x.path + " (allowed: " + allow + ")",
                      {{"Allow", allow}});
      }
      return refuse(x, 404, ipc::code::not_found,
                    "no route " + x.method + " " + base::quoted(x.path) +
                        " (see /api/v2/openapi.json)");
    }
    x.route = m.route;
    x.id = m.id;
    const bool needs_token = x.path.starts_with("/api/v2/") || s.config_.metrics_auth;
    if (needs_token) {
      const std::string authorization = header(x.connection, MHD_HTTP_HEADER_AUTHORIZATION);
      const Token* token = authorization.starts_with("Bearer ")
                               ? s.hooks_.token(std::string_view(authorization).substr(7))
                               : nullptr;
      if (token == nullptr) {
        return refuse_sign_in(x, !authorization.empty());
      }
      x.who.token = token->name;
      x.who.role = token->role;
      x.who.jobs = token->jobs;
    }
    const std::string length = header(x.connection, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const bool has_body = (!length.empty() && length != "0") ||
                          !header(x.connection, MHD_HTTP_HEADER_TRANSFER_ENCODING).empty();
    if (!length.empty() &&
        (length.size() > 18 || std::stoll("0" + length) > s.config_.max_request_bytes)) {
      return refuse(x, 413, ipc::code::too_large,
                    "the body is larger than " + std::to_string(s.config_.max_request_bytes) +
                        " bytes (http.max_request_bytes)");
    }
    x.content_type = media_type(header(x.connection, MHD_HTTP_HEADER_CONTENT_TYPE));
    if (has_body) {
      const bool json = x.content_type == "application/json";
      const bool yaml = x.content_type == "application/yaml" || x.content_type == "text/yaml";
      if (x.method != "POST" || !(json || (yaml && x.route->text_body))) {
        return refuse(x, 415, "unsupported_media_type",
                      x.method != "POST" ? x.method + " " + x.path + " takes no body"
                      : x.route->text_body
                          ? "the body must be application/json, application/yaml or text/yaml"
                          : "the body must be application/json");
      }
    }
    return MHD_YES;
  }

  // The whole request is in: the command's args, then the command on a bridge.
  static MHD_Result dispatch(HttpServer::Exchange& x) {
    HttpServer& s = *x.server;
    const api::Route& r = *x.route;
    if (r.answer == api::Answer::document) {
      return respond(x, 200, api::openapi(s.hooks_.version).dump(), "application/json");
    }
    Query query;
    MHD_get_connection_values(x.connection, MHD_GET_ARGUMENT_KIND, collect_query, &query);
    if (!query.wrong.empty()) {
      return refuse(x, 400, ipc::code::bad_request, query.wrong);
    }
    Json body = nullptr;
    if (!x.body.empty() && !r.text_body) {
      body = Json::parse(x.body, nullptr, false);
      if (body.is_discarded()) {
        return refuse(x, 400, ipc::code::bad_request, "the body is not valid JSON");
      }
    }
    auto args = api::build_args(r, x.id, query.values, body);
    if (!args) {
      return refuse(x, 422, ipc::code::invalid, args.error().message);
    }
    if (r.text_body) {
      (*args)["text"] = x.body;
      (*args)["format"] = x.content_type == "application/json" ? "json" : "yaml";
    }
    if (r.answer == api::Answer::log) {
      x.stream = true;
      x.sse = header(x.connection, MHD_HTTP_HEADER_ACCEPT).find("text/event-stream") !=
              std::string::npos;
      (*args)["follow"] = x.sse;
    }
    if (std::string(r.command) == "trigger" && s.config_.manual_runs_per_hour > 0) {
      const std::int64_t now = steady_now();
      auto& runs = s.manual_runs_[x.who.token];
      while (!runs.empty() && now - runs.front() >= hour_ms) {
        runs.pop_front();
      }
      if (runs.size() >= static_cast<size_t>(s.config_.manual_runs_per_hour)) {
        const auto wait = (runs.front() + hour_ms - now + 999) / 1000;
        return refuse(x, 429, "rate_limited",
                      "token " + x.who.token + " has triggered " + std::to_string(runs.size()) +
                          " runs in the last hour, the most http.rate_limits.manual_runs_per_hour "
                          "allows; try again in " +
                          std::to_string(wait) + "s",
                      {{"Retry-After", std::to_string(wait)}});
      }
      runs.push_back(now);
    }
    ipc::Request request;
    request.id = 1;
    request.cmd = r.command;
    request.args = std::move(*args);
    x.reached = true;
    x.fd = s.hooks_.call(x.who, request);
    if (x.fd < 0) {
      return refuse(x, 500, ipc::code::internal, "cannot open a bridge to the command table");
    }
    s.bridges_[x.fd] = &x;
    return answer(x);
  }

  // Reads what the bridge has, a stream's only up to what the client may take next: what it
  // does not read stays in the bridge and holds its follower back (the socket's backpressure).
  static void read_bridge(HttpServer::Exchange& x) {
    char chunk[65536];
    const size_t limit = x.stream ? stream_chunk : max_answer_bytes;
    while (!x.eof && x.in.size() < limit) {
      const ssize_t got = ::read(x.fd, chunk, sizeof chunk);
      if (got > 0) {
        x.in.append(chunk, static_cast<size_t>(got));
      } else if (got < 0 && errno == EINTR) {
        continue;
      } else {
        x.eof = got == 0 || errno != EAGAIN;
        return;
      }
    }
  }

  // The next complete line of the bridge as JSON; null when none is complete.
  static Json next_message(HttpServer::Exchange& x) {
    const size_t nl = x.in.find('\n');
    if (nl == std::string::npos) {
      return nullptr;
    }
    Json message = Json::parse(std::string_view(x.in).substr(0, nl), nullptr, false);
    x.in.erase(0, nl + 1);
    return message.is_object() ? message : Json::object();
  }

  static void suspend(HttpServer::Exchange& x) {
    MHD_suspend_connection(x.connection);
    x.suspended = true;
    x.server->hooks_.watch(x.fd, true);
  }

  // The command's first message: the response of a reply, or the start of a stream.
  static MHD_Result answer(HttpServer::Exchange& x) {
    read_bridge(x);
    while (true) {
      const Json m = next_message(x);
      if (m.is_null()) {
        break;
      }
      if (m.contains("error")) {
        const std::string code = m["error"].value("code", ipc::code::internal);
        return refuse(x, api::status_of(code), code, m["error"].value("message", ""));
      }
      if (x.stream) {
        // The stream starts with its first output (MHD does not take a stream that has nothing
        // to send at first): this message and those after it go out through stream_read.
        x.in.insert(0, m.dump() + "\n");
        convert(x);
        if (x.out.empty() && !x.ended) {
          break;
        }
        MHD_Response* r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024,
                                                            stream_read, &x, nullptr);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                x.sse ? "text/event-stream" : "text/plain; charset=utf-8");
        add_common_headers(r);
        const MHD_Result queued = MHD_queue_response(x.connection, 200, r);
        MHD_destroy_response(r);
        x.answered = true;
        x.sent_ms = steady_now();
        x.keepalive_at = x.sent_ms + keepalive_ms;
        x.server->streams_.insert(&x);
        return queued;
      }
      if (m.contains("event")) {
        continue;
      }
      const Json& result = m["result"];
      switch (x.route->answer) {
      case api::Answer::health:
        return respond(x, result.value("ok", false) ? 200 : 503, result.dump(), "application/json");
      case api::Answer::metrics:
        return respond(x, 200, result.value("text", ""),
                       "text/plain; version=0.0.4; charset=utf-8");
      default:
        return respond(x, 200, result.dump(), "application/json");
      }
    }
    if (x.eof || x.in.size() >= max_answer_bytes) {
      return refuse(x, 500, ipc::code::internal,
                    x.eof ? "jobsd closed the request without an answer"
                          : "the answer is larger than " + std::to_string(max_answer_bytes) +
                                " bytes");
    }
    suspend(x);
    return MHD_YES;
  }

  // Turns the bridge's complete lines into stream output.
  static void convert(HttpServer::Exchange& x) {
    while (!x.ended) {
      const Json m = next_message(x);
      if (m.is_null()) {
        return;
      }
      if (m.contains("event")) {
        const Json& e = m["event"];
        if (x.sse) {
          const std::string name = e.is_object() && !e.empty() ? e.begin().key() : "event";
          x.out += "event: " + name + "\ndata: " + e.dump() + "\n\n";
        } else if (e.contains("line") && e["line"].is_string()) {
          x.out += e["line"].get<std::string>() + "\n";
        }
      } else if (m.contains("error")) {
        const std::string code = m["error"].value("code", ipc::code::internal);
        if (x.sse) {
          x.out +=
              "event: error\ndata: " +
              api::problem(api::status_of(code), code, m["error"].value("message", "")).dump() +
              "\n\n";
        }
        x.ended = true;
      } else {
        if (x.sse) {
          x.out += "event: end\ndata: " + m["result"].dump() + "\n\n";
        }
        x.ended = true;
      }
    }
  }

  static ssize_t stream_read(void* cls, uint64_t, char* buffer, size_t max) {
    auto& x = *static_cast<HttpServer::Exchange*>(cls);
    if (x.out.empty() && !x.ended) {
      read_bridge(x);
      convert(x);
    }
    if (x.out.empty()) {
      if (x.ended) {
        return MHD_CONTENT_READER_END_OF_STREAM;
      }
      if (x.eof) {
        return MHD_CONTENT_READER_END_WITH_ERROR;
      }
      if (!x.sse || steady_now() < x.keepalive_at) {
        suspend(x);
        return 0;
      }
      x.out = ": keepalive\n\n";
    }
    const size_t n = std::min(max, x.out.size());
    std::memcpy(buffer, x.out.data(), n);
    x.out.erase(0, n);
    x.sent_ms = steady_now();
    x.keepalive_at = x.sent_ms + keepalive_ms;
    return static_cast<ssize_t>(n);
  }

  static void completed(void* cls, MHD_Connection*, void** state, MHD_RequestTerminationCode) {
    auto* x = static_cast<HttpServer::Exchange*>(*state);
    if (x != nullptr) {
      static_cast<HttpServer*>(cls)->forget(*x);
      delete x;
      *state = nullptr;
    }
  }

  static void log(void* cls, const char* format, va_list ap) {
    char text[1024];
    std::vsnprintf(text, sizeof text, format, ap);
    std::string line = text;
    while (!line.empty() && line.back() == '\n') {
      line.pop_back();
    }
    static_cast<HttpServer*>(cls)->hooks_.log->warn("http: {}", base::escaped(line));
  }
};

HttpServer::HttpServer(HttpConfig config, HttpHooks hooks)
    : config_(std::move(config)), hooks_(std::move(hooks)) {}

HttpServer::~HttpServer() {
  report_refusals(true);
  // MHD stops only with no connection suspended.
  for (const auto& [fd, x] : bridges_) {
    if (x->suspended) {
      hooks_.watch(fd, false);
      x->suspended = false;
      MHD_resume_connection(x->connection);
    }
  }
  for (auto& i : instances_) {
    hooks_.watch(i->epoll_fd, false);
    MHD_stop_daemon(i->daemon);
  }
  if (config_.listen.starts_with("unix:")) {
    ::unlink(config_.listen.substr(5).c_str());
  }
}

base::Result<bool> HttpServer::start() {
  tls_ = !config_.cert_file.empty();
  if (tls_) {
    auto pair = read_tls();
    if (!pair) {
      return pair.error();
    }
    std::tie(cert_, key_) = std::move(*pair);
  }
  bool loopback = false;
  auto fd = listen_on(config_.listen, loopback);
  if (!fd) {
    return fd.error();
  }
  listen_fd_ = *fd;
  if (!loopback && !tls_ && !config_.allow_plaintext) {
    ::close(listen_fd_);
    listen_fd_ = -1;
    return failure("http.listen " + config_.listen +
                   " is not a loopback address and there is no TLS (cert_file, key_file): tokens "
                   "would cross the network in clear; set allow_plaintext: true to allow it");
  }
  return open_instance();
}

base::Result<std::pair<std::string, std::string>> HttpServer::read_tls() const {
  auto cert = read_pem(config_.cert_file);
  if (!cert) {
    return cert.error();
  }
  auto key = read_pem(config_.key_file);
  if (!key) {
    return key.error();
  }
  return std::pair(std::move(*cert), std::move(*key));
}

MHD_Daemon* HttpServer::start_daemon(int fd, const std::string& cert, const std::string& key) {
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  if (tls_) {
    flags |= MHD_USE_TLS;
  }
  if (fd < 0) {
    flags |= MHD_USE_NO_LISTEN_SOCKET;
  }
  const MHD_OptionItem tls_options[] = {
      {MHD_OPTION_HTTPS_MEM_CERT, 0, const_cast<char*>(cert.c_str())},
      {MHD_OPTION_HTTPS_MEM_KEY, 0, const_cast<char*>(key.c_str())},
      {MHD_OPTION_END, 0, nullptr}};
  const MHD_OptionItem listen_options[] = {{MHD_OPTION_LISTEN_SOCKET, fd, nullptr},
                                           {MHD_OPTION_END, 0, nullptr}};
  const MHD_OptionItem no_options[] = {{MHD_OPTION_END, 0, nullptr}};
  return MHD_start_daemon(
      flags, 0, nullptr, nullptr, &HttpCallbacks::access, this, MHD_OPTION_EXTERNAL_LOGGER,
      &HttpCallbacks::log, this, MHD_OPTION_URI_LOG_CALLBACK, &HttpCallbacks::start_request, this,
      MHD_OPTION_ARRAY, fd >= 0 ? listen_options : no_options, MHD_OPTION_CONNECTION_LIMIT,
      static_cast<unsigned>(config_.max_connections), MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      static_cast<unsigned>(config_.max_connections_per_ip), MHD_OPTION_CONNECTION_TIMEOUT,
      static_cast<unsigned>(config_.request_timeout.count()), MHD_OPTION_NOTIFY_COMPLETED,
      &HttpCallbacks::completed, this, MHD_OPTION_ARRAY, tls_ ? tls_options : no_options,
      MHD_OPTION_END);
}

base::Result<bool> HttpServer::open_instance() {
  auto instance = std::make_unique<Instance>();
  instance->cert = cert_;
  instance->key = key_;
  instance->daemon = start_daemon(listen_fd_, instance->cert, instance->key);
  if (instance->daemon == nullptr) {
    return failure("cannot start the HTTP listener on " + config_.listen +
                   (tls_ ? " (is the certificate or key broken?)" : ""));
  }
  const auto* info = MHD_get_daemon_info(instance->daemon, MHD_DAEMON_INFO_EPOLL_FD);
  instance->epoll_fd = info->epoll_fd;
  hooks_.watch(instance->epoll_fd, true);
  instances_.push_back(std::move(instance));
  return true;
}

base::Result<bool> HttpServer::reload_tls() {
  if (!tls_ || instances_.empty()) {
    return true;
  }
  // The new certificate and key are read, and tried by a daemon without a socket, before the
  // old instance lets the socket go: with a broken file or a key of another certificate the old
  // one keeps serving (MHD tells why in jobsd.log).
  auto pair = read_tls();
  if (!pair) {
    return pair.error();
  }
  MHD_Daemon* trial = start_daemon(-1, pair->first, pair->second);
  if (trial == nullptr) {
    return failure("the certificate " + config_.cert_file + " and key " + config_.key_file +
                   " cannot be used (does the key belong to the certificate?); the old ones "
                   "are still served");
  }
  MHD_stop_daemon(trial);
  Instance& old = *instances_.back();
  const MHD_socket fd = MHD_quiesce_daemon(old.daemon);
  if (fd == MHD_INVALID_SOCKET) {
    return failure("cannot hand the HTTP listening socket over to the new certificate");
  }
  old.accepting = false;
  listen_fd_ = fd;
  std::swap(cert_, pair->first);
  std::swap(key_, pair->second);
  auto opened = open_instance();
  if (!opened) {
    // The socket is never lost: a new instance serves it with the old certificate.
    std::swap(cert_, pair->first);
    std::swap(key_, pair->second);
    if (!open_instance()) {
      ::close(listen_fd_);
      listen_fd_ = -1;
    }
  }
  run_due();
  return opened;
}

void HttpServer::run(Instance& i) {
  MHD_run(i.daemon);
}

bool HttpServer::on_event(int fd) {
  for (auto& i : instances_) {
    if (i->epoll_fd == fd) {
      run(*i);
      return true;
    }
  }
  const auto it = bridges_.find(fd);
  if (it == bridges_.end()) {
    return false;
  }
  Exchange& x = *it->second;
  if (x.suspended) {
    hooks_.watch(fd, false);
    x.suspended = false;
    MHD_resume_connection(x.connection);
  }
  run_due();
  return true;
}

std::optional<std::int64_t> HttpServer::deadline() const {
  std::optional<std::int64_t> next;
  const std::int64_t now = steady_now();
  for (const auto& i : instances_) {
    MHD_UNSIGNED_LONG_LONG ms = 0;
    if (MHD_get_timeout(i->daemon, &ms) == MHD_YES) {
      const std::int64_t at =
          now + static_cast<std::int64_t>(std::min<MHD_UNSIGNED_LONG_LONG>(ms, 1LL << 30));
      next = next ? std::min(*next, at) : at;
    }
  }
  const std::int64_t timeout_ms = config_.request_timeout.count() * 1000;
  for (const Exchange* x : streams_) {
    // A suspended stream's keepalive; MHD (0.9.75) gives no timeout for a connection that
    // waits to write, so the loop wakes for it to drop a client that stopped reading.
    const std::int64_t at = x->dropped     ? 0
                            : x->suspended ? (x->sse ? x->keepalive_at : 0)
                                           : x->sent_ms + timeout_ms;
    if (at > 0) {
      next = next ? std::min(*next, at) : at;
    }
  }
  for (const auto& [address, r] : refusals_) {
    // Refusals not told yet are told when their minute ends; told ones are forgotten then.
    const std::int64_t at = r.reported_ms + refusal_report_ms;
    next = next ? std::min(*next, at) : at;
  }
  return next;
}

void HttpServer::run_due() {
  report_refusals(false);
  const std::int64_t now = steady_now();
  const std::int64_t timeout_ms = config_.request_timeout.count() * 1000;
  for (Exchange* x : streams_) {
    if (!x->suspended && !x->dropped && now - x->sent_ms >= timeout_ms) {
      // MHD waits for the client to take what it has: it took nothing for request_timeout.
      const auto* info = MHD_get_connection_info(x->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
      if (info != nullptr) {
        hooks_.log->warn("http: client {} reads too slowly: nothing taken for {}s; closing",
                         base::escaped(x->who.address), config_.request_timeout.count());
        ::shutdown(info->connect_fd, SHUT_RDWR);
      }
      x->dropped = true;
    }
    if (x->suspended && x->sse && now >= x->keepalive_at) {
      hooks_.watch(x->fd, false);
      x->suspended = false;
      MHD_resume_connection(x->connection);
    }
  }
  for (auto& i : instances_) {
    run(*i);
  }
  // Instances that gave the socket to a newer one end with their last connection.
  std::erase_if(instances_, [&](const std::unique_ptr<Instance>& i) {
    if (i->accepting) {
      return false;
    }
    const auto* info = MHD_get_daemon_info(i->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    if (info == nullptr || info->num_connections > 0) {
      return false;
    }
    hooks_.watch(i->epoll_fd, false);
    MHD_stop_daemon(i->daemon);
    return true;
  });
}

void HttpServer::refused(const std::string& address, const std::string& why) {
  Refusals& r = refusals_[address];
  ++r.count;
  r.why = why;
  report_refusals(false);
}

void HttpServer::report_refusals(bool all) {
  const std::int64_t now = steady_now();
  for (auto& [address, r] : refusals_) {
    if (r.count == 0 || (!all && r.reported_ms != 0 && now - r.reported_ms < refusal_report_ms)) {
      continue;
    }
    hooks_.log->warn("http: refused {}{} request{} from {} of no known token (not audited); "
                     "the last: {}",
                     r.count, r.reported_ms == 0 ? "" : " more", r.count == 1 ? "" : "s",
                     base::escaped(address), base::escaped(r.why));
    r.count = 0;
    r.reported_ms = now;
  }
  // An address refused nothing for a minute is forgotten: the map stays as small as the abuse.
  std::erase_if(refusals_, [&](const auto& entry) {
    return entry.second.count == 0 && now - entry.second.reported_ms >= refusal_report_ms;
  });
}

void HttpServer::forget(Exchange& x) {
  streams_.erase(&x);
  if (x.fd >= 0) {
    if (x.suspended) {
      hooks_.watch(x.fd, false);
    }
    bridges_.erase(x.fd);
    ::close(x.fd);
    x.fd = -1;
  }
}

} // namespace jobsd
