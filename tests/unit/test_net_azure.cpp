#include <net/azure_devops.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <support/http_server.hpp>
#include <vector>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

net::azure::Pipeline pipeline(const test::TestHttpServer& server, std::int64_t id) {
  net::azure::Pipeline p;
  p.base_url = server.url() + "/";
  p.organization = "acme";
  p.project = "my project";
  p.pipeline_id = id;
  p.pat = "test-pat";
  p.request_timeout = 10s;
  p.retry.max = 3;
  p.retry.delay = 10ms;
  return p;
}

struct Log {
  std::vector<std::string> lines;
  std::function<void(const std::string&)> sink() {
    return [this](const std::string& line) { lines.push_back(line); };
  }
  bool has(const std::string& part) const {
    for (const auto& l : lines) {
      if (l.find(part) != std::string::npos) {
        return true;
      }
    }
    return false;
  }
};

std::vector<test::ReceivedRequest> posts(const test::TestHttpServer& server) {
  std::vector<test::ReceivedRequest> out;
  for (const auto& r : server.requests()) {
    if (r.method == "POST") {
      out.push_back(r);
    }
  }
  return out;
}

} // namespace

TEST_SUITE("net.azure") {

  TEST_CASE("queue_run posts the branch and the template parameters") {
    test::TestHttpServer server;
    auto p = pipeline(server, 1);
    p.branch = "main";
    p.parameters = {{"env", "prod"}, {"count", "3"}};
    Log log;
    auto run = net::azure::queue_run(p, nullptr, log.sink());
    REQUIRE(run.ok());
    CHECK(run->id == 17);
    CHECK(run->state == "inProgress");
    CHECK(run->result.empty());
    CHECK(run->url == server.url("/acme/my project/_build/results?buildId=17"));
    CHECK(log.has("queued run 17 of pipeline 1: "));

    auto sent = posts(server);
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].target == "/acme/my%20project/_apis/pipelines/1/runs?api-version=7.1");
    CHECK(sent[0].header("Authorization") == "Basic " + test::TestHttpServer::base64(":test-pat"));
    CHECK(sent[0].header("Content-Type") == "application/json");
    auto body = nlohmann::json::parse(sent[0].body);
    CHECK(body == nlohmann::json::parse(R"({
    "resources": {"repositories": {"self": {"refName": "refs/heads/main"}}},
    "templateParameters": {"env": "prod", "count": "3"}
  })"));
  }

  TEST_CASE("queue_run keeps a full ref and leaves out what is not given") {
    test::TestHttpServer server;
    auto p = pipeline(server, 1);
    p.branch = "refs/tags/v1.2";
    REQUIRE(net::azure::queue_run(p, nullptr, {}).ok());
    p.branch.clear();
    REQUIRE(net::azure::queue_run(p, nullptr, {}).ok());
    auto sent = posts(server);
    REQUIRE(sent.size() == 2);
    CHECK(nlohmann::json::parse(sent[0].body) ==
          nlohmann::json::parse(
              R"({"resources":{"repositories":{"self":{"refName":"refs/tags/v1.2"}}}})"));
    CHECK(nlohmann::json::parse(sent[1].body) == nlohmann::json::object());
  }

  TEST_CASE("wait_for_run polls until the run completes, whatever its result") {
    struct Case {
      std::int64_t pipeline;
      std::string result;
    };
    for (const auto& c : std::vector<Case>{{1, "succeeded"}, {2, "failed"}, {3, "canceled"}}) {
      CAPTURE(c.pipeline);
      test::TestHttpServer server;
      auto p = pipeline(server, c.pipeline);
      auto queued = net::azure::queue_run(p, nullptr, {});
      REQUIRE(queued.ok());
      Log log;
      auto run = net::azure::wait_for_run(p, queued->id, 10ms, 30s, nullptr, log.sink());
      REQUIRE(run.ok());
      CHECK(run->id == queued->id);
      CHECK(run->state == "completed");
      CHECK(run->result == c.result);
      CHECK(run->url == queued->url);
      CHECK(log.lines ==
            std::vector<std::string>{"run 17: inProgress", "run 17: completed (" + c.result + ")"});
      auto gets = server.requests_to("/acme/my project/_apis/pipelines/" +
                                     std::to_string(c.pipeline) + "/runs/17");
      CHECK(gets.size() == 2);
      for (const auto& g : gets) {
        CHECK(g.method == "GET");
        CHECK(g.param("api-version") == "7.1");
      }
    }
  }

  TEST_CASE("a refused token and a missing pipeline say what to do") {
    test::TestHttpServer server;
    auto p = pipeline(server, 1);
    p.pat = "wrong";
    auto run = net::azure::queue_run(p, nullptr, {});
    REQUIRE_FALSE(run.ok());
    CHECK(run.error().message == "Azure DevOps refused the token for organization acme (HTTP 401): "
                                 "check the PAT and its Build (Read & execute) scope");

    auto w = net::azure::wait_for_run(p, 17, 10ms, 1s, nullptr, {});
    REQUIRE_FALSE(w.ok());
    CHECK(w.error().message == "Azure DevOps refused the token for organization acme (HTTP 401): "
                               "check the PAT and its Build (Read & execute) scope");

    p = pipeline(server, 99);
    run = net::azure::queue_run(p, nullptr, {});
    REQUIRE_FALSE(run.ok());
    CHECK(run.error().message == "pipeline 99 not found in acme/my project (HTTP 404)");

    p = pipeline(server, 1);
    w = net::azure::wait_for_run(p, 999, 10ms, 1s, nullptr, {});
    REQUIRE_FALSE(w.ok());
    CHECK(w.error().message == "run 999 of pipeline 1 not found in acme/my project (HTTP 404)");
  }

  TEST_CASE("other errors carry the status and Azure DevOps's message") {
    test::TestHttpServer server;
    auto p = pipeline(server, 1);
    p.parameters = {{"unexpected", "1"}};
    auto run = net::azure::queue_run(p, nullptr, {});
    REQUIRE_FALSE(run.ok());
    CHECK(run.error().message ==
          "Azure DevOps answered HTTP 400 Bad Request to queue pipeline 1 in acme/my project: "
          "Unexpected parameter 'unexpected'. The pipeline does not declare it.");

    p = pipeline(server, 1);
    p.base_url = "http://127.0.0.1:1";
    p.retry.max = 0;
    run = net::azure::queue_run(p, nullptr, {});
    REQUIRE_FALSE(run.ok());
    CHECK(run.error().message.starts_with(
        "POST http://127.0.0.1:1/acme/my%20project/_apis/pipelines/1/runs?api-version=7.1: "));
  }

  TEST_CASE("429 and 500 are retried") {
    test::TestHttpServer server;
    auto p = pipeline(server, 4);
    Log log;
    auto start = Clock::now();
    auto run = net::azure::queue_run(p, nullptr, log.sink());
    CHECK(Clock::now() - start >= 1s);
    REQUIRE(run.ok());
    CHECK(run->state == "inProgress");
    CHECK(posts(server).size() == 2);
    CHECK(log.has("HTTP 429 from " + server.url() +
                  "/acme/my%20project/_apis/pipelines/4/runs?api-version=7.1; retry 1 of 3 in 1s"));

    p = pipeline(server, 5);
    Log log5;
    run = net::azure::queue_run(p, nullptr, log5.sink());
    REQUIRE(run.ok());
    CHECK(posts(server).size() == 4);
    CHECK(log5.has("HTTP 500 from "));
    auto done = net::azure::wait_for_run(p, run->id, 10ms, 30s, nullptr, {});
    REQUIRE(done.ok());
    CHECK(done->result == "succeeded");

    p = pipeline(server, 5);
    p.retry.max = 0;
    test::TestHttpServer fresh;
    p.base_url = fresh.url();
    run = net::azure::queue_run(p, nullptr, {});
    REQUIRE_FALSE(run.ok());
    CHECK(run.error().message == "Azure DevOps answered HTTP 500 Internal Server Error to queue "
                                 "pipeline 5 in acme/my project: TF400898: An Internal Error "
                                 "Occurred. Activity Id: 1234.");
  }

  TEST_CASE("wait_for_run gives up after its timeout, and on cancel") {
    test::TestHttpServer server;
    auto p = pipeline(server, 6);
    auto queued = net::azure::queue_run(p, nullptr, {});
    REQUIRE(queued.ok());
    auto start = Clock::now();
    auto run = net::azure::wait_for_run(p, queued->id, 20ms, 200ms, nullptr, {});
    CHECK(Clock::now() - start >= 200ms);
    CHECK(Clock::now() - start < 10s);
    REQUIRE_FALSE(run.ok());
    CHECK(run.error().message == "run 17 had not completed after 200ms (state inProgress)");

    exec::CancelToken cancel;
    std::atomic<int> gets{0};
    test::TestHttpServer::Options options;
    // Cancels from the server's thread at the second poll.
    options.on_request = [&](const test::ReceivedRequest& r) {
      if (r.method == "GET" && ++gets == 2) {
        cancel.cancel();
      }
    };
    test::TestHttpServer cancelling(options);
    p = pipeline(cancelling, 6);
    queued = net::azure::queue_run(p, nullptr, {});
    REQUIRE(queued.ok());
    start = Clock::now();
    run = net::azure::wait_for_run(p, queued->id, 10ms, 60s, &cancel, {});
    CHECK(Clock::now() - start < 10s);
    REQUIRE_FALSE(run.ok());
    CHECK(run.error().message == "cancelled while waiting for run 17");
  }

} // TEST_SUITE
