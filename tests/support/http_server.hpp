#pragma once

// An HTTP server on 127.0.0.1 for the net tests (in-process) and for the integration tests (as
// the test_http_server program): fixed routes that misbehave on demand, and a small Azure
// DevOps pipelines API. It keeps every request it received.
//
//   /status/{code}              that status, with its reason
//   /echo                       JSON of method, path, query, headers, body (any method)
//   /json                       a fixed nested JSON document (json_document())
//   /bytes/{n}                  n bytes of 'x'
//   /slow?ms=N                  200 after N ms
//   /hang                       never answers, until the server stops
//   /reset                      closes the connection without a response
//   /garbage                    a reply that is not HTTP
//   /flaky/{key}?fail=N&code=C  C (503) for the first N requests of that key, then 200
//   /retry-after/{key}?seconds=S[&date=1]
//                               429 with Retry-After (seconds, or an HTTP date) once per key
//   /redirect/{n}               n redirect hops, then 200
//   /basic                      200 only for user "u" password "p", else 401
//   /bearer                     200 only for "Bearer t0ken", else 401
//   POST /{org}/{project}/_apis/pipelines/{id}/runs
//   GET  /{org}/{project}/_apis/pipelines/{id}/runs/{runId}
//       Basic auth with an empty user and the PAT "test-pat" (else 401), api-version=7.1 (else
//       400). Pipelines: 1 succeeds after 2 polls (inProgress, inProgress, completed), 2 ends
//       failed, 3 canceled, 4 answers its first POST with 429 Retry-After: 1, 5 its first POST
//       with 500, 6 never completes; any other id is a 404 with an Azure DevOps JSON error. A
//       template parameter named "unexpected" is a 400 like Azure DevOps's.

#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cctype>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace test {

// One request as the server saw it.
struct ReceivedRequest {
  std::string method;
  std::string path;   // decoded
  std::string target; // as sent, with the query
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header or query parameter of that name (headers case-insensitively); "" if none.
  std::string header(const std::string& name) const {
    for (const auto& [n, v] : headers) {
      if (n.size() == name.size() &&
          std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) ==
                   std::tolower(static_cast<unsigned char>(b));
          })) {
        return v;
      }
    }
    return "";
  }
  bool has_header(const std::string& name) const {
    for (const auto& [n, v] : headers) {
      if (n.size() == name.size() &&
          std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) ==
                   std::tolower(static_cast<unsigned char>(b));
          })) {
        return true;
      }
    }
    return false;
  }
  std::string param(const std::string& name) const {
    for (const auto& [n, v] : query) {
      if (n == name) {
        return v;
      }
    }
    return "";
  }

  nlohmann::json to_json() const {
    nlohmann::json q = nlohmann::json::object();
    for (const auto& [n, v] : query) {
      q[n] = v;
    }
    nlohmann::json h = nlohmann::json::object();
    for (const auto& [n, v] : headers) {
      h[n] = v;
    }
    return {{"method", method}, {"path", path}, {"target", target},
            {"query", q},       {"headers", h}, {"body", body}};
  }
};

// The server, listening from construction to destruction.
class TestHttpServer {
public:
  // Certificate and key files (PEM) for https; empty: plain http.
  struct Options {
    std::string cert_file;
    std::string key_file;
    std::function<void(const ReceivedRequest&)> on_request; // called from server threads
  };

  TestHttpServer() : TestHttpServer(Options{}) {}

  explicit TestHttpServer(Options options) : options_(std::move(options)) {
    // A client that gives up writes into a closed connection; httplib sends without
    // MSG_NOSIGNAL.
    std::signal(SIGPIPE, SIG_IGN);
    if (options_.cert_file.empty()) {
      server_ = std::make_unique<httplib::Server>();
    } else {
      server_ = std::make_unique<httplib::SSLServer>(options_.cert_file.c_str(),
                                                     options_.key_file.c_str());
    }
    if (!server_->is_valid()) {
      throw std::runtime_error("test http server: invalid certificate or key");
    }
    server_->set_keep_alive_timeout(1);
    add_routes();
    port_ = server_->bind_to_any_port("127.0.0.1");
    if (port_ <= 0) {
      throw std::runtime_error("test http server: cannot bind to 127.0.0.1");
    }
    thread_ = std::thread([this] {
      server_->listen_after_bind();
      std::lock_guard lock(mutex_);
      listen_returned_ = true;
    });
  }

  ~TestHttpServer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    released_.notify_all();
    // stop() does nothing until the listening loop has started.
    while (!server_->is_running()) {
      {
        std::lock_guard lock(mutex_);
        if (listen_returned_) {
          break;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    server_->stop();
    thread_.join();
  }

  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  int port() const { return port_; }

  // "http://127.0.0.1:PORT" (https with a certificate) followed by `path`.
  std::string url(const std::string& path = "") const {
    return std::string(options_.cert_file.empty() ? "http" : "https") +
           "://127.0.0.1:" + std::to_string(port_) + path;
  }

  // Every request received so far, oldest first.
  std::vector<ReceivedRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  size_t request_count() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }

  // The requests whose path starts with `prefix`.
  std::vector<ReceivedRequest> requests_to(const std::string& prefix) const {
    std::lock_guard lock(mutex_);
    std::vector<ReceivedRequest> out;
    for (const auto& r : requests_) {
      if (r.path.starts_with(prefix)) {
        out.push_back(r);
      }
    }
    return out;
  }

  // The fixed document of /json.
  static nlohmann::json json_document() {
    return nlohmann::json::parse(R"({
      "name": "jobs",
      "version": {"major": 0, "minor": 1},
      "items": [{"id": 1, "tags": ["a", "b"]}, {"id": 2, "tags": []}],
      "ok": true,
      "nothing": null,
      "ratio": 0.5,
      "deep": {"list": [[10, 20], [30, {"x": "y"}]]}
    })");
  }

  static std::string base64(const std::string& in) {
    static constexpr char table[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    unsigned value = 0;
    int bits = -6;
    for (unsigned char c : in) {
      value = (value << 8) + c;
      bits += 8;
      while (bits >= 0) {
        out += table[(value >> bits) & 0x3F];
        bits -= 6;
      }
    }
    if (bits > -6) {
      out += table[((value << 8) >> (bits + 8)) & 0x3F];
    }
    while (out.size() % 4 != 0) {
      out += '=';
    }
    return out;
  }

private:
  struct AzureRun {
    std::int64_t id = 0;
    std::int64_t pipeline = 0;
    std::string organization, project;
    int polls = 0;
  };

  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

  static std::string decode(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+') {
        out += ' ';
      } else if (s[i] == '%' && i + 2 < s.size() &&
                 std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
                 std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
        out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        out += s[i];
      }
    }
    return out;
  }

  static ReceivedRequest received(const httplib::Request& req) {
    ReceivedRequest r;
    r.method = req.method;
    r.path = req.path;
    r.target = req.target;
    // From the target: httplib also puts form fields of the body into req.params.
    if (auto q = req.target.find('?'); q != std::string::npos) {
      std::string_view rest(req.target);
      rest.remove_prefix(q + 1);
      while (!rest.empty()) {
        auto amp = rest.find('&');
        auto item = rest.substr(0, amp);
        auto eq = item.find('=');
        if (!item.empty()) {
          r.query.emplace_back(decode(item.substr(0, eq)),
                               eq == std::string_view::npos ? "" : decode(item.substr(eq + 1)));
        }
        if (amp == std::string_view::npos) {
          break;
        }
        rest.remove_prefix(amp + 1);
      }
    }
    for (const auto& [n, v] : req.headers) {
      // httplib adds these for its own bookkeeping.
      if (n == "REMOTE_ADDR" || n == "REMOTE_PORT" || n == "LOCAL_ADDR" || n == "LOCAL_PORT") {
        continue;
      }
      r.headers.emplace_back(n, v);
    }
    r.body = req.body;
    return r;
  }

  void record(const httplib::Request& req) {
    ReceivedRequest r = received(req);
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(r);
    }
    if (options_.on_request) {
      options_.on_request(r);
    }
  }

  void on(const std::vector<std::string>& methods, const std::string& pattern, Handler h) {
    auto wrapped = [this, h](const httplib::Request& req, httplib::Response& res) {
      record(req);
      h(req, res);
    };
    for (const auto& m : methods) {
      if (m == "GET") {
        server_->Get(pattern, wrapped);
      } else if (m == "POST") {
        server_->Post(pattern, wrapped);
      } else if (m == "PUT") {
        server_->Put(pattern, wrapped);
      } else if (m == "PATCH") {
        server_->Patch(pattern, wrapped);
      } else if (m == "DELETE") {
        server_->Delete(pattern, wrapped);
      } else if (m == "OPTIONS") {
        server_->Options(pattern, wrapped);
      }
    }
  }

  // Waits until `d` passed or the server stops. True when the time passed.
  bool wait_for(std::chrono::milliseconds d) {
    std::unique_lock lock(mutex_);
    return !released_.wait_for(lock, d, [this] { return stopping_; });
  }

  // The connection's socket, found among this process's descriptors by its two ports: httplib
  // does not hand it to handlers. -1 when not found.
  int connection_fd(const httplib::Request& req) const {
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
      int fd = -1;
      try {
        fd = std::stoi(entry.path().filename().string());
      } catch (...) {
        continue;
      }
      sockaddr_in local{};
      sockaddr_in peer{};
      socklen_t len = sizeof local;
      if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0 ||
          local.sin_family != AF_INET || ntohs(local.sin_port) != port_) {
        continue;
      }
      len = sizeof peer;
      if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0 ||
          ntohs(peer.sin_port) != req.remote_port) {
        continue;
      }
      return fd;
    }
    return -1;
  }

  static void json_reply(httplib::Response& res, int status, const nlohmann::json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json");
  }

  static void ado_error(httplib::Response& res, int status, const std::string& message,
                        const std::string& type) {
    json_reply(res, status,
               {{"$id", "1"},
                {"innerException", nullptr},
                {"message", message},
                {"typeName", "Microsoft.Azure.Pipelines.WebApi." + type + ", Microsoft.Azure"},
                {"typeKey", type},
                {"errorCode", 0},
                {"eventId", 3000}});
  }

  nlohmann::json run_json(const AzureRun& run, bool completed) const {
    std::string project_url = url("/" + run.organization + "/" + run.project);
    std::string pipeline_url = project_url + "/_apis/pipelines/" + std::to_string(run.pipeline);
    nlohmann::json j = {
        {"id", run.id},
        {"name", "20240101." + std::to_string(run.id)},
        {"state", completed ? "completed" : "inProgress"},
        {"createdDate", "2024-01-01T00:00:00.0000000Z"},
        {"url", pipeline_url + "/runs/" + std::to_string(run.id)},
        {"_links",
         {{"self", {{"href", pipeline_url + "/runs/" + std::to_string(run.id)}}},
          {"web", {{"href", project_url + "/_build/results?buildId=" + std::to_string(run.id)}}}}},
        {"pipeline",
         {{"id", run.pipeline},
          {"name", "pipeline-" + std::to_string(run.pipeline)},
          {"folder", "\\"},
          {"revision", 1},
          {"url", pipeline_url}}}};
    if (completed) {
      j["result"] = run.pipeline == 2 ? "failed" : run.pipeline == 3 ? "canceled" : "succeeded";
      j["finishedDate"] = "2024-01-01T00:01:00.0000000Z";
    }
    return j;
  }

  // Azure DevOps's checks common to both endpoints; false when `res` holds the refusal.
  static bool ado_checks(const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Authorization") != "Basic " + base64(":test-pat")) {
      res.status = 401;
      res.set_header("WWW-Authenticate", "Basic realm=\"https://dev.azure.com/\"");
      res.set_content("", "text/plain");
      return false;
    }
    if (req.get_param_value("api-version") != "7.1") {
      ado_error(res, 400,
                "No api-version was supplied for the \"" + req.method +
                    "\" request. The version must be supplied either as part of the Accept "
                    "header or as a query parameter.",
                "VssVersionNotSpecifiedException");
      return false;
    }
    return true;
  }

  void add_routes() {
    const std::vector<std::string> all = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};

    on(all, R"(/status/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
      res.status = std::stoi(req.matches[1]);
      res.set_content("status " + std::string(req.matches[1]) + "\n", "text/plain");
    });

    on(all, "/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(received(req).to_json().dump(), "application/json");
    });

    on({"GET"}, "/json", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(json_document().dump(), "application/json");
    });

    on({"GET"}, R"(/bytes/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(std::string(std::stoul(req.matches[1]), 'x'), "text/plain");
    });

    on(all, "/slow", [this](const httplib::Request& req, httplib::Response& res) {
      auto ms = req.has_param("ms") ? std::stol(req.get_param_value("ms")) : 1000;
      wait_for(std::chrono::milliseconds(ms));
      res.set_content("slow\n", "text/plain");
    });

    on(all, "/hang", [this](const httplib::Request&, httplib::Response& res) {
      std::unique_lock lock(mutex_);
      released_.wait(lock, [this] { return stopping_; });
      res.status = 503;
    });

    on(all, "/reset", [this](const httplib::Request& req, httplib::Response& res) {
      if (int fd = connection_fd(req); fd >= 0) {
        // A reset rather than an orderly close when httplib closes it.
        linger l{1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        shutdown(fd, SHUT_RDWR);
      }
      res.status = 500;
    });

    on(all, "/garbage", [this](const httplib::Request& req, httplib::Response& res) {
      if (int fd = connection_fd(req); fd >= 0) {
        static constexpr char text[] = "this is not HTTP at all\r\n\r\n";
        (void)!::send(fd, text, sizeof text - 1, MSG_NOSIGNAL);
        shutdown(fd, SHUT_RDWR);
      }
      res.status = 500;
    });

    on(all, R"(/flaky/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      int fail = req.has_param("fail") ? std::stoi(req.get_param_value("fail")) : 1;
      int code = req.has_param("code") ? std::stoi(req.get_param_value("code")) : 503;
      int seen = 0;
      {
        std::lock_guard lock(mutex_);
        seen = flaky_[req.matches[1]]++;
      }
      if (seen < fail) {
        res.status = code;
        res.set_content("failure " + std::to_string(seen + 1) + " of " + std::to_string(fail) +
                            "\n",
                        "text/plain");
      } else {
        res.set_content("ok after " + std::to_string(fail) + " failures\n", "text/plain");
      }
    });

    on(all, R"(/retry-after/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      int seconds = req.has_param("seconds") ? std::stoi(req.get_param_value("seconds")) : 1;
      bool first = false;
      {
        std::lock_guard lock(mutex_);
        first = retry_after_[req.matches[1]]++ == 0;
      }
      if (first) {
        res.status = 429;
        if (req.get_param_value("date") == "1") {
          std::time_t when = std::time(nullptr) + seconds;
          std::tm tm{};
          gmtime_r(&when, &tm);
          char buf[64];
          std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
          res.set_header("Retry-After", buf);
        } else {
          res.set_header("Retry-After", std::to_string(seconds));
        }
        res.set_content("slow down\n", "text/plain");
      } else {
        res.set_content("ok\n", "text/plain");
      }
    });

    on(all, R"(/redirect/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
      int n = std::stoi(req.matches[1]);
      if (n > 0) {
        res.set_redirect("/redirect/" + std::to_string(n - 1), 302);
        res.set_header("X-Hop", std::to_string(n));
      } else {
        res.set_header("X-Final", "yes");
        res.set_content("redirected\n", "text/plain");
      }
    });

    on(all, "/basic", [](const httplib::Request& req, httplib::Response& res) {
      if (req.get_header_value("Authorization") == "Basic " + base64("u:p")) {
        res.set_content("hello u\n", "text/plain");
      } else {
        res.status = 401;
        res.set_header("WWW-Authenticate", "Basic realm=\"test\"");
        res.set_content("who are you?\n", "text/plain");
      }
    });

    on(all, "/bearer", [](const httplib::Request& req, httplib::Response& res) {
      if (req.get_header_value("Authorization") == "Bearer t0ken") {
        res.set_content("hello bearer\n", "text/plain");
      } else {
        res.status = 401;
        res.set_header("WWW-Authenticate", "Bearer");
        res.set_content("who are you?\n", "text/plain");
      }
    });

    on({"POST"}, R"(/([^/]+)/([^/]+)/_apis/pipelines/(\d+)/runs)",
       [this](const httplib::Request& req, httplib::Response& res) {
         if (!ado_checks(req, res)) {
           return;
         }
         std::int64_t pipeline = std::stoll(req.matches[3]);
         if (pipeline < 1 || pipeline > 6) {
           ado_error(res, 404,
                     "Pipeline with id " + std::to_string(pipeline) +
                         " does not exist or you do not have permission to view it.",
                     "PipelineNotFoundException");
           return;
         }
         auto body = nlohmann::json::parse(req.body, nullptr, false);
         if (!body.is_object()) {
           ado_error(res, 400, "Value cannot be null.\r\nParameter name: runParameters",
                     "ArgumentNullException");
           return;
         }
         if (auto params = body.find("templateParameters");
             params != body.end() && params->contains("unexpected")) {
           ado_error(res, 400,
                     "Unexpected parameter 'unexpected'. The pipeline does not declare it.",
                     "PipelineValidationException");
           return;
         }
         AzureRun run;
         {
           std::lock_guard lock(mutex_);
           int posts = pipeline_posts_[pipeline]++;
           if (pipeline == 4 && posts == 0) {
             res.set_header("Retry-After", "1");
             ado_error(res, 429, "Request was blocked due to exceeding usage of resource.",
                       "ThrottlingException");
             return;
           }
           if (pipeline == 5 && posts == 0) {
             ado_error(res, 500, "TF400898: An Internal Error Occurred. Activity Id: 1234.",
                       "InternalServerError");
             return;
           }
           run.id = next_run_id_++;
           run.pipeline = pipeline;
           run.organization = req.matches[1];
           run.project = req.matches[2];
           runs_[run.id] = run;
         }
         json_reply(res, 200, run_json(run, false));
       });

    on({"GET"}, R"(/([^/]+)/([^/]+)/_apis/pipelines/(\d+)/runs/(\d+))",
       [this](const httplib::Request& req, httplib::Response& res) {
         if (!ado_checks(req, res)) {
           return;
         }
         std::int64_t pipeline = std::stoll(req.matches[3]);
         std::int64_t id = std::stoll(req.matches[4]);
         AzureRun run;
         {
           std::lock_guard lock(mutex_);
           auto it = runs_.find(id);
           if (it == runs_.end() || it->second.pipeline != pipeline) {
             run.id = 0;
           } else {
             run = it->second;
             run.polls = ++it->second.polls;
           }
         }
         if (run.id == 0) {
           ado_error(res, 404,
                     "Run " + std::to_string(id) + " does not exist for pipeline " +
                         std::to_string(pipeline) + ".",
                     "PipelineRunNotFoundException");
           return;
         }
         bool completed = run.pipeline != 6 && run.polls >= 2;
         json_reply(res, 200, run_json(run, completed));
       });
  }

  Options options_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;

  mutable std::mutex mutex_;
  std::condition_variable released_;
  bool stopping_ = false;
  bool listen_returned_ = false;
  std::vector<ReceivedRequest> requests_;
  std::map<std::string, int> flaky_;
  std::map<std::string, int> retry_after_;
  std::map<std::int64_t, int> pipeline_posts_;
  std::map<std::int64_t, AzureRun> runs_;
  std::int64_t next_run_id_ = 17;
};

} // namespace test
