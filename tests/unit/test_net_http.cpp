#include <net/http.hpp>
#include <net/json_path.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <support/http_server.hpp>
#include <support/temp_dir.hpp>
#include <vector>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

net::StatusSet two_xx() {
  return *net::parse_status_set({});
}

net::Retry no_retry() {
  net::Retry r;
  r.max = 0;
  return r;
}

net::Retry quick_retry(int max = 3) {
  net::Retry r;
  r.max = max;
  r.delay = 10ms;
  r.backoff = 2.0;
  return r;
}

net::Request get(const std::string& url) {
  net::Request r;
  r.url = url;
  r.timeout = 10s;
  return r;
}

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// A port where nothing listens: a server's, after it stopped.
int closed_port() {
  test::TestHttpServer server;
  return server.port();
}

struct Log {
  std::vector<std::string> lines;
  std::function<void(const std::string&)> sink() {
    return [this](const std::string& line) { lines.push_back(line); };
  }
};

nlohmann::json echo(const net::Response& r) {
  return nlohmann::json::parse(r.body);
}

} // namespace

TEST_SUITE("net.http") {

  TEST_CASE("parse_status_set reads statuses, classes and ranges") {
    struct Case {
      std::vector<std::string> items;
      std::string text;
      std::vector<long> in;
      std::vector<long> out;
    };
    const std::vector<Case> cases = {
        {{}, "2xx", {200, 204, 299}, {199, 300, 404}},
        {{"2xx"}, "2xx", {200, 250}, {302}},
        {{"2XX"}, "2xx", {201}, {500}},
        {{"200-299"}, "2xx", {200, 299}, {300}},
        {{"200-250"}, "200-250", {200, 250}, {251}},
        {{"204"}, "204", {204}, {200}},
        {{"200", "3xx"}, "200, 3xx", {200, 301, 399}, {201, 404}},
        {{"200, 404"}, "200, 404", {200, 404}, {201}},
        {{" 5xx "}, "5xx", {503}, {404}},
    };
    for (const auto& c : cases) {
      CAPTURE(c.text);
      auto set = net::parse_status_set(c.items);
      REQUIRE(set.ok());
      CHECK(set->text() == c.text);
      for (long s : c.in) {
        CHECK(set->contains(s));
      }
      for (long s : c.out) {
        CHECK_FALSE(set->contains(s));
      }
    }
  }

  TEST_CASE("parse_status_set errors name the item") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"2x", "\"2x\""},   {"600", "\"600\""},   {"abc", "\"abc\""}, {"299-200", "\"299-200\""},
        {"", "\"\""},       {"200-", "\"200-\""}, {"6xx", "\"6xx\""}, {"20", "\"20\""},
        {"200,x", "\"x\""}, {"2000", "\"2000\""},
    };
    for (const auto& [item, shown] : cases) {
      CAPTURE(item);
      auto set = net::parse_status_set({item});
      REQUIRE_FALSE(set.ok());
      CHECK(set.error().message ==
            "expect_status: " + shown +
                " is not a status, a class like 2xx or a range like 200-299");
    }
  }

  TEST_CASE("a status is a response; send compares it with the expected set") {
    test::TestHttpServer server;
    auto r = net::perform(get(server.url("/status/404")), nullptr);
    REQUIRE(r.ok());
    CHECK(r->status == 404);
    CHECK(r->reason == "Not Found");
    CHECK(r->body == "status 404\n");
    CHECK(r->url == server.url("/status/404"));

    auto ex = net::send(get(server.url("/status/404")), two_xx(), quick_retry(), nullptr, {});
    REQUIRE(ex.error);
    CHECK(ex.error->message ==
          "HTTP 404 Not Found from " + server.url("/status/404") + " (expected 2xx)");
    CHECK(ex.attempts == 1); // a 4xx is not retried
    REQUIRE(ex.response);
    CHECK(ex.response->status == 404);

    auto expect = net::parse_status_set({"404", "2xx"});
    ex = net::send(get(server.url("/status/404")), *expect, quick_retry(), nullptr, {});
    CHECK_FALSE(ex.error);
    CHECK(ex.ok());

    ex = net::send(get(server.url("/status/204")), two_xx(), no_retry(), nullptr, {});
    CHECK(ex.ok());
    CHECK(ex.response->status == 204);
    CHECK(ex.response->reason == "No Content");
  }

  TEST_CASE("query parameters are encoded and appended") {
    test::TestHttpServer server;
    auto request = get(server.url("/echo?x=1"));
    request.query = {{"q", "a b&c=d"}, {"ü", "/?#"}, {"empty", ""}};
    auto r = net::perform(request, nullptr);
    REQUIRE(r.ok());
    auto received = server.requests().at(0);
    CHECK(received.target == "/echo?x=1&q=a%20b%26c%3Dd&%C3%BC=%2F%3F%23&empty=");
    CHECK(received.query == std::vector<std::pair<std::string, std::string>>{
                                {"x", "1"}, {"q", "a b&c=d"}, {"ü", "/?#"}, {"empty", ""}});

    request = get(server.url("/echo#frag"));
    request.query = {{"a", "1"}};
    REQUIRE(net::perform(request, nullptr).ok());
    CHECK(server.requests().at(1).target == "/echo?a=1");
  }

  TEST_CASE("method, headers and body are sent; response headers read case-insensitively") {
    test::TestHttpServer server;
    net::Request request = get(server.url("/echo"));
    request.method = "PUT";
    request.headers = {{"X-One", "1"}, {"X-Empty", ""}, {"Content-Type", "application/json"}};
    request.body = R"({"k":"v"})";
    auto r = net::perform(request, nullptr);
    REQUIRE(r.ok());
    CHECK(r->status == 200);
    CHECK(r->header("content-type") == "application/json");
    CHECK(r->header("CONTENT-TYPE") == "application/json");
    CHECK_FALSE(r->header("X-Absent"));
    auto body = echo(*r);
    CHECK(body["method"] == "PUT");
    CHECK(body["headers"]["X-One"] == "1");
    // An empty value is sent ("X-Empty:"), but httplib drops such headers on its side.
    CHECK(body["body"] == R"({"k":"v"})");
    CHECK_FALSE(body["headers"].contains("Expect"));

    request.method = "DELETE";
    request.body.clear();
    r = net::perform(request, nullptr);
    REQUIRE(r.ok());
    CHECK(echo(*r)["method"] == "DELETE");

    // Large enough that curl would otherwise ask for a 100 Continue first.
    request.method = "POST";
    request.body = std::string(100000, 'b');
    r = net::perform(request, nullptr);
    REQUIRE(r.ok());
    CHECK(echo(*r)["body"].get<std::string>().size() == 100000);
  }

  TEST_CASE("bearer and basic authentication") {
    test::TestHttpServer server;
    auto request = get(server.url("/bearer"));
    CHECK(net::perform(request, nullptr)->status == 401);
    request.bearer_token = "t0ken";
    CHECK(net::perform(request, nullptr)->status == 200);
    request.bearer_token = "wrong";
    CHECK(net::perform(request, nullptr)->status == 401);

    request = get(server.url("/basic"));
    CHECK(net::perform(request, nullptr)->status == 401);
    request.basic = std::pair{std::string("u"), std::string("p")};
    CHECK(net::perform(request, nullptr)->status == 200);
    request.basic = std::pair{std::string("u"), std::string("x")};
    CHECK(net::perform(request, nullptr)->status == 401);

    // Credentials in the URL work, and stay out of the effective URL.
    request = get("http://u:p@127.0.0.1:" + std::to_string(server.port()) + "/basic");
    auto r = net::perform(request, nullptr);
    REQUIRE(r.ok());
    CHECK(r->status == 200);
    CHECK(r->url == server.url("/basic"));
  }

  TEST_CASE("line breaks and NUL bytes are refused before anything is sent") {
    test::TestHttpServer server;
    struct Case {
      std::string name;
      std::function<void(net::Request&)> change;
      std::string message;
    };
    const std::vector<Case> cases = {
        {"header value",
         [](net::Request& r) {
           r.headers = {{"X-A", "ok\r\nX-Evil: 1"}};
         },
         "header \"X-A\": a value cannot contain a line break"},
        {"header value LF",
         [](net::Request& r) {
           r.headers = {{"X-A", "ok\nX-Evil: 1"}};
         },
         "header \"X-A\": a value cannot contain a line break"},
        {"header value NUL",
         [](net::Request& r) {
           r.headers = {{"X-A", std::string("a\0b", 3)}};
         },
         "header \"X-A\": a value cannot contain a NUL byte"},
        {"header name",
         [](net::Request& r) {
           r.headers = {{"X-A\r\nX-Evil", "1"}};
         },
         "header \"X-A\\r\\nX-Evil\": a name cannot contain a line break"},
        {"header name colon",
         [](net::Request& r) {
           r.headers = {{"X-A: b", "1"}};
         },
         "header \"X-A: b\": a name must be a token like X-Request-Id"},
        {"method", [](net::Request& r) { r.method = "GET /x HTTP/1.1\r\nX-Evil: 1\r\n"; },
         "method \"GET /x HTTP/1.1\\r\\nX-Evil: 1\\r\\n\": a method cannot contain a line break"},
        {"method space", [](net::Request& r) { r.method = "GET X"; },
         "method \"GET X\" is not a method like GET or POST"},
        {"url", [](net::Request& r) { r.url += "\r\nX-Evil: 1"; },
         "url \"" + server.url("/echo") + "\\r\\nX-Evil: 1\": a URL cannot contain a line break"},
        {"bearer", [](net::Request& r) { r.bearer_token = "t\r\nX-Evil: 1"; },
         "bearer token: a token cannot contain a line break"},
    };
    for (const auto& c : cases) {
      CAPTURE(c.name);
      auto request = get(server.url("/echo"));
      c.change(request);
      auto r = net::perform(request, nullptr);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().message == c.message);
      auto ex = net::send(request, two_xx(), quick_retry(), nullptr, {});
      REQUIRE(ex.error);
      CHECK(ex.error->message == c.message);
      CHECK(ex.attempts == 1);
    }
    CHECK(server.request_count() == 0);
  }

  TEST_CASE("a JSON body and json_at paths") {
    test::TestHttpServer server;
    auto r = net::perform(get(server.url("/json")), nullptr);
    REQUIRE(r.ok());
    CHECK(r->header("Content-Type") == "application/json");
    auto doc = nlohmann::json::parse(r->body);
    CHECK(doc == test::TestHttpServer::json_document());

    const std::vector<std::pair<std::string, std::optional<std::string>>> cases = {
        {"name", "jobs"},
        {"version.major", "0"},
        {"version", R"({"major":0,"minor":1})"},
        {"items.1.id", "2"},
        {"items[0].tags[1]", "b"},
        {"items[0].tags.0", "a"},
        {"items.1.tags", "[]"},
        {"deep.list[1][1].x", "y"},
        {"deep.list.0.1", "20"},
        {"ok", "true"},
        {"nothing", "null"},
        {"ratio", "0.5"},
        {"items.5", std::nullopt},
        {"items.x", std::nullopt},
        {"name.x", std::nullopt},
        {"absent", std::nullopt},
        {"items[0", std::nullopt},
        {"items.-1", std::nullopt},
    };
    for (const auto& [path, expected] : cases) {
      CAPTURE(path);
      const nlohmann::json* at = net::json_at(doc, path);
      if (expected) {
        REQUIRE(at != nullptr);
        CHECK(net::json_text(*at) == *expected);
      } else {
        CHECK(at == nullptr);
      }
    }
    CHECK(net::json_at(doc, "") == &doc);
    nlohmann::json numbered = {{"0", "key"}};
    REQUIRE(net::json_at(numbered, "0") != nullptr);
    CHECK(net::json_text(*net::json_at(numbered, "0")) == "key");
  }

  TEST_CASE("redirects are followed, with the final response's headers, and bounded") {
    test::TestHttpServer server;
    auto r = net::perform(get(server.url("/redirect/3")), nullptr);
    REQUIRE(r.ok());
    CHECK(r->status == 200);
    CHECK(r->url == server.url("/redirect/0"));
    CHECK(r->header("X-Final") == "yes");
    CHECK_FALSE(r->header("X-Hop"));
    CHECK_FALSE(r->header("Location"));

    auto before = server.request_count();
    auto request = get(server.url("/redirect/5"));
    request.max_redirects = 2;
    auto ex = net::send(request, two_xx(), quick_retry(), nullptr, {});
    REQUIRE(ex.error);
    CHECK(ex.error->message ==
          "GET " + server.url("/redirect/5") + ": more than 2 redirects (max_redirects 2)");
    CHECK(ex.attempts == 1);
    CHECK(server.request_count() - before == 3); // 5, 4 and 3

    request.max_redirects = 0;
    r = net::perform(request, nullptr);
    REQUIRE(r.ok());
    CHECK(r->status == 302);
    CHECK(r->header("Location") == "/redirect/4");
    ex = net::send(request, two_xx(), no_retry(), nullptr, {});
    REQUIRE(ex.error);
    CHECK(ex.error->message ==
          "HTTP 302 Found from " + server.url("/redirect/5") + " (expected 2xx)");
  }

  TEST_CASE("a timeout ends a slow or hanging request") {
    test::TestHttpServer server;
    for (std::string path : {"/slow?ms=20000", "/hang"}) {
      CAPTURE(path);
      auto request = get(server.url(path));
      request.timeout = 300ms;
      auto start = Clock::now();
      auto ex = net::send(request, two_xx(), no_retry(), nullptr, {});
      auto took = since(start);
      CHECK(took >= 250ms);
      CHECK(took < 5s);
      REQUIRE(ex.error);
      CHECK(ex.timed_out);
      CHECK_FALSE(ex.cancelled);
      CHECK_FALSE(ex.response);
      CHECK(ex.error->message.starts_with("GET " + server.url(path) + ": "));
      CHECK(ex.error->message.find("timed out") != std::string::npos);
    }
    auto request = get(server.url("/slow?ms=10"));
    request.timeout = 5s;
    CHECK(net::send(request, two_xx(), no_retry(), nullptr, {}).ok());
  }

  TEST_CASE("a cancel from another thread ends a hanging request at once") {
    exec::CancelToken cancel;
    test::TestHttpServer::Options options;
    // The server's thread cancels once the request has arrived.
    options.on_request = [&](const test::ReceivedRequest&) { cancel.cancel(); };
    test::TestHttpServer server(options);
    auto request = get(server.url("/hang"));
    request.timeout = 60s;
    auto start = Clock::now();
    auto ex = net::send(request, two_xx(), quick_retry(), &cancel, {});
    CHECK(since(start) < 1s);
    REQUIRE(ex.error);
    CHECK(ex.cancelled);
    CHECK_FALSE(ex.timed_out);
    CHECK(ex.attempts == 1);
    CHECK(ex.error->message == "GET " + server.url("/hang") + ": cancelled");

    // Already cancelled: nothing is sent.
    auto r = net::perform(get(server.url("/echo")), &cancel);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "GET " + server.url("/echo") + ": cancelled");
    CHECK(server.request_count() == 1);
  }

  TEST_CASE("a cancel ends the wait between attempts") {
    exec::CancelToken cancel;
    test::TestHttpServer server;
    auto retry = quick_retry();
    retry.delay = 60s;
    // Cancels once the first attempt has its answer, so that the cancel meets the wait.
    auto log = [&](const std::string& line) {
      if (line.starts_with("attempt 1:")) {
        cancel.cancel();
      }
    };
    auto start = Clock::now();
    auto ex = net::send(get(server.url("/status/503")), two_xx(), retry, &cancel, log);
    CHECK(since(start) < 5s);
    CHECK(ex.cancelled);
    CHECK(ex.attempts == 1);
    REQUIRE(ex.error);
    CHECK(ex.error->message ==
          "GET " + server.url("/status/503") + ": cancelled while waiting to retry");
    REQUIRE(ex.response);
    CHECK(ex.response->status == 503);
  }

  TEST_CASE("a reset connection, a reply that is not HTTP and a refused connection are errors") {
    test::TestHttpServer server;
    auto r = net::perform(get(server.url("/reset")), nullptr);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.starts_with("GET " + server.url("/reset") + ": "));
    CHECK(r.error().message.size() > ("GET " + server.url("/reset") + ": ").size());

    r = net::perform(get(server.url("/garbage")), nullptr);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.starts_with("GET " + server.url("/garbage") + ": "));
    CHECK(r.error().message.find("HTTP/0.9") != std::string::npos);

    std::string url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/x";
    r = net::perform(get(url), nullptr);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.starts_with("GET " + url + ": "));
    CHECK(r.error().message.find("onnect") != std::string::npos);

    // Credentials never show in an error.
    std::string secret = "http://user:s3cret@127.0.0.1:" + std::to_string(closed_port()) + "/x";
    r = net::perform(get(secret), nullptr);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("s3cret") == std::string::npos);
    CHECK(r.error().message.find("user") == std::string::npos);

    r = net::perform(get("ftp://127.0.0.1/x"), nullptr);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.starts_with("GET ftp://127.0.0.1/x: "));
  }

  TEST_CASE("transient failures are retried with backoff, and each attempt is logged") {
    test::TestHttpServer server;
    Log log;
    auto ex =
        net::send(get(server.url("/flaky/a?fail=2")), two_xx(), quick_retry(), nullptr, log.sink());
    CHECK(ex.ok());
    CHECK(ex.attempts == 3);
    REQUIRE(ex.response);
    CHECK(ex.response->status == 200);
    CHECK(ex.response->body == "ok after 2 failures\n");
    std::string url = server.url("/flaky/a?fail=2");
    REQUIRE(log.lines.size() == 5);
    CHECK(log.lines[0].starts_with("attempt 1: GET " + url + ": HTTP 503 Service Unavailable in "));
    CHECK(log.lines[1] == "HTTP 503 from " + url + "; retry 1 of 3 in 10ms");
    CHECK(log.lines[2].starts_with("attempt 2: GET " + url + ": HTTP 503 Service Unavailable in "));
    CHECK(log.lines[3] == "HTTP 503 from " + url + "; retry 2 of 3 in 20ms");
    CHECK(log.lines[4].starts_with("attempt 3: GET " + url + ": HTTP 200 OK in "));

    // Transport failures are retried too.
    std::string refused = "http://127.0.0.1:" + std::to_string(closed_port()) + "/x";
    Log log2;
    ex = net::send(get(refused), two_xx(), quick_retry(1), nullptr, log2.sink());
    REQUIRE(ex.error);
    CHECK(ex.attempts == 2);
    CHECK(ex.error->message.starts_with("GET " + refused + ": "));
    CHECK(ex.error->message.ends_with(" after 2 attempts"));
    REQUIRE(log2.lines.size() == 3);
    CHECK(log2.lines[1].ends_with("; retry 1 of 1 in 10ms"));
  }

  TEST_CASE("429 waits as long as Retry-After says, within max_delay") {
    test::TestHttpServer server;
    Log log;
    auto start = Clock::now();
    auto ex = net::send(get(server.url("/retry-after/k?seconds=1")), two_xx(), quick_retry(),
                        nullptr, log.sink());
    CHECK(since(start) >= 1s);
    CHECK(ex.ok());
    CHECK(ex.attempts == 2);
    REQUIRE(log.lines.size() == 3);
    CHECK(log.lines[1] ==
          "HTTP 429 from " + server.url("/retry-after/k?seconds=1") + "; retry 1 of 3 in 1s");

    // An HTTP date: two seconds from now, to the second.
    start = Clock::now();
    ex = net::send(get(server.url("/retry-after/d?seconds=2&date=1")), two_xx(), quick_retry(),
                   nullptr, {});
    CHECK(since(start) >= 900ms);
    CHECK(ex.ok());
    CHECK(ex.attempts == 2);

    auto retry = quick_retry();
    retry.max_delay = 50ms;
    Log log3;
    start = Clock::now();
    ex = net::send(get(server.url("/retry-after/m?seconds=30")), two_xx(), retry, nullptr,
                   log3.sink());
    CHECK(since(start) < 10s);
    CHECK(ex.ok());
    REQUIRE(log3.lines.size() == 3);
    CHECK(log3.lines[1].ends_with("; retry 1 of 3 in 50ms"));
  }

  TEST_CASE("exhausted retries end with the last status") {
    test::TestHttpServer server;
    auto retry = quick_retry(2);
    retry.delay = 1ms;
    auto ex = net::send(get(server.url("/flaky/b?fail=10")), two_xx(), retry, nullptr, {});
    REQUIRE(ex.error);
    CHECK(ex.attempts == 3);
    CHECK(ex.error->message == "HTTP 503 Service Unavailable from " +
                                   server.url("/flaky/b?fail=10") +
                                   " (expected 2xx) after 3 attempts");
    REQUIRE(ex.response);
    CHECK(ex.response->status == 503);

    // A 5xx that is expected is not retried.
    auto expect = net::parse_status_set({"5xx"});
    ex = net::send(get(server.url("/flaky/c?fail=10")), *expect, retry, nullptr, {});
    CHECK(ex.ok());
    CHECK(ex.attempts == 1);
  }

  TEST_CASE("max_body bounds the bytes kept") {
    test::TestHttpServer server;
    auto request = get(server.url("/bytes/500000"));
    request.max_body = 100;
    auto r = net::perform(request, nullptr);
    REQUIRE(r.ok());
    CHECK(r->status == 200);
    CHECK(r->body == std::string(100, 'x'));
    CHECK(r->truncated);

    request = get(server.url("/bytes/100"));
    request.max_body = 100;
    r = net::perform(request, nullptr);
    REQUIRE(r.ok());
    CHECK(r->body.size() == 100);
    CHECK_FALSE(r->truncated);

    request.max_body = 0;
    r = net::perform(request, nullptr);
    REQUIRE(r.ok());
    CHECK(r->body.empty());
    CHECK(r->truncated);
  }

  TEST_CASE("TLS: a self-signed certificate fails verification unless it is the ca_file") {
    test::TempDir dir("jobs-net-tls");
    std::string cert = (dir.path / "cert.pem").string();
    std::string key = (dir.path / "key.pem").string();
    std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1"
                          " -addext subjectAltName=IP:127.0.0.1 -keyout " +
                          key + " -out " + cert + " >/dev/null 2>&1";
    REQUIRE(std::system(command.c_str()) == 0);
    test::TestHttpServer::Options options;
    options.cert_file = cert;
    options.key_file = key;
    test::TestHttpServer server(options);
    REQUIRE(server.url().starts_with("https://"));

    auto ex = net::send(get(server.url("/status/200")), two_xx(), quick_retry(), nullptr, {});
    REQUIRE(ex.error);
    CHECK(ex.attempts == 1); // a verification failure is not retried
    CHECK(ex.error->message.starts_with("GET " + server.url("/status/200") + ": "));
    CHECK(ex.error->message.find("certificate") != std::string::npos);

    auto request = get(server.url("/status/200"));
    request.ca_file = cert;
    auto r = net::perform(request, nullptr);
    REQUIRE(r.ok());
    CHECK(r->status == 200);

    request = get(server.url("/echo"));
    request.verify_tls = false;
    r = net::perform(request, nullptr);
    REQUIRE(r.ok());
    CHECK(r->status == 200);

    request = get(server.url("/status/200"));
    request.ca_file = (dir.path / "missing.pem").string();
    CHECK_FALSE(net::perform(request, nullptr).ok());
  }

  TEST_CASE("redact_url and format_wait") {
    CHECK(net::redact_url("http://u:p@host:1/x?y#z") == "http://host:1/x?y#z");
    CHECK(net::redact_url("https://token@host/x") == "https://host/x");
    CHECK(net::redact_url("http://host/a@b") == "http://host/a@b");
    CHECK(net::redact_url("http://host") == "http://host");
    CHECK(net::redact_url("not a url") == "not a url");
    CHECK(net::format_wait(0ms) == "0ms");
    CHECK(net::format_wait(250ms) == "250ms");
    CHECK(net::format_wait(1000ms) == "1s");
    CHECK(net::format_wait(1500ms) == "1.5s");
    CHECK(net::format_wait(60s) == "1m");
    CHECK(net::format_wait(600s) == "10m");
    CHECK(net::format_wait(5400s) == "1h30m");
  }

} // TEST_SUITE
