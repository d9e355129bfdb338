#include "support/temp_dir.hpp"

#include <engine/builtin.hpp>
#include <engine/integrations.hpp>
#include <exec/process.hpp>
#include <jobs/loader.hpp>
#include <sql/sql.hpp>

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The test cluster of tests/support/postgres.sh, when $JOBS_TEST_POSTGRES names one; skipped
// with a message without it, except on CI where that is a failure (as in test_sql.cpp).
struct Postgres {
  std::string conninfo;
  std::string password;
};

std::optional<Postgres> postgres() {
  const char* dir = std::getenv("JOBS_TEST_POSTGRES");
  if (dir == nullptr || *dir == '\0') {
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") {
      FAIL("JOBS_TEST_POSTGRES is not set (start tests/support/postgres.sh)");
    } else {
      MESSAGE("JOBS_TEST_POSTGRES is not set: PostgreSQL cases skipped");
    }
    return std::nullopt;
  }
  Postgres pg{read_line(std::string(dir) + "/conninfo"), read_line(std::string(dir) + "/password")};
  REQUIRE_MESSAGE(!pg.conninfo.empty(), "no conninfo in ", dir);
  return pg;
}

// tests/support/smtp_server.py as a child process (as in test_mail.cpp), serving `maildir`
// until the end of the scope; ready once it printed "listening on PORT".
class SmtpServer {
public:
  explicit SmtpServer(const fs::path& maildir) {
    const char* script = std::getenv("JOBS_TEST_SMTP_SERVER");
    std::vector<std::string> args = {
        "python3",
        script != nullptr
            ? script
            : (fs::path(__FILE__).parent_path().parent_path() / "support" / "smtp_server.py")
                  .string(),
        "--maildir", maildir.string()};
    std::vector<char*> argv;
    for (auto& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2 failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    const int spawned = posix_spawnp(&pid_, "python3", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    out_ = fds[0];
    if (spawned != 0) {
      pid_ = -1;
      throw std::runtime_error("cannot start python3");
    }
    std::string line;
    while (line.find('\n') == std::string::npos) {
      pollfd ready{out_, POLLIN, 0};
      if (::poll(&ready, 1, 30000) != 1) {
        throw std::runtime_error("smtp_server.py did not start");
      }
      char buffer[256];
      const ssize_t n = ::read(out_, buffer, sizeof buffer);
      if (n <= 0) {
        throw std::runtime_error("smtp_server.py exited: " + line);
      }
      line.append(buffer, static_cast<size_t>(n));
    }
    if (line.rfind("listening on ", 0) != 0) {
      throw std::runtime_error("smtp_server.py said: " + line);
    }
    port_ = std::stoi(line.substr(13));
  }
  ~SmtpServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) {
      ::close(out_);
    }
  }
  SmtpServer(const SmtpServer&) = delete;
  SmtpServer& operator=(const SmtpServer&) = delete;

  int port() const { return port_; }

private:
  pid_t pid_ = -1;
  int out_ = -1;
  int port_ = 0;
};

// One template step run through engine::run_builtin, on the connections, folders and SMTP
// server of `integrations`: a temporary folder `dir` whose data/ is the one allowed path, a
// SQLite database data/app.db as connection "app", and variables from `vars`.
struct Harness {
  test::TempDir dir{"jobs-templates"};
  fs::path data = dir.path / "data";
  fs::path db_path = data / "app.db";
  engine::Integrations integrations;
  std::map<std::string, std::string> vars = {{"execution.scheduled_date", "2026-01-02"}};
  std::vector<std::string> lines;
  std::function<void(std::string_view)> on_line;
  std::unique_ptr<sql::Connection> db;

  Harness() {
    fs::create_directories(data);
    integrations.allowed_paths = {data.string()};
    integrations.connections["app"] = {"app", sql::Driver::sqlite, db_path.string(), {}};
    auto connected = sql::connect({"app", sql::Driver::sqlite, db_path.string(), std::nullopt});
    REQUIRE(connected.ok());
    db = std::move(*connected);
  }

  // Adds connection "pg" to the test cluster, its password a secret; false without a cluster.
  std::optional<Postgres> add_postgres() {
    auto pg = postgres();
    if (pg) {
      integrations.secrets["pg_password"] = pg->password;
      integrations.connections["pg"] = {"pg",
                                        sql::Driver::postgresql,
                                        pg->conninfo,
                                        {engine::Credential::Source::secret, "pg_password"}};
    }
    return pg;
  }

  jobs::JobDefinition job(const std::string& yaml) {
    auto file = jobs::load_job_text((dir.path / "job.yaml").string(), yaml, {});
    std::string errors;
    for (const auto& d : file.diagnostics) {
      errors += jobs::render(d) + "\n";
    }
    INFO(errors);
    REQUIRE(file.job.has_value());
    return *file.job;
  }

  engine::BuiltinResult run(const std::string& yaml, exec::CancelToken* cancel = nullptr) {
    const jobs::JobDefinition j = job(yaml);
    REQUIRE(j.steps.size() == 1);
    lines.clear();
    const engine::BuiltinContext c{j,
                                   j.steps[0],
                                   integrations,
                                   [&](const std::string& name) {
                                     const auto it = vars.find(name);
                                     return it != vars.end() ? it->second : std::string();
                                   },
                                   cancel,
                                   [&](std::string_view s) {
                                     lines.emplace_back(s);
                                     if (on_line) {
                                       on_line(s);
                                     }
                                   }};
    return engine::run_builtin(c);
  }

  sql::Result sql(sql::Connection& connection, const std::string& script) {
    auto r = connection.run(script, {}, {});
    REQUIRE_MESSAGE(r.ok(), script, ": ", (r.ok() ? "" : r.error().message));
    return std::move(*r);
  }
  sql::Result sql(const std::string& script) { return sql(*db, script); }

  std::int64_t count(sql::Connection& connection, const std::string& table) {
    const auto r = sql(connection, "SELECT count(*) FROM " + table);
    REQUIRE(r.rows.size() == 1);
    return r.rows[0][0].is_string() ? std::stoll(r.rows[0][0].get<std::string>())
                                    : r.rows[0][0].get<std::int64_t>();
  }
  std::int64_t count(const std::string& table) { return count(*db, table); }
};

std::string failure(const engine::BuiltinResult& r) {
  return r.status == engine::Status::success ? std::string() : r.error_message;
}

// `rows` rows (id 1..rows; kind 'old' for ids up to `old`, else 'new') in table events.
void fill_events(Harness& h, int rows, int old) {
  h.sql("CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT, name TEXT)");
  h.sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
        std::to_string(rows) + ") INSERT INTO events SELECT i, CASE WHEN i <= " +
        std::to_string(old) + " THEN 'old' ELSE 'new' END, 'event ' || i FROM n");
}

bool has_line(const Harness& h, const std::string& line) {
  for (const auto& l : h.lines) {
    if (l == line) {
      return true;
    }
  }
  return false;
}

std::string all_lines(const Harness& h) {
  std::string out;
  for (const auto& l : h.lines) {
    out += l + "\n";
  }
  return out;
}

} // namespace

TEST_SUITE("templates") {
  TEST_CASE("database_cleanup: a dry run by default counts and deletes nothing") {
    Harness h;
    fill_events(h, 10, 4);
    const auto r = h.run(R"(
steps:
  - id: tidy
    type: database_cleanup
    connection: app
    table: events
    where: kind = 'old'
)");
    REQUIRE_MESSAGE(r.status == engine::Status::success, r.error_message);
    CHECK(h.count("events") == 10);
    CHECK(r.fields.at("affected") == "4");
    CHECK(r.fields.at("row_count") == "4");
    CHECK(r.fields.at("json") == R"({"table":"events","deleted":4,"dry_run":true,"batches":0})");
    CHECK(h.lines == std::vector<std::string>{
                         "would delete 4 rows from events where kind = 'old' (a dry run: nothing "
                         "deleted; dry_run: false deletes)"});
    CHECK(r.output == h.lines[0] + "\n");
  }

  TEST_CASE("database_cleanup: deletes in batches until a batch is short") {
    Harness h;
    fill_events(h, 2600, 2500);
    const auto r = h.run(R"(
steps:
  - id: tidy
    type: database_cleanup
    connection: app
    table: events
    where: kind = 'old'
    batch_size: 1000
    dry_run: false
)");
    REQUIRE_MESSAGE(r.status == engine::Status::success, r.error_message);
    CHECK(h.count("events") == 100);
    CHECK(h.count("events WHERE kind = 'old'") == 0);
    CHECK(r.fields.at("affected") == "2500");
    CHECK(r.fields.at("json") ==
          R"({"table":"events","deleted":2500,"dry_run":false,"batches":3})");
    CHECK(h.lines == std::vector<std::string>{
                         "deleting the rows of events where kind = 'old' in batches of 1000",
                         "batch 1: deleted 1000 rows", "batch 2: deleted 1000 rows",
                         "batch 3: deleted 500 rows",
                         "deleted 2500 rows from events in 3 batches"});

    // Nothing left to delete: one batch of none.
    const auto again = h.run(R"(
steps:
  - {id: tidy, type: database_cleanup, connection: app, table: events, where: "kind = 'old'",
     dry_run: false}
)");
    REQUIRE_MESSAGE(again.status == engine::Status::success, again.error_message);
    CHECK(again.fields.at("json") ==
          R"({"table":"events","deleted":0,"dry_run":false,"batches":1})");
    CHECK(h.count("events") == 100);
  }

  TEST_CASE("database_cleanup: older_than on SQLite, whatever form the times are in") {
    Harness h;
    h.sql("CREATE TABLE logs (id INTEGER PRIMARY KEY, created TEXT, iso TEXT, at_unix INTEGER, "
          "at_ms INTEGER, julian REAL, untyped)");
    // Ids 1-3 are 10 days old, 4-5 an hour old, 6 has no time; in the form of
    // CURRENT_TIMESTAMP, ISO 8601 with T and Z, Unix seconds and milliseconds, Julian days, and
    // Unix seconds in a column without a type (no conversion on comparison).
    h.sql("WITH RECURSIVE n(i, age) AS (SELECT 1, '-10 days' UNION ALL SELECT i + 1, CASE WHEN "
          "i + 1 <= 3 THEN '-10 days' ELSE '-1 hours' END FROM n WHERE i < 5) "
          "INSERT INTO logs SELECT i, datetime('now', age), strftime('%Y-%m-%dT%H:%M:%SZ', "
          "'now', age), CAST(strftime('%s', 'now', age) AS INTEGER), CAST(strftime('%s', 'now', "
          "age) AS INTEGER) * 1000 + 123, julianday('now', age), CAST(strftime('%s', 'now', age) "
          "AS INTEGER) FROM n");
    h.sql("INSERT INTO logs (id) VALUES (6)");
    const std::vector<std::pair<std::string, std::string>> columns = {
        {"created", ""},
        {"iso", ""},
        {"at_unix", " (Unix seconds)"},
        {"at_ms", " (Unix milliseconds)"},
        {"julian", " (Julian days)"},
        {"untyped", " (Unix seconds)"}};
    for (const auto& [column, unit] : columns) {
      CAPTURE(column);
      const auto dry = h.run(R"(
steps:
  - {id: tidy, type: database_cleanup, connection: app, table: logs, older_than: 7d,
     column: )" + column + "}\n");
      REQUIRE_MESSAGE(dry.status == engine::Status::success, dry.error_message);
      CHECK(dry.fields.at("affected") == "3");
      REQUIRE(h.lines.size() == 1);
      CHECK(h.lines[0].rfind("would delete 3 rows from logs whose " + column + unit +
                                 " is older than 7d (before ",
                             0) == 0);
    }
    const auto r = h.run(R"(
steps:
  - {id: tidy, type: database_cleanup, connection: app, table: logs, older_than: 7d,
     column: at_unix, dry_run: false}
)");
    REQUIRE_MESSAGE(r.status == engine::Status::success, r.error_message);
    CHECK(r.fields.at("affected") == "3");
    CHECK(h.sql("SELECT id FROM logs ORDER BY id").rows ==
          std::vector<std::vector<nlohmann::json>>{{4}, {5}, {6}});
  }

  TEST_CASE("database_cleanup: older_than on PostgreSQL, in batches") {
    Harness h;
    const auto pg = h.add_postgres();
    if (!pg) {
      return;
    }
    auto connected = sql::connect({"pg", sql::Driver::postgresql, pg->conninfo, pg->password, 10s});
    REQUIRE(connected.ok());
    sql::Connection& db = **connected;
    h.sql(db, "DROP TABLE IF EXISTS cleanup_logs; CREATE TABLE cleanup_logs (id int, created "
              "timestamptz, day date)");
    h.sql(db, "INSERT INTO cleanup_logs SELECT g, now() - CASE WHEN g <= 5 THEN interval '10 "
              "days' ELSE interval '1 hour' END, (now() - CASE WHEN g <= 5 THEN interval '10 "
              "days' ELSE interval '1 hour' END)::date FROM generate_series(1, 8) g");
    const auto dry = h.run(R"(
steps:
  - {id: tidy, type: database_cleanup, connection: pg, table: public.cleanup_logs,
     older_than: 7d, column: day}
)");
    REQUIRE_MESSAGE(dry.status == engine::Status::success, dry.error_message);
    CHECK(dry.fields.at("affected") == "5");

    const auto r = h.run(R"(
steps:
  - {id: tidy, type: database_cleanup, connection: pg, table: public.cleanup_logs,
     older_than: 7d, column: created, batch_size: 2, dry_run: false}
)");
    REQUIRE_MESSAGE(r.status == engine::Status::success, r.error_message);
    CHECK(r.fields.at("json") ==
          R"({"table":"public.cleanup_logs","deleted":5,"dry_run":false,"batches":3})");
    CHECK(h.count(db, "cleanup_logs") == 3);
    CHECK(h.count(db, "cleanup_logs WHERE id <= 5") == 0);
    CHECK_FALSE(contains(r.output, pg->password));
    h.sql(db, "DROP TABLE cleanup_logs");
  }

  TEST_CASE("database_cleanup: ODBC deletes in one statement") {
    Harness h;
    fill_events(h, 30, 25);
    h.integrations.connections["odbc"] = {
        "odbc", sql::Driver::odbc, "Driver=SQLite3;Database=" + h.db_path.string(), {}};
    const auto dry = h.run(R"(
steps:
  - {id: tidy, type: database_cleanup, connection: odbc, table: events, where: "kind = 'old'"}
)");
    REQUIRE_MESSAGE(dry.status == engine::Status::success, dry.error_message);
    CHECK(dry.fields.at("affected") == "25");
    const auto r = h.run(R"(
steps:
  - {id: tidy, type: database_cleanup, connection: odbc, table: events, where: "kind = 'old'",
     batch_size: 10, dry_run: false}
)");
    REQUIRE_MESSAGE(r.status == engine::Status::success, r.error_message);
    CHECK(h.lines == std::vector<std::string>{
                         "deleting the rows of events where kind = 'old' in one DELETE (ODBC)",
                         "batch 1: deleted 25 rows", "deleted 25 rows from events in 1 batch"});
    CHECK(r.fields.at("json") == R"({"table":"events","deleted":25,"dry_run":false,"batches":1})");
    CHECK(h.count("events") == 5);
  }

  TEST_CASE("database_cleanup: variables and params are bound, never spliced") {
    Harness h;
    fill_events(h, 10, 4);
    h.sql("CREATE TABLE keep (x)");
    h.vars["env.WHO"] = "x' OR '1'='1";
    const auto r = h.run(R"(
steps:
  - {id: tidy, type: database_cleanup, connection: app, table: events,
     where: "name = ${env.WHO}", dry_run: false}
)");
    REQUIRE_MESSAGE(r.status == engine::Status::success, r.error_message);
    CHECK(r.fields.at("affected") == "0");
    CHECK(h.count("events") == 10);

    const auto p = h.run(R"(
steps:
  - id: tidy
    type: database_cleanup
    connection: app
    table: events
    where: name = :who OR kind = :kind
    params: {who: "'; DROP TABLE keep; --", kind: "${env.WHO}"}
    dry_run: false
)");
    REQUIRE_MESSAGE(p.status == engine::Status::success, p.error_message);
    CHECK(p.fields.at("affected") == "0");
    CHECK(h.count("events") == 10);
    CHECK(h.count("keep") == 0);

    // A bound value that matches deletes what it names, and only that.
    h.vars["env.WHO"] = "event 3";
    const auto one = h.run(R"(
steps:
  - {id: tidy, type: database_cleanup, connection: app, table: events,
     where: "name = ${env.WHO} -- a trailing comment", dry_run: false}
)");
    REQUIRE_MESSAGE(one.status == engine::Status::success, one.error_message);
    CHECK(one.fields.at("affected") == "1");
    CHECK(h.count("events") == 9);
  }

  TEST_CASE("database_cleanup: table names are quoted; an unknown table is the driver's error") {
    Harness h;
    h.sql(R"(CREATE TABLE "we""ird" (id INTEGER); INSERT INTO "we""ird" VALUES (1), (2);
             CREATE TABLE victim (id INTEGER))");
    const auto r = h.run(R"(
steps:
  - {id: tidy, type: database_cleanup, connection: app, table: 'we"ird', where: "id = 1",
     dry_run: false}
)");
    REQUIRE_MESSAGE(r.status == engine::Status::success, r.error_message);
    CHECK(r.fields.at("json") == R"({"table":"we\"ird","deleted":1,"dry_run":false,"batches":1})");
    CHECK(h.count(R"("we""ird")") == 1);

    const auto dry = h.run(R"(
steps:
  - {id: tidy, type: database_cleanup, connection: app, table: nope, where: "1 = 1"}
)");
    CHECK(failure(dry) == "cannot count the rows to delete from nope: no such table: nope");
    const auto wet = h.run(R"(
steps:
  - {id: tidy, type: database_cleanup, connection: app, table: "victim; DROP TABLE victim",
     where: "1 = 1", dry_run: false}
)");
    CHECK(failure(wet) == "cannot delete from victim; DROP TABLE victim (batch 1, 0 rows deleted "
                          "before): no such table: victim; DROP TABLE victim");
    CHECK(h.count("victim") == 0);

    const auto column = h.run(R"(
steps:
  - {id: tidy, type: database_cleanup, connection: app, table: victim, older_than: 1d,
     column: nope}
)");
    // The column is qualified by its table: SQLite cannot take a misspelt one for a string.
    CHECK(failure(column) == "cannot read nope of victim: no such column: victim.nope");

    const auto connection = h.run(R"(
steps:
  - {id: tidy, type: database_cleanup, connection: other, table: victim, where: "1 = 1"}
)");
    CHECK(failure(connection) == "no connection \"other\" in the daemon config (it has app)");
  }

  TEST_CASE("database_cleanup: a cancel between batches keeps the batches done") {
    Harness h;
    fill_events(h, 2500, 2500);
    exec::CancelToken token;
    h.on_line = [&](std::string_view line) {
      if (line == "batch 1: deleted 1000 rows") {
        token.cancel();
      }
    };
    const auto r = h.run(R"(
steps:
  - {id: tidy, type: database_cleanup, connection: app, table: events, where: "1 = 1",
     batch_size: 1000, dry_run: false}
)",
                         &token);
    CHECK(failure(r) == "cancelled after 1 batch (1000 rows deleted from events)");
    CHECK(h.count("events") == 1500);
    CHECK(r.fields.at("json") ==
          R"({"table":"events","deleted":1000,"dry_run":false,"batches":1})");
    CHECK(h.lines.back() == "stopped after 1 batch: 1000 rows deleted from events");

    // Cancelled before the first: nothing is deleted.
    h.on_line = {};
    const auto before = h.run(R"(
steps:
  - {id: tidy, type: database_cleanup, connection: app, table: events, where: "1 = 1",
     dry_run: false}
)",
                              &token);
    CHECK(failure(before) == "cancelled after 0 batches (0 rows deleted from events)");
    CHECK(h.count("events") == 1500);
  }

  TEST_CASE("data_export: CSV after RFC 4180, and JSON in column order") {
    Harness h;
    h.sql("CREATE TABLE t (id INTEGER, name TEXT, note TEXT, price REAL)");
    h.sql("INSERT INTO t VALUES (1, 'plain', NULL, 1.5), (2, 'a,b', 'say \"hi\"', NULL), "
          "(3, 'two' || char(10) || 'lines', '', 2)");
    const auto r = h.run(R"(
steps:
  - id: export
    type: data_export
    connection: app
    query: SELECT id, name, note, price FROM t WHERE id >= :min ORDER BY id
    params: {min: "1"}
    output: data/${execution.scheduled_date}/t.csv
)");
    REQUIRE_MESSAGE(r.status == engine::Status::success, r.error_message);
    const fs::path out = h.data / "2026-01-02" / "t.csv";
    const std::string csv = read_file(out);
    CHECK(csv == "id,name,note,price\r\n"
                 "1,plain,,1.5\r\n"
                 "2,\"a,b\",\"say \"\"hi\"\"\",\r\n"
                 "3,\"two\nlines\",\"\",2.0\r\n");
    CHECK(r.fields.at("row_count") == "3");
    CHECK(r.fields.at("files") == "1");
    CHECK(r.fields.at("bytes") == std::to_string(csv.size()));
    CHECK(r.fields.at("json") == R"({"path":")" + out.string() + R"(","rows":3,"bytes":)" +
                                     std::to_string(csv.size()) + "}");
    CHECK(h.lines == std::vector<std::string>{"wrote 3 rows (" + std::to_string(csv.size()) +
                                              " bytes) to " + out.string()});

    const auto j = h.run(R"(
steps:
  - id: export
    type: data_export
    connection: app
    query: SELECT name, id, note FROM t ORDER BY id
    output: )" + (h.data / "t.json").string() +
                         R"(
    format: json
)");
    REQUIRE_MESSAGE(j.status == engine::Status::success, j.error_message);
    CHECK(read_file(h.data / "t.json") ==
          R"([{"name":"plain","id":1,"note":null},{"name":"a,b","id":2,"note":"say \"hi\""},)"
          R"({"name":"two\nlines","id":3,"note":""}])"
          "\n");
  }

  TEST_CASE("data_export: refused outside allowed_paths, and over max_rows nothing is written") {
    Harness h;
    h.sql("CREATE TABLE t (id INTEGER); INSERT INTO t VALUES (1), (2), (3)");
    const fs::path outside = h.dir.path / "outside" / "t.csv";
    const auto refused = h.run(R"(
steps:
  - {id: export, type: data_export, connection: app, query: SELECT id FROM t, output: )" +
                               outside.string() + "}\n");
    CHECK(failure(refused) ==
          outside.string() + " is outside allowed_paths (" + h.data.string() + ")");
    CHECK_FALSE(fs::exists(outside.parent_path()));
    const auto escape = h.run(R"(
steps:
  - {id: export, type: data_export, connection: app, query: SELECT id FROM t,
     output: data/../t.csv}
)");
    CHECK(failure(escape) == (h.dir.path / "data/../t.csv").lexically_normal().string() +
                                 " is outside allowed_paths (" + h.data.string() + ")");

    // Over max_rows: an error, and the file as it was.
    const fs::path out = h.data / "t.csv";
    std::ofstream(out) << "before\n";
    // The job file is in dir, not in data: a relative output is relative to dir.
    const auto relative = h.run(R"(
steps:
  - {id: export, type: data_export, connection: app, query: SELECT id FROM t, output: t.csv,
     max_rows: 2}
)");
    CHECK(failure(relative) ==
          (h.dir.path / "t.csv").string() + " is outside allowed_paths (" + h.data.string() + ")");
    const auto over = h.run(R"(
steps:
  - {id: export, type: data_export, connection: app, query: SELECT id FROM t,
     output: data/t.csv, max_rows: 2}
)");
    CHECK(failure(over) ==
          "the query returned 3 rows, more than max_rows (2): nothing was written to " +
              out.string());
    CHECK(read_file(out) == "before\n");
    const auto fresh = h.run(R"(
steps:
  - {id: export, type: data_export, connection: app, query: SELECT id FROM t,
     output: data/new.csv, max_rows: 2}
)");
    CHECK(contains(failure(fresh), "more than max_rows (2)"));
    CHECK_FALSE(fs::exists(h.data / "new.csv"));
    CHECK(std::distance(fs::directory_iterator(h.data), fs::directory_iterator()) == 2);

    const auto bad = h.run(R"(
steps:
  - {id: export, type: data_export, connection: app, query: SELECT nope FROM t,
     output: data/bad.csv}
)");
    CHECK(failure(bad) == "no such column: nope");
  }

  TEST_CASE("backup: SQLite online backup into a dated folder") {
    Harness h;
    h.sql("CREATE TABLE t (id INTEGER, name TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'b')");
    const auto r = h.run(R"(
steps:
  - {id: save, type: backup, connection: app,
     destination: "data/backups/${execution.scheduled_date}/app.db"}
)");
    REQUIRE_MESSAGE(r.status == engine::Status::success, r.error_message);
    const fs::path copy = h.data / "backups" / "2026-01-02" / "app.db";
    REQUIRE(fs::exists(copy));
    CHECK(r.fields.at("bytes") == std::to_string(fs::file_size(copy)));
    CHECK(r.fields.at("files") == "1");
    CHECK(r.fields.at("json") == R"({"path":")" + copy.string() + R"(","bytes":)" +
                                     std::to_string(fs::file_size(copy)) + "}");
    auto opened = sql::connect({"copy", sql::Driver::sqlite, copy.string(), std::nullopt});
    REQUIRE(opened.ok());
    CHECK(h.sql(**opened, "SELECT id, name FROM t ORDER BY id").rows ==
          std::vector<std::vector<nlohmann::json>>{{1, "a"}, {2, "b"}});
    // Only the backup is left in its folder: no temporary file.
    CHECK(std::distance(fs::directory_iterator(copy.parent_path()), fs::directory_iterator()) == 1);

    const auto outside = h.run(R"(
steps:
  - {id: save, type: backup, connection: app, destination: /etc/app.db}
)");
    CHECK(failure(outside) == "/etc/app.db is outside allowed_paths (" + h.data.string() + ")");

    // A missing database is an error, not an empty backup.
    h.integrations.connections["gone"] = {
        "gone", sql::Driver::sqlite, (h.data / "gone.db").string(), {}};
    const auto gone = h.run(R"(
steps:
  - {id: save, type: backup, connection: gone, destination: data/gone-copy.db}
)");
    CHECK(failure(gone).rfind("cannot open " + (h.data / "gone.db").string() + ": ", 0) == 0);
    CHECK_FALSE(fs::exists(h.data / "gone.db"));
    CHECK_FALSE(fs::exists(h.data / "gone-copy.db"));

    h.integrations.connections["dsn"] = {"dsn", sql::Driver::odbc, "DSN=x", {}};
    const auto odbc = h.run(R"(
steps:
  - {id: save, type: backup, connection: dsn, destination: data/x.bak}
)");
    CHECK(failure(odbc) ==
          "backup supports sqlite and postgresql connections; \"dsn\" is an odbc connection");
  }

  TEST_CASE("backup: PostgreSQL with pg_dump, the password never shown") {
    Harness h;
    const auto pg = h.add_postgres();
    if (!pg) {
      return;
    }
    auto connected = sql::connect({"pg", sql::Driver::postgresql, pg->conninfo, pg->password, 10s});
    REQUIRE(connected.ok());
    h.sql(**connected, "DROP TABLE IF EXISTS backup_rows; CREATE TABLE backup_rows (id int); "
                       "INSERT INTO backup_rows VALUES (1), (2)");
    const auto r = h.run(R"(
steps:
  - {id: save, type: backup, connection: pg, destination: data/pg.dump}
)");
    REQUIRE_MESSAGE(r.status == engine::Status::success, r.error_message);
    const std::string dump = read_file(h.data / "pg.dump");
    CHECK(dump.rfind("PGDMP", 0) == 0);
    CHECK(contains(dump, "backup_rows"));
    CHECK(r.fields.at("bytes") == std::to_string(dump.size()));
    CHECK(std::distance(fs::directory_iterator(h.data), fs::directory_iterator()) == 2);
    std::string everything = r.output + r.error_message + all_lines(h);
    for (const auto& [k, v] : r.fields) {
      everything += v;
    }
    CHECK_FALSE(contains(everything, pg->password));

    // A wrong password: pg_dump's error, without the password, and no file.
    h.integrations.secrets["pg_password"] = "wrong-" + pg->password;
    const auto wrong = h.run(R"(
steps:
  - {id: save, type: backup, connection: pg, destination: data/wrong.dump}
)");
    CHECK(failure(wrong).rfind("pg_dump exited with code 1: connection to server at ", 0) == 0);
    CHECK(contains(failure(wrong), "password authentication failed"));
    CHECK_FALSE(contains(failure(wrong) + wrong.output, pg->password));
    CHECK_FALSE(fs::exists(h.data / "wrong.dump"));
    CHECK(std::distance(fs::directory_iterator(h.data), fs::directory_iterator()) == 2);
    h.sql(**connected, "DROP TABLE backup_rows");
  }

  TEST_CASE("backup: a cancel stops a running pg_dump and leaves no file") {
    Harness h;
    const auto pg = h.add_postgres();
    if (!pg) {
      return;
    }
    const sql::ConnectionSpec spec{"pg", sql::Driver::postgresql, pg->conninfo, pg->password, 10s};
    auto locker = sql::connect(spec);
    REQUIRE(locker.ok());
    // pg_dump waits for its lock on a table locked by an open transaction.
    h.sql(**locker, "DROP TABLE IF EXISTS backup_locked; CREATE TABLE backup_locked (id int); "
                    "BEGIN; LOCK TABLE backup_locked IN ACCESS EXCLUSIVE MODE");
    exec::CancelToken token;
    bool seen_waiting = false;
    std::thread watcher([&] {
      auto watch = sql::connect(spec);
      // Until pg_dump's session is seen waiting for that lock (a generous bound only against a
      // hang); then, or at that bound, the cancel.
      const auto until = std::chrono::steady_clock::now() + 60s;
      while (watch.ok() && !seen_waiting && std::chrono::steady_clock::now() < until) {
        auto r = (*watch)->run("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                               "'pg_dump' AND wait_event_type = 'Lock'",
                               {}, {});
        seen_waiting = r.ok() && !r->rows.empty() && r->rows[0][0] != 0;
        if (!seen_waiting) {
          std::this_thread::sleep_for(20ms);
        }
      }
      token.cancel();
    });
    const auto r = h.run(R"(
steps:
  - {id: save, type: backup, connection: pg, destination: data/locked.dump}
)",
                         &token);
    watcher.join();
    CHECK(seen_waiting);
    CHECK(failure(r) == "pg_dump was stopped: cancelled");
    CHECK(std::distance(fs::directory_iterator(h.data), fs::directory_iterator()) == 1);
    h.sql(**locker, "ROLLBACK; DROP TABLE backup_locked");
  }

  TEST_CASE("report: Markdown and HTML files, cells escaped") {
    Harness h;
    h.sql("CREATE TABLE r (name TEXT, n INTEGER)");
    h.sql("INSERT INTO r VALUES ('a|b', 1), ('<script>alert(\"x\")</script> & co', NULL), "
          "('two' || char(10) || 'lines', 30)");
    const auto md = h.run(R"(
name: Nightly numbers
steps:
  - {id: tell, type: report, connection: app, query: "SELECT name, n FROM r ORDER BY rowid",
     output: data/report.md}
)");
    REQUIRE_MESSAGE(md.status == engine::Status::success, md.error_message);
    CHECK(read_file(h.data / "report.md") == "# Nightly numbers\n"
                                             "\n"
                                             "| name | n |\n"
                                             "| --- | ---: |\n"
                                             "| a\\|b | 1 |\n"
                                             "| <script>alert(\"x\")</script> & co |  |\n"
                                             "| two lines | 30 |\n"
                                             "\n"
                                             "3 rows\n");
    CHECK(md.fields.at("row_count") == "3");
    CHECK(md.fields.at("json") ==
          R"({"rows":3,"path":")" + (h.data / "report.md").string() + "\"}");

    const auto html = h.run(R"(
steps:
  - {id: tell, type: report, connection: app,
     query: 'SELECT name AS "<b>", n FROM r ORDER BY rowid', output: data/report.html,
     format: html, title: "Q&A <1>"}
)");
    REQUIRE_MESSAGE(html.status == engine::Status::success, html.error_message);
    const std::string page = read_file(h.data / "report.html");
    CHECK_FALSE(contains(page, "<script>"));
    CHECK_FALSE(contains(page, "<b>"));
    CHECK(contains(page, "<title>Q&amp;A &lt;1&gt;</title>"));
    CHECK(contains(page, "<h1>Q&amp;A &lt;1&gt;</h1>"));
    CHECK(contains(page, "<tr><th>&lt;b&gt;</th><th>n</th></tr>"));
    CHECK(contains(page, "<tr><td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; "
                         "co</td><td style=\"text-align: right\"></td></tr>"));
    CHECK(contains(page, "<p>3 rows</p>"));

    const auto csv = h.run(R"(
steps:
  - {id: tell, type: report, connection: app, query: SELECT n FROM r ORDER BY rowid,
     output: data/report.csv, format: csv}
)");
    REQUIRE_MESSAGE(csv.status == engine::Status::success, csv.error_message);
    CHECK(read_file(h.data / "report.csv") == "n\r\n1\r\n\r\n30\r\n");

    const auto outside = h.run(R"(
steps:
  - {id: tell, type: report, connection: app, query: SELECT n FROM r, output: /tmp/report.md}
)");
    CHECK(failure(outside) == "/tmp/report.md is outside allowed_paths (" + h.data.string() + ")");
    const auto no_smtp = h.run(R"(
steps:
  - {id: tell, type: report, connection: app, query: SELECT n FROM r, email: [a@example.com]}
)");
    CHECK(failure(no_smtp) ==
          "no smtp server in the daemon config: a report step with email needs one");
  }

  TEST_CASE("report: by email through the SMTP server") {
    Harness h;
    SmtpServer smtp(h.dir.path / "mail");
    engine::Smtp server;
    server.server.host = "127.0.0.1";
    server.server.port = smtp.port();
    server.server.security = mail::Security::none;
    server.server.timeout = 20s;
    server.from = "jobs@example.com";
    h.integrations.smtp = server;
    h.sql("CREATE TABLE r (name TEXT, n INTEGER)");
    h.sql("INSERT INTO r VALUES ('<i>x</i>', 1), ('y', 2)");
    const auto r = h.run(R"(
name: Sales
steps:
  - {id: tell, type: report, connection: app, query: "SELECT name, n FROM r ORDER BY n",
     format: html, email: [ops@example.com, lead@example.com]}
)");
    REQUIRE_MESSAGE(r.status == engine::Status::success, r.error_message);
    CHECK(r.fields.at("json") == R"({"rows":2,"path":null})");
    CHECK(has_line(h, "sent \"Sales: report\" (2 rows) to ops@example.com, lead@example.com"));
    const auto envelope = nlohmann::json::parse(read_file(h.dir.path / "mail" / "1.json"));
    CHECK(envelope["from"] == "jobs@example.com");
    CHECK(envelope["rcpt"] == nlohmann::json({"ops@example.com", "lead@example.com"}));
    const std::string eml = read_file(h.dir.path / "mail" / "1.eml");
    CHECK(contains(eml, "\r\nSubject: Sales: report\r\n"));
    CHECK(contains(eml, "\r\nContent-Type: text/html; charset=utf-8\r\n"));
    CHECK(contains(eml, "\r\nContent-Transfer-Encoding: 7bit\r\n"));
    CHECK(contains(eml, "<tr><td>&lt;i&gt;x&lt;/i&gt;</td><td style=\"text-align: right\">1</td>"
                        "</tr>\r\n"));
    CHECK_FALSE(contains(eml, "<i>x</i>"));

    // Markdown with a subject of its own, written and mailed.
    const auto md = h.run(R"(
steps:
  - {id: tell, type: report, connection: app, query: "SELECT name, n FROM r ORDER BY n",
     title: Totals, subject: "Totals for ${execution.scheduled_date}", email: ops@example.com,
     output: data/totals.md}
)");
    REQUIRE_MESSAGE(md.status == engine::Status::success, md.error_message);
    const std::string second = read_file(h.dir.path / "mail" / "2.eml");
    CHECK(contains(second, "\r\nSubject: Totals for 2026-01-02\r\n"));
    CHECK(contains(second, "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
    CHECK(contains(second, "# Totals\r\n\r\n| name | n |\r\n| --- | ---: |\r\n"));
    CHECK(read_file(h.data / "totals.md").rfind("# Totals\n\n| name | n |\n", 0) == 0);
  }
}
