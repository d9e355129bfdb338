#include "support/temp_dir.hpp"

#include <exec/process.hpp>
#include <sql/script.hpp>
#include <sql/sql.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using namespace std::chrono_literals;

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The test cluster of tests/support/postgres.sh, when $JOBS_TEST_POSTGRES names one. Without it
// the PostgreSQL cases are skipped with a message, except on CI where that is a failure.
struct Postgres {
  std::string conninfo;
  std::string password;
  std::string port;
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
  Postgres pg{read_line(std::string(dir) + "/conninfo"), read_line(std::string(dir) + "/password"),
              read_line(std::string(dir) + "/port")};
  REQUIRE_MESSAGE(!pg.conninfo.empty(), "no conninfo in ", dir);
  return pg;
}

enum class Kind { sqlite, postgresql, odbc_sqlite, odbc_postgresql };

struct Backend {
  std::string label;
  Kind kind;
  sql::ConnectionSpec spec;
  bool is_postgres() const { return kind == Kind::postgresql || kind == Kind::odbc_postgresql; }
};

// Every backend the tests can reach: SQLite and ODBC-on-SQLite in `dir`, PostgreSQL directly
// and through ODBC when the cluster is there.
std::vector<Backend> backends(const test::TempDir& dir) {
  std::vector<Backend> out;
  const std::string db = (dir.path / "test.db").string();
  out.push_back({"sqlite", Kind::sqlite, {"test", sql::Driver::sqlite, db, std::nullopt, 10s}});
  out.push_back({"odbc-sqlite",
                 Kind::odbc_sqlite,
                 {"test", sql::Driver::odbc,
                  "Driver=SQLite3;Database=" + dir.path.string() + "/odbc.db", std::nullopt, 10s}});
  if (auto pg = postgres()) {
    out.push_back({"postgresql",
                   Kind::postgresql,
                   {"test", sql::Driver::postgresql, pg->conninfo, pg->password, 10s}});
    out.push_back({"odbc-postgresql",
                   Kind::odbc_postgresql,
                   {"test", sql::Driver::odbc,
                    "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=" + pg->port +
                        ";Database=jobs_test;Uid=jobs_test",
                    pg->password, 10s}});
  }
  return out;
}

std::unique_ptr<sql::Connection> open(const sql::ConnectionSpec& spec) {
  auto c = sql::connect(spec);
  REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
  return std::move(*c);
}

sql::Result run(sql::Connection& c, std::string_view script,
                const std::vector<sql::Param>& params = {}, const sql::Options& options = {}) {
  auto r = c.run(script, params, options);
  REQUIRE_MESSAGE(r.ok(), std::string(script), ": ", (r.ok() ? "" : r.error().message));
  return std::move(*r);
}

std::string run_error(sql::Connection& c, std::string_view script,
                      const std::vector<sql::Param>& params = {},
                      const sql::Options& options = {}) {
  auto r = c.run(script, params, options);
  REQUIRE_MESSAGE(!r.ok(), std::string(script), " should fail");
  return r.error().message;
}

std::int64_t count_rows(sql::Connection& c, const std::string& table) {
  auto r = run(c, "SELECT count(*) FROM " + table);
  REQUIRE(r.rows.size() == 1);
  return r.rows[0][0].get<std::int64_t>();
}

// The driver's message for a missing table, as each backend words it.
std::string no_table(const Backend& b) {
  switch (b.kind) {
  case Kind::sqlite:
    return "no such table: nope";
  case Kind::postgresql:
    return "relation \"nope\" does not exist";
  case Kind::odbc_sqlite:
    return "[SQLite]no such table: nope (1) (SQLSTATE HY000)";
  case Kind::odbc_postgresql:
    return "ERROR: relation \"nope\" does not exist;\nError while executing the query "
           "(SQLSTATE 42P01)";
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Backends whose pg_stat_activity can be asked, through a plain libpq connection.
std::int64_t active_sleeps(const Backend& b) {
  auto pg = postgres();
  REQUIRE(pg);
  auto c = open({"check", sql::Driver::postgresql, pg->conninfo, pg->password, 10s});
  auto r = run(*c, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND "
                   "query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()");
  (void)b;
  return r.rows[0][0].get<std::int64_t>();
}

} // namespace

TEST_SUITE("sql script") {
  TEST_CASE("placeholders are translated outside literals, comments and dollar quotes") {
    // script, $n form, ? form, names for ?
    const std::tuple<const char*, const char*, const char*, std::vector<std::string>> cases[] = {
        {"SELECT :a, :b, :a", "SELECT $1, $2, $1", "SELECT ?, ?, ?", {"a", "b", "a"}},
        {"SELECT ':a', 'it''s :b', \"x:y\"",
         "SELECT ':a', 'it''s :b', \"x:y\"",
         "SELECT ':a', 'it''s :b', \"x:y\"",
         {}},
        {"SELECT x::int, :n::text, '1'::int",
         "SELECT x::int, $1::text, '1'::int",
         "SELECT x::int, ?::text, '1'::int",
         {"n"}},
        {"SELECT 1 -- :a\n, /* :b /* :c */ */ :d",
         "SELECT 1 -- :a\n, /* :b /* :c */ */ $1",
         "SELECT 1 -- :a\n, /* :b /* :c */ */ ?",
         {"d"}},
        {"SELECT $$ :a ; $$, $t$ :b $$ $t$, :c",
         "SELECT $$ :a ; $$, $t$ :b $$ $t$, $1",
         "SELECT $$ :a ; $$, $t$ :b $$ $t$, ?",
         {"c"}},
        {"SELECT E'\\' :a', e'x\\\\', :b",
         "SELECT E'\\' :a', e'x\\\\', $1",
         "SELECT E'\\' :a', e'x\\\\', ?",
         {"b"}},
        {"SELECT a$b, $1, :_x9, :1", "SELECT a$b, $1, $1, :1", "SELECT a$b, $1, ?, :1", {"_x9"}},
        {"SELECT '' || :day_2 || \"\"\"q\"",
         "SELECT '' || $1 || \"\"\"q\"",
         "SELECT '' || ? || \"\"\"q\"",
         {"day_2"}},
    };
    for (const auto& [script, numbered, question, names] : cases) {
      const std::string input = script;
      CAPTURE(input);
      auto n = sql::split_script(script, sql::PlaceholderStyle::numbered);
      REQUIRE(n.ok());
      REQUIRE(n->size() == 1);
      CHECK((*n)[0].text == numbered);
      auto q = sql::split_script(script, sql::PlaceholderStyle::question);
      REQUIRE(q.ok());
      REQUIRE(q->size() == 1);
      CHECK((*q)[0].text == question);
      CHECK((*q)[0].names == names);
    }
  }

  TEST_CASE("a script splits at semicolons outside quotes") {
    auto s = sql::split_script("-- setup\nINSERT INTO t VALUES (';');\n\n  UPDATE t\n  SET a = "
                               ":a; ;\nSELECT $$;$$ -- end;\n; -- trailing comment\n",
                               sql::PlaceholderStyle::numbered);
    REQUIRE(s.ok());
    REQUIRE(s->size() == 3);
    CHECK((*s)[0].text == "INSERT INTO t VALUES (';')");
    CHECK((*s)[0].number == 1);
    CHECK((*s)[0].line == 2);
    CHECK((*s)[1].text == "UPDATE t\n  SET a = $1");
    CHECK((*s)[1].first_line == "UPDATE t");
    CHECK((*s)[1].line == 4);
    CHECK((*s)[1].names == std::vector<std::string>{"a"});
    CHECK((*s)[2].text == "SELECT $$;$$ -- end;");
    CHECK((*s)[2].number == 3);
    CHECK(sql::split_script("  -- nothing\n/* at all */ ;", sql::PlaceholderStyle::named)->empty());
  }

  TEST_CASE("unterminated quotes and comments are errors with their line") {
    const std::tuple<const char*, const char*, int> cases[] = {
        {"SELECT 1;\nSELECT 'abc", "unterminated string literal", 2},
        {"SELECT \"abc", "unterminated quoted identifier", 1},
        {"SELECT 1 /* x", "unterminated /* comment", 1},
        {"\n\nSELECT $x$ abc $y$", "unterminated dollar-quoted string $x$", 3},
    };
    for (const auto& [script, message, line] : cases) {
      const std::string input = script;
      CAPTURE(input);
      auto s = sql::split_script(script, sql::PlaceholderStyle::numbered);
      REQUIRE(!s.ok());
      CHECK(s.error().message == message);
      CHECK(s.error().location.line == line);
    }
  }

  TEST_CASE("quote_identifier quotes each part and doubles quotes") {
    CHECK(sql::quote_identifier("t") == "\"t\"");
    CHECK(sql::quote_identifier("public.my table") == "\"public\".\"my table\"");
    CHECK(sql::quote_identifier("we\"ird") == "\"we\"\"ird\"");
    CHECK(sql::quote_identifier("") == "\"\"");
  }
}

TEST_SUITE("sql format_table") {
  TEST_CASE("rows, aligned, numbers to the right") {
    sql::Result r;
    r.columns = {"id", "name", "score"};
    r.rows = {{1, "alice", 1.5}, {22, nullptr, 10}};
    r.row_count = 2;
    CHECK(sql::format_table(r) == "id | name  | score\n"
                                  "---+-------+------\n"
                                  " 1 | alice |   1.5\n"
                                  "22 | NULL  |    10\n"
                                  "(2 rows)\n");
  }

  TEST_CASE("long cells are cut, control characters become spaces, extra rows counted") {
    sql::Result r;
    r.columns = {"text"};
    r.rows = {{std::string(50, 'x')}, {"a\nb"}, {"c"}};
    r.row_count = 1234;
    r.truncated = true;
    CHECK(sql::format_table(r, 2) == "text\n" + std::string(40, '-') + "\n" + std::string(37, 'x') +
                                         "...\n" + "a b\n" + "(showing 2 of 1234 rows)\n");
  }

  TEST_CASE("no rows, one row, no columns") {
    sql::Result empty;
    empty.columns = {"a", "b"};
    CHECK(sql::format_table(empty) == "a | b\n--+--\n(0 rows)\n");
    sql::Result one;
    one.columns = {"n"};
    one.rows = {{"é"}};
    one.row_count = 1;
    CHECK(sql::format_table(one) == "n\n-\né\n(1 row)\n");
    sql::Result command;
    command.affected = 3;
    CHECK(sql::format_table(command) == "(3 rows affected)\n");
  }
}

TEST_SUITE("sql connection") {
  TEST_CASE("rows, columns and value types") {
    test::TempDir dir("jobs-sql");
    for (const auto& b : backends(dir)) {
      CAPTURE(b.label);
      auto c = open(b.spec);
      run(*c, "DROP TABLE IF EXISTS t; CREATE TABLE t (id INTEGER, name TEXT, score DOUBLE "
              "PRECISION, note TEXT); INSERT INTO t VALUES (1, 'a', 1.5, NULL), (2, 'b', "
              "-2.25, 'x')");
      auto r = run(*c, "SELECT id, name, score, note FROM t ORDER BY id");
      CHECK(r.columns == std::vector<std::string>{"id", "name", "score", "note"});
      REQUIRE(r.rows.size() == 2);
      CHECK(r.row_count == 2);
      CHECK(!r.truncated);
      CHECK(r.statements == 1);
      CHECK(r.rows[0][0].is_number_integer());
      CHECK(r.rows[0][0] == 1);
      CHECK(r.rows[0][1] == "a");
      CHECK(r.rows[0][2].is_number_float());
      CHECK(r.rows[1][2] == -2.25);
      CHECK(r.rows[0][3].is_null());
      CHECK(r.rows[1][3] == "x");
      if (b.is_postgres()) {
        auto types = run(*c, "SELECT 1.50::numeric AS n, DATE '2024-01-02' AS d, "
                             "'\\x0aff'::bytea AS b, 9000000000::bigint AS big, true AS t");
        CHECK(types.rows[0][0] == "1.50");
        CHECK(types.rows[0][1] == "2024-01-02");
        // psqlodbc gives bytea as SQL_VARBINARY, whose character form is plain hex.
        CHECK(types.rows[0][2] == (b.kind == Kind::postgresql ? "\\x0aff" : "0aff"));
        CHECK(types.rows[0][3] == 9000000000);
        CHECK((types.rows[0][4] == "t" || types.rows[0][4] == "1"));
      } else {
        auto types = run(*c, "SELECT 9000000000 AS big, x'0aff' AS b");
        if (b.kind == Kind::sqlite) {
          CHECK(types.rows[0][0] == 9000000000);
          CHECK(types.rows[0][1] == "\\x0aff");
        }
      }
    }
  }

  TEST_CASE("params are bound, never spliced") {
    test::TempDir dir("jobs-sql");
    for (const auto& b : backends(dir)) {
      CAPTURE(b.label);
      auto c = open(b.spec);
      run(*c, "DROP TABLE IF EXISTS t; CREATE TABLE t (id INTEGER, name TEXT)");
      const std::string evil = "x'); DROP TABLE t; --";
      auto inserted = run(*c, "INSERT INTO t VALUES (1, :name); INSERT INTO t VALUES (2, :none)",
                          {{"name", evil}, {"none", std::nullopt}, {"unused", "1"}});
      CHECK(inserted.affected == 2);
      CHECK(inserted.statements == 2);
      auto r = run(*c, "SELECT id, name FROM t WHERE name = :name OR (id = :id AND id = :id)",
                   {{"name", evil}, {"id", "2"}});
      REQUIRE(r.rows.size() == 2);
      CHECK(r.rows[0][1] == evil);
      CHECK(r.rows[1][1].is_null());
      CHECK(count_rows(*c, "t") == 2);
      CHECK(run_error(*c, "SELECT :a, :day", {{"a", "1"}, {"b", "2"}}) ==
            "parameter :day is not given; params has: a, b");
      CHECK(run_error(*c, "SELECT :day") == "parameter :day is not given; no params are given");
    }
  }

  TEST_CASE("SQLite: affected rows are the statement's own, not its triggers'") {
    test::TempDir dir("jobs-sql");
    auto c = open({"t", sql::Driver::sqlite, (dir.path / "t.db").string(), std::nullopt});
    run(*c, "CREATE TABLE t (id INTEGER); CREATE TABLE log (id INTEGER);"
            "CREATE TRIGGER tr AFTER DELETE ON t BEGIN INSERT INTO log VALUES (old.id); "
            "INSERT INTO log VALUES (old.id); END;");
    run(*c, "INSERT INTO t VALUES (1), (2), (3)");
    CHECK(run(*c, "DELETE FROM t WHERE id < 3").affected == 2);
    CHECK(run(*c, "CREATE TABLE u (x INTEGER)").affected == 0);
    CHECK(run(*c, "SELECT count(*) FROM log").rows[0][0] == 4);
  }

  TEST_CASE("max_rows keeps the first rows and counts all; affected rows add up") {
    test::TempDir dir("jobs-sql");
    for (const auto& b : backends(dir)) {
      CAPTURE(b.label);
      auto c = open(b.spec);
      run(*c, "DROP TABLE IF EXISTS t; CREATE TABLE t (id INTEGER)");
      auto inserted = run(*c, "INSERT INTO t VALUES (1), (2), (3), (4), (5)");
      CHECK(inserted.affected == 5);
      CHECK(inserted.columns.empty());
      sql::Options two;
      two.max_rows = 2;
      auto r = run(*c, "SELECT id FROM t ORDER BY id", {}, two);
      CHECK(r.rows.size() == 2);
      CHECK(r.rows[1][0] == 2);
      CHECK(r.row_count == 5);
      CHECK(r.truncated);
      sql::Options none;
      none.fetch_results = false;
      r = run(*c, "SELECT id FROM t", {}, none);
      CHECK(r.rows.empty());
      CHECK(r.row_count == 5);
      CHECK(!r.truncated);
      r = run(*c, "UPDATE t SET id = id + 10 WHERE id > 2; SELECT id FROM t WHERE id > 10 "
                  "ORDER BY id; DELETE FROM t WHERE id = 1; UPDATE t SET id = 0 WHERE id < 0");
      CHECK(r.affected == 4);
      CHECK(r.statements == 4);
      CHECK(r.row_count == 3);
      CHECK(r.rows.size() == 3);
      CHECK(r.rows[0][0] == 13);
    }
  }

  TEST_CASE("a failing statement rolls the transaction back and is named") {
    test::TempDir dir("jobs-sql");
    for (const auto& b : backends(dir)) {
      CAPTURE(b.label);
      auto c = open(b.spec);
      run(*c, "DROP TABLE IF EXISTS t; CREATE TABLE t (id INTEGER)");
      sql::Options transaction;
      transaction.transaction = true;
      const std::string script = "INSERT INTO t VALUES (1);\nINSERT INTO nope\n  VALUES (2);";
      CHECK(run_error(*c, script, {}, transaction) ==
            "statement 2 (INSERT INTO nope): " + no_table(b) + "; the transaction was rolled back");
      CHECK(count_rows(*c, "t") == 0);
      auto ok = run(*c, "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)", {}, transaction);
      CHECK(ok.affected == 2);
      CHECK(count_rows(*c, "t") == 2);
      // Without a transaction each statement stands on its own.
      CHECK(run_error(*c, script) == "statement 2 (INSERT INTO nope): " + no_table(b));
      CHECK(count_rows(*c, "t") == 3);
    }
  }

  TEST_CASE("a bad query gives the driver's message") {
    test::TempDir dir("jobs-sql");
    for (const auto& b : backends(dir)) {
      CAPTURE(b.label);
      auto c = open(b.spec);
      CHECK(run_error(*c, "SELECT * FROM nope") == no_table(b));
      // The connection goes on working.
      CHECK(run(*c, "SELECT 1").rows[0][0] == 1);
    }
  }

  TEST_CASE("timeout stops the running statement") {
    test::TempDir dir("jobs-sql");
    for (const auto& b : backends(dir)) {
      CAPTURE(b.label);
      auto c = open(b.spec);
      sql::Options options;
      options.timeout = 300ms;
      const std::string script =
          b.is_postgres() ? "SELECT pg_sleep(30)"
                          : "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                            "SELECT count(*) FROM c";
      const auto start = std::chrono::steady_clock::now();
      CHECK(run_error(*c, script, {}, options) == "timed out after 300ms");
      const auto elapsed = std::chrono::steady_clock::now() - start;
      CHECK(elapsed >= 300ms);
      CHECK(elapsed < 5s);
      if (b.is_postgres()) {
        CHECK(active_sleeps(b) == 0);
      }
      CHECK(run(*c, "SELECT 2").rows[0][0] == 2);
      options.timeout = 2s;
      CHECK(run_error(*c, script, {}, options) == "timed out after 2s");
    }
  }

  TEST_CASE("the cancel token stops the running statement") {
    test::TempDir dir("jobs-sql");
    for (const auto& b : backends(dir)) {
      CAPTURE(b.label);
      auto c = open(b.spec);
      exec::CancelToken token;
      sql::Options options;
      options.cancel = &token;
      std::thread canceller;
      std::string script;
      if (b.is_postgres()) {
        script = "SELECT pg_sleep(30)";
        // Cancel once the server says the statement runs.
        canceller = std::thread([&] {
          const auto give_up = std::chrono::steady_clock::now() + 10s;
          while (active_sleeps(b) == 0 && std::chrono::steady_clock::now() < give_up) {
          }
          token.cancel();
        });
      } else {
        // SQLite gives no outside view of a running statement: the statement never ends, so the
        // cancel, whenever it comes, is what stops it.
        script = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                 "SELECT count(*) FROM c";
        canceller = std::thread([&] { token.cancel(); });
      }
      const auto start = std::chrono::steady_clock::now();
      CHECK(run_error(*c, script, {}, options) == "cancelled");
      canceller.join();
      CHECK(std::chrono::steady_clock::now() - start < 15s);
      if (b.is_postgres()) {
        CHECK(active_sleeps(b) == 0);
      }
      sql::Options plain;
      CHECK(run(*c, "SELECT 3", {}, plain).rows[0][0] == 3);
    }
  }

  TEST_CASE("server_version") {
    test::TempDir dir("jobs-sql");
    for (const auto& b : backends(dir)) {
      CAPTURE(b.label);
      auto c = open(b.spec);
      const std::string version = c->server_version();
      CAPTURE(version);
      CHECK(version.rfind(b.is_postgres() ? "PostgreSQL 1" : "SQLite 3.", 0) == 0);
    }
  }

  TEST_CASE("quoted identifiers work in queries") {
    test::TempDir dir("jobs-sql");
    for (const auto& b : backends(dir)) {
      CAPTURE(b.label);
      auto c = open(b.spec);
      const std::string table = sql::quote_identifier("we\"ird table");
      run(*c, "DROP TABLE IF EXISTS " + table + "; CREATE TABLE " + table + " (id INTEGER)");
      run(*c, "INSERT INTO " + table + " VALUES (7)");
      CHECK(count_rows(*c, table) == 1);
      run(*c, "DROP TABLE " + table);
    }
  }
}

TEST_SUITE("sql connect") {
  TEST_CASE("sqlite: a file that cannot be opened") {
    auto c = sql::connect({"db", sql::Driver::sqlite, "/nonexistent/dir/x.db", std::nullopt, 1s});
    REQUIRE(!c.ok());
    CHECK(c.error().message ==
          "cannot open SQLite database /nonexistent/dir/x.db: unable to open database file");
  }

  TEST_CASE("postgresql: wrong port, wrong password, URL form") {
    auto pg = postgres();
    if (!pg) {
      return;
    }
    const std::string wrong = "s3cret-wrong-password";
    auto refused =
        sql::connect({"reports", sql::Driver::postgresql,
                      "host=127.0.0.1 port=1 dbname=jobs_test user=jobs_test", wrong, 5s});
    REQUIRE(!refused.ok());
    CHECK(refused.error().message ==
          "cannot connect to reports: connection to server at \"127.0.0.1\", port 1 failed: "
          "Connection refused Is the server running on that host and accepting TCP/IP "
          "connections?");
    auto denied = sql::connect({"reports", sql::Driver::postgresql, pg->conninfo, wrong, 5s});
    REQUIRE(!denied.ok());
    CHECK(denied.error().message ==
          "cannot connect to reports: connection to server at \"127.0.0.1\", port " + pg->port +
              " failed: FATAL:  password authentication failed for user \"jobs_test\"");
    CHECK(!contains(denied.error().message, wrong));
    auto url = sql::connect({"reports", sql::Driver::postgresql,
                             "postgresql://jobs_test@127.0.0.1:" + pg->port + "/jobs_test",
                             pg->password, 5s});
    REQUIRE_MESSAGE(url.ok(), (url.ok() ? "" : url.error().message));
    CHECK((*url)->run("SELECT current_user", {}, {})->rows[0][0] == "jobs_test");
  }

  TEST_CASE("odbc: unknown driver, wrong password") {
    auto unknown = sql::connect(
        {"x", sql::Driver::odbc, "Driver={No Such Driver};Database=x", std::string("pw"), 5s});
    REQUIRE(!unknown.ok());
    CHECK(unknown.error().message ==
          "cannot connect to x: [unixODBC][Driver Manager]Can't open lib 'No Such Driver' : file "
          "not found (SQLSTATE 01000)");
    auto pg = postgres();
    if (!pg) {
      return;
    }
    const std::string wrong = "s3cret}wrong";
    auto denied = sql::connect({"x", sql::Driver::odbc,
                                "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=" + pg->port +
                                    ";Database=jobs_test;Uid=jobs_test",
                                wrong, 5s});
    REQUIRE(!denied.ok());
    CAPTURE(denied.error().message);
    CHECK(contains(denied.error().message, "password authentication failed for user"));
    CHECK(contains(denied.error().message, "(SQLSTATE 08001)"));
    CHECK(!contains(denied.error().message, wrong));
    CHECK(!contains(denied.error().message, "s3cret"));
  }
}

TEST_SUITE("sql backup_sqlite") {
  TEST_CASE("the copy has the data, the temporary file is gone") {
    test::TempDir dir("jobs-sql");
    const std::string from = (dir.path / "live.db").string();
    const std::string to = (dir.path / "copy.db").string();
    {
      auto c = open({"live", sql::Driver::sqlite, from, std::nullopt, 1s});
      run(*c, "CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('kept')");
      // The source is open while it is copied.
      REQUIRE(!sql::backup_sqlite(from, to));
    }
    auto copy = open({"copy", sql::Driver::sqlite, to, std::nullopt, 1s});
    CHECK(run(*copy, "SELECT v FROM t").rows[0][0] == "kept");
    size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path)) {
      CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
      ++files;
    }
    CHECK(files == 2);
  }

  TEST_CASE("errors name the file") {
    test::TempDir dir("jobs-sql");
    auto missing =
        sql::backup_sqlite((dir.path / "none.db").string(), (dir.path / "x.db").string());
    REQUIRE(missing);
    CHECK(missing->message ==
          "cannot open " + (dir.path / "none.db").string() + ": unable to open database file");
    const std::string from = (dir.path / "live.db").string();
    open({"live", sql::Driver::sqlite, from, std::nullopt, 1s});
    auto unwritable = sql::backup_sqlite(from, "/nonexistent/dir/x.db");
    REQUIRE(unwritable);
    CHECK(unwritable->message.rfind("cannot create /nonexistent/dir/x.db.tmp-", 0) == 0);
  }
}
