// The HTTP API's parts that need no daemon: the http: section of the configuration, the tokens
// and their roles, and the route table (matching, arguments, problem codes).
#include <jobsd/api.hpp>
#include <jobsd/config.hpp>
#include <jobsd/tokens.hpp>

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <support/temp_dir.hpp>

using namespace std::chrono_literals;

TEST_SUITE("jobsd.http") {
  TEST_CASE("no http: section, no listener; an empty one, the defaults") {
    CHECK_FALSE(jobsd::parse_config("socket: /run/j.sock\n", "/etc/j.yaml").config.http);
    const auto loaded = jobsd::parse_config("http:\n", "/etc/j.yaml");
    REQUIRE(loaded.ok());
    REQUIRE(loaded.config.http);
    const auto& h = *loaded.config.http;
    CHECK(h.listen == "127.0.0.1:8080");
    CHECK(h.max_connections == 256);
    CHECK(h.max_request_bytes == 1 << 20);
    CHECK(h.request_timeout == 10s);
    CHECK_FALSE(h.allow_plaintext);
    CHECK_FALSE(h.metrics_auth);
    CHECK(h.manual_runs_per_hour == 0);
  }

  TEST_CASE("every key of http: is read; relative TLS paths are the file's folder's") {
    const auto loaded = jobsd::parse_config("http:\n"
                                            "  listen: \"[::1]:9443\"\n"
                                            "  cert_file: tls/c.pem\n"
                                            "  key_file: tls/k.pem\n"
                                            "  allow_plaintext: true\n"
                                            "  max_connections: 10\n"
                                            "  max_connections_per_ip: 3\n"
                                            "  max_request_bytes: 64K\n"
                                            "  request_timeout: 30s\n"
                                            "  metrics_auth: true\n"
                                            "  rate_limits:\n"
                                            "    manual_runs_per_hour: 10\n",
                                            "/etc/jobs/jobsd.yaml");
    REQUIRE(loaded.ok());
    const auto& h = *loaded.config.http;
    CHECK(h.listen == "[::1]:9443");
    CHECK(h.cert_file == "/etc/jobs/tls/c.pem");
    CHECK(h.key_file == "/etc/jobs/tls/k.pem");
    CHECK(h.allow_plaintext);
    CHECK(h.max_connections == 10);
    CHECK(h.max_connections_per_ip == 3);
    CHECK(h.max_request_bytes == 64 << 10);
    CHECK(h.request_timeout == 30s);
    CHECK(h.metrics_auth);
    CHECK(h.manual_runs_per_hour == 10);
  }

  TEST_CASE("http: errors have their places") {
    const auto loaded = jobsd::parse_config("http:\n"
                                            "  cert_file: c.pem\n"
                                            "  max_conections: 5\n"
                                            "  metrics_auth: yes\n",
                                            "/etc/j.yaml");
    REQUIRE(loaded.errors.size() == 3);
    CHECK(loaded.errors[0].message == "\"http\": TLS needs both \"cert_file\" and \"key_file\"");
    CHECK(loaded.errors[1].message ==
          "unknown http key \"max_conections\"; did you mean \"max_connections\"?");
    CHECK(loaded.errors[1].location.line == 3);
    CHECK(loaded.errors[2].message == "\"http.metrics_auth\": expected true or false, got \"yes\"");
  }

  TEST_CASE("roles: viewers read, operators act on their glob's jobs, admins do everything") {
    using jobsd::Role;
    CHECK(jobsd::role_allows(Role::viewer, "*", "list", false, ""));
    CHECK_FALSE(jobsd::role_allows(Role::viewer, "*", "trigger", true, "a"));
    CHECK(jobsd::role_allows(Role::operator_, "web-*", "trigger", true, "web-1"));
    CHECK(jobsd::role_allows(Role::operator_, "web-*", "cancel", true, "web-1"));
    CHECK_FALSE(jobsd::role_allows(Role::operator_, "web-*", "trigger", true, "db-1"));
    CHECK_FALSE(jobsd::role_allows(Role::operator_, "*", "reload", true, ""));
    CHECK_FALSE(jobsd::role_allows(Role::operator_, "*", "token_create", true, ""));
    CHECK_FALSE(jobsd::role_allows(Role::operator_, "*", "cancel", true, ""));
    CHECK(jobsd::role_allows(Role::admin, "", "reload", true, ""));
  }

  TEST_CASE("tokens: made once, kept as hashes in a 0600 file, found by their text, revoked") {
    test::TempDir dir;
    const std::string path = (dir.path / "tokens.json").string();
    jobsd::Tokens tokens(path);
    REQUIRE(tokens.load());
    auto text = tokens.create("ci", jobsd::Role::operator_, "web-*", 1000);
    REQUIRE(text);
    CHECK(text->size() == 48);
    CHECK(text->starts_with("jobs_"));
    struct stat st {};
    REQUIRE(stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    std::stringstream file;
    file << std::ifstream(path).rdbuf();
    CHECK(file.str().find(*text) == std::string::npos);

    jobsd::Tokens again(path);
    REQUIRE(again.load());
    const jobsd::Token* found = again.find(*text);
    REQUIRE(found != nullptr);
    CHECK(found->name == "ci");
    CHECK(found->jobs == "web-*");
    CHECK(again.find(*text + "x") == nullptr);
    CHECK(again.find("") == nullptr);
    CHECK_FALSE(again.create("ci", jobsd::Role::admin, "*", 0));
    CHECK_FALSE(again.create("../x", jobsd::Role::admin, "*", 0));
    REQUIRE(again.revoke("ci"));
    CHECK(*again.revoke("ci") == false);
    CHECK(again.find(*text) == nullptr);

    chmod(path.c_str(), 0644);
    CHECK(again.load().error().message ==
          path + " must be owned by uid " + std::to_string(geteuid()) + " with mode 0600");
  }

  TEST_CASE("routes: a path's route, its id, 405's methods, 404 for tricks") {
    const auto m = jobsd::api::match("POST", "/api/v2/jobs/backup/trigger");
    REQUIRE(m.route != nullptr);
    CHECK(std::string(m.route->command) == "trigger");
    CHECK(m.id == "backup");
    const auto wrong = jobsd::api::match("GET", "/api/v2/jobs/backup/trigger");
    CHECK(wrong.route == nullptr);
    CHECK(wrong.allow == std::vector<std::string>{"POST"});
    for (const char* path : {"/api/v2/jobs/../trigger", "/api/v2/jobs/a/b", "//api/v2/jobs",
                             "/api/v2/jobs/", "/api/v2/jobs/..", "/api/v2/jobs/a b"}) {
      CAPTURE(path);
      const auto none = jobsd::api::match("GET", path);
      CHECK(none.route == nullptr);
      CHECK(none.allow.empty());
    }
  }

  TEST_CASE("routes: args from the id, the query and the body; wrong ones say why") {
    const auto* history = jobsd::api::match("GET", "/api/v2/executions").route;
    REQUIRE(history != nullptr);
    auto args = jobsd::api::build_args(
        *history, "", {{"job", "a"}, {"since", "2026-01-01T00:00:00Z"}, {"limit", "5"}}, nullptr);
    REQUIRE(args);
    CHECK(args->dump() == R"({"page":true,"job":"a","since_ms":1767225600000,"limit":5})");
    CHECK(jobsd::api::build_args(*history, "", {{"limit", "five"}}, nullptr).error().message ==
          "\"limit\" must be an integer, not \"five\"");
    const auto* pause = jobsd::api::match("POST", "/api/v2/jobs/a/pause").route;
    REQUIRE(pause != nullptr);
    CHECK(jobsd::api::build_args(*pause, "a", {}, {{"reason", "x"}})->dump() ==
          R"({"job":"a","reason":"x"})");
    CHECK(jobsd::api::build_args(*pause, "a", {}, {{"reson", "x"}}).error().message ==
          "unknown field \"reson\" in the body");
    CHECK(jobsd::api::build_args(*pause, "a", {}, {{"reason", 3}}).error().message ==
          "\"reason\" must be a string");
    CHECK(jobsd::api::build_args(*pause, "a", {}, ipc::Json::array()).error().message ==
          "the body must be a JSON object");
  }

  TEST_CASE("problem codes map to HTTP statuses") {
    CHECK(jobsd::api::status_of("invalid") == 422);
    CHECK(jobsd::api::status_of("denied") == 403);
    CHECK(jobsd::api::status_of("unknown_command") == 404);
    CHECK(jobsd::api::status_of("conflict") == 409);
    CHECK(jobsd::api::problem(404, "not_found", "no job x")["type"] ==
          "https://jobs.invalid/problems/not_found");
  }
}
