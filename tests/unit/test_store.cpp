#include <store/store.hpp>

#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

namespace store {

// Readable failures for CHECK(a == b).
std::ostream& operator<<(std::ostream& os, const ExecutionRecord& e) {
  os << "{" << e.execution_id << " " << e.job_id << " " << e.status << " start " << e.start_ms
     << " end " << (e.end_ms ? std::to_string(*e.end_ms) : "-") << " steps";
  for (const auto& s : e.steps) {
    os << " " << s.step_id << ":" << s.status;
  }
  return os << "}";
}

std::ostream& operator<<(std::ostream& os, const JobState& s) {
  return os << "{" << s.job_id << " fire "
            << (s.last_fire_ms ? std::to_string(*s.last_fire_ms) : "-") << " " << s.last_status
            << " " << s.last_execution_id << " success "
            << (s.last_success_ms ? std::to_string(*s.last_success_ms) : "-") << "}";
}

} // namespace store

namespace {

using store::ExecutionRecord;
using store::StepRecord;
using Lines = std::vector<std::string>;

// A temporary folder removed on success and kept (and named) on failure.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char name[] = "/tmp/jobs-store-test-XXXXXX";
    path = mkdtemp(name);
  }
  ~TempDir() {
    if (std::uncaught_exceptions()) {
      MESSAGE("kept " << path.string());
    } else {
      std::filesystem::remove_all(path);
    }
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

template <typename T>
T value_of(base::Result<T> r) {
  if (!r.ok()) {
    FAIL(r.error().message);
  }
  return std::move(r).value();
}

template <typename T>
std::string error_of(const base::Result<T>& r) {
  return r.ok() ? "(no error)" : r.error().message;
}

std::unique_ptr<store::Store> open(const std::string& path, const store::OpenOptions& o = {}) {
  return value_of(store::open_sqlite(path, o));
}

// A plain SQLite connection, for what the Store does not show: raw rows, integrity, locks.
struct Raw {
  sqlite3* db = nullptr;
  explicit Raw(const std::string& path) {
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
  }
  ~Raw() { sqlite3_close(db); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;

  void exec(const std::string& sql) {
    char* message = nullptr;
    const auto rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
    const std::string text = message ? message : "";
    sqlite3_free(message);
    REQUIRE_MESSAGE(rc == SQLITE_OK, sql << ": " << text);
  }
  // Every row of `sql`, its columns joined by '|' (NULL as "-").
  Lines rows(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    REQUIRE_MESSAGE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK,
                    sqlite3_errmsg(db));
    Lines out;
    int rc = SQLITE_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      std::string line;
      for (int i = 0; i < sqlite3_column_count(s); ++i) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
        line += (i ? "|" : "") + std::string(text ? text : "-");
      }
      out.push_back(line);
    }
    sqlite3_finalize(s);
    REQUIRE_MESSAGE(rc == SQLITE_DONE, sqlite3_errmsg(db));
    return out;
  }
  std::string one(const std::string& sql) {
    const auto r = rows(sql);
    REQUIRE(r.size() == 1);
    return r[0];
  }
};

ExecutionRecord make_execution(const std::string& id, const std::string& job,
                               std::int64_t start_ms) {
  ExecutionRecord e;
  e.execution_id = id;
  e.job_id = job;
  e.job_name = "Job " + job;
  e.status = "running";
  e.timezone = "Europe/Berlin";
  e.trigger = "schedule";
  e.host = "node1";
  e.start_ms = start_ms;
  return e;
}

StepRecord make_step(const std::string& id, const std::string& status) {
  StepRecord s;
  s.step_id = id;
  s.step_name = "Step " + id;
  s.step_type = "shell";
  s.status = status;
  return s;
}

// Begins and finishes `e` with `status`, ending 10 ms after its start.
void run(store::Store& s, ExecutionRecord e, const std::string& status) {
  value_of(s.begin_execution(e));
  e.status = status;
  e.end_ms = e.start_ms + 10;
  value_of(s.finish_execution(e));
}

Lines ids(const std::vector<ExecutionRecord>& executions) {
  Lines out;
  for (const auto& e : executions) {
    out.push_back(e.execution_id);
  }
  return out;
}

// Runs `child` in a forked process that ends with _exit(child()) unless killed on the way;
// returns its wait status. The parent must hold no SQLite connection across the fork.
template <typename Child>
int in_child(Child&& child) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    _exit(child());
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return status;
}

bool killed(int status) {
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

// Version 1 of the schema, written by hand as a released jobsd would have left it.
constexpr const char* schema_v1 = R"sql(
CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL);
CREATE TABLE job_executions (
  execution_id TEXT PRIMARY KEY NOT NULL, job_id TEXT NOT NULL, job_name TEXT NOT NULL,
  status TEXT NOT NULL, timezone TEXT NOT NULL, trigger_kind TEXT NOT NULL,
  triggered_by TEXT NOT NULL, host TEXT NOT NULL, scheduled_ms INTEGER,
  start_ms INTEGER NOT NULL, end_ms INTEGER, attempt INTEGER NOT NULL,
  error_message TEXT NOT NULL, log_path TEXT NOT NULL);
CREATE INDEX job_executions_by_job ON job_executions (job_id, start_ms, execution_id);
CREATE INDEX job_executions_by_status ON job_executions (status, start_ms, execution_id);
CREATE INDEX job_executions_by_start ON job_executions (start_ms, execution_id);
CREATE TABLE step_executions (
  execution_id TEXT NOT NULL REFERENCES job_executions (execution_id) ON DELETE CASCADE,
  step_index INTEGER NOT NULL, step_id TEXT NOT NULL, step_name TEXT NOT NULL,
  step_type TEXT NOT NULL, status TEXT NOT NULL, start_ms INTEGER, end_ms INTEGER,
  exit_code INTEGER, signal INTEGER, output TEXT NOT NULL, error_message TEXT NOT NULL,
  attempt INTEGER NOT NULL, PRIMARY KEY (execution_id, step_index));
CREATE TABLE fires (
  job_id TEXT NOT NULL, scheduled_ms INTEGER NOT NULL, execution_id TEXT,
  status TEXT NOT NULL, reason TEXT NOT NULL, UNIQUE (job_id, scheduled_ms));
CREATE INDEX fires_by_execution ON fires (execution_id);
CREATE TABLE job_state (
  job_id TEXT PRIMARY KEY NOT NULL, last_fire_ms INTEGER,
  last_status TEXT NOT NULL DEFAULT '', last_execution_id TEXT NOT NULL DEFAULT '',
  last_success_ms INTEGER);
CREATE TABLE audit (
  id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, user_name TEXT NOT NULL, uid INTEGER,
  action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL, outcome TEXT NOT NULL);
CREATE INDEX audit_by_time ON audit (time_ms);
INSERT INTO schema_version VALUES (1, 1700000000000);
)sql";

// The shape of a database: every table's columns and every index.
Lines shape(const std::string& path) {
  Raw raw(path);
  auto out = raw.rows("SELECT m.name, p.cid, p.name, p.type, p.\"notnull\", p.dflt_value, p.pk "
                      "FROM sqlite_master m JOIN pragma_table_info(m.name) p "
                      "WHERE m.type = 'table' ORDER BY m.name, p.cid");
  for (auto& line : raw.rows("SELECT name, tbl_name, sql FROM sqlite_master "
                             "WHERE type = 'index' ORDER BY name")) {
    out.push_back(line);
  }
  return out;
}

} // namespace

TEST_SUITE("store") {

  TEST_CASE("sqlite_has_history: missing, empty and schema-less files hold none, and stay so") {
    TempDir dir;
    const auto path = dir.file("history.db");
    CHECK(*store::sqlite_has_history(path) == false);
    CHECK_FALSE(std::filesystem::exists(path));
    std::ofstream(path).close();
    CHECK(*store::sqlite_has_history(path) == false);
    CHECK(std::filesystem::file_size(path) == 0);
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(dir.file("other.db").c_str(), &db) == SQLITE_OK);
    sqlite3_exec(db, "CREATE TABLE t (v TEXT)", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    CHECK(*store::sqlite_has_history(dir.file("other.db")) == false);
    open(path).reset();
    CHECK(*store::sqlite_has_history(path) == true);
    std::ofstream(dir.file("text.db")) << "not a database, but long enough to be read as one...\n";
    const auto text = store::sqlite_has_history(dir.file("text.db"));
    REQUIRE_FALSE(text);
    CHECK(text.error().message ==
          "history store " + dir.file("text.db") + ": cannot read: file is not a database");
  }

  TEST_CASE("an execution with its steps round-trips, every field, also the absent ones") {
    TempDir dir;
    const auto path = dir.file("history.db");
    auto s = open(path);

    auto e = make_execution("e-1", "backup", 1'700'000'000'000);
    e.triggered_by = "alice";
    e.scheduled_ms = 1'699'999'999'000;
    e.attempt = 2;
    e.log_path = "/var/log/jobs/backup/e-1.log";
    CHECK(value_of(s->claim_fire("backup", *e.scheduled_ms, "e-1")));
    value_of(s->begin_execution(e));

    // Durable and visible as running, without steps, before the first process starts.
    auto running = value_of(s->execution("e-1"));
    REQUIRE(running);
    CHECK(*running == e);
    CHECK(Raw(path).one("SELECT status, execution_id FROM fires") == "running|e-1");

    e.status = "partial_success";
    e.end_ms = e.start_ms + 5000;
    e.error_message = "step load failed";
    auto full = make_step("extract", "success");
    full.start_ms = e.start_ms;
    full.end_ms = e.start_ms + 1000;
    full.exit_code = 0;
    full.output = std::string("line 1\nüñíçødé ✓\n") + '\0' + "after a NUL";
    full.attempt = 3;
    full.outputs_json = R"({"rows": 42, "files": ["a.csv"]})";
    auto killed_step = make_step("load", "failed");
    killed_step.start_ms = e.start_ms + 1000;
    killed_step.end_ms = e.start_ms + 4000;
    killed_step.signal = 9;
    killed_step.error_message = "killed by SIGKILL";
    auto never = make_step("notify", "skipped"); // every optional absent, strings empty
    e.steps = {full, killed_step, never};
    value_of(s->finish_execution(e));

    const auto done = value_of(s->execution("e-1"));
    REQUIRE(done);
    CHECK(*done == e);
    CHECK(done->steps.at(0).output.size() == full.output.size());
    CHECK(Raw(path).one("SELECT status FROM fires") == "partial_success");

    // A manual run: no scheduled instant, no steps.
    auto manual = make_execution("e-2", "backup", 1'700'000'100'000);
    manual.trigger = "manual";
    value_of(s->begin_execution(manual));
    manual.status = "success";
    manual.end_ms = manual.start_ms;
    value_of(s->finish_execution(manual));
    CHECK(value_of(s->execution("e-2")) == manual);

    // Reopened: the same, and history lists them with their steps but not their output.
    s.reset();
    s = open(path);
    CHECK(value_of(s->execution("e-1")) == e);
    const auto listed = value_of(s->history({}));
    REQUIRE(listed.size() == 2);
    auto without_output = e;
    for (auto& step : without_output.steps) {
      step.output.clear();
      step.outputs_json.clear();
    }
    CHECK(listed[1] == without_output);
    CHECK(listed[0] == manual);
    CHECK(value_of(s->last_execution("backup")) == manual);
    CHECK(value_of(s->last_execution("nothing")) == std::nullopt);
  }

  TEST_CASE("begin and finish refuse what is wrong, and a refused finish changes nothing") {
    TempDir dir;
    const auto path = dir.file("history.db");
    auto s = open(path);
    const auto prefix = "history store " + path + ": ";
    auto e = make_execution("e-1", "backup", 1000);
    value_of(s->begin_execution(e));

    CHECK(error_of(s->begin_execution(e)) ==
          prefix + "cannot record the start of execution e-1: an execution with this id exists "
                   "already");
    auto other = make_execution("e-2", "backup", 1000);
    other.trigger = "cron";
    CHECK(error_of(s->begin_execution(other)) ==
          prefix + "cannot record the start of execution e-2: unknown trigger \"cron\"");
    other.status = "success";
    other.trigger = "schedule";
    other.end_ms = 2000;
    CHECK(error_of(s->finish_execution(other)) ==
          prefix + "cannot record the end of execution e-2: it was never begun (or it was pruned)");

    e.end_ms = 2000;
    e.status = "running";
    CHECK(error_of(s->finish_execution(e)) ==
          prefix + "cannot record the end of execution e-1: status \"running\" is not a final "
                   "status");

    // A step the database refuses, after the execution row and a first step were written: the
    // whole transaction goes.
    e.status = "success";
    auto bad = make_step("two", "success");
    bad.outputs_json = "{not json";
    e.steps = {make_step("one", "success"), bad};
    CHECK(error_of(s->finish_execution(e)) ==
          prefix + "cannot record the end of execution e-1: step two: CHECK constraint failed: "
                   "outputs_json = '' OR json_valid(outputs_json)");
    auto still = value_of(s->execution("e-1"));
    REQUIRE(still);
    CHECK(still->status == "running");
    CHECK(still->steps.empty());
    CHECK(value_of(s->job_state("backup")) == std::nullopt);

    e.steps.pop_back();
    value_of(s->finish_execution(e));
    CHECK(error_of(s->finish_execution(e)) ==
          prefix + "cannot record the end of execution e-1: it has ended already (status "
                   "\"success\")");
  }

  TEST_CASE("history: most recent first, filtered by job, status and start, limited") {
    TempDir dir;
    auto s = open(dir.file("history.db"));
    run(*s, make_execution("a1", "a", 1000), "success");
    run(*s, make_execution("b1", "b", 2000), "failed");
    run(*s, make_execution("a2", "a", 3000), "failed");
    run(*s, make_execution("a3", "a", 3000), "success"); // same start: greater id first
    value_of(s->begin_execution(make_execution("b2", "b", 4000)));

    CHECK(ids(value_of(s->history({}))) == Lines{"b2", "a3", "a2", "b1", "a1"});
    store::HistoryQuery q;
    q.job_id = "a";
    CHECK(ids(value_of(s->history(q))) == Lines{"a3", "a2", "a1"});
    q.status = "failed";
    CHECK(ids(value_of(s->history(q))) == Lines{"a2"});
    q = {};
    q.status = "running";
    CHECK(ids(value_of(s->history(q))) == Lines{"b2"});
    q = {};
    q.since_ms = 2000;
    CHECK(ids(value_of(s->history(q))) == Lines{"b2", "a3", "a2", "b1"});
    q.limit = 2;
    CHECK(ids(value_of(s->history(q))) == Lines{"b2", "a3"});
    q = {};
    q.until_ms = 3000; // started before
    CHECK(ids(value_of(s->history(q))) == Lines{"b1", "a1"});
    q.since_ms = 2000;
    CHECK(ids(value_of(s->history(q))) == Lines{"b1"});
    q = {};
    q.job_id = "nobody";
    CHECK(value_of(s->history(q)).empty());

    for (int i = 0; i < 25; ++i) {
      run(*s, make_execution("c" + std::to_string(100 + i), "c", 10'000 + i), "success");
    }
    q = {};
    q.job_id = "c";
    const auto first = value_of(s->history(q));
    CHECK(first.size() == 20); // the default limit
    CHECK(first.front().execution_id == "c124");
    q.limit = 0;
    CHECK(value_of(s->history(q)).size() == 25);
  }

  TEST_CASE("history pages after a cursor: no row skipped or repeated as new ones arrive") {
    TempDir dir;
    auto s = open(dir.file("history.db"));
    run(*s, make_execution("a1", "a", 1000), "success");
    run(*s, make_execution("a2", "a", 2000), "failed");
    run(*s, make_execution("a3", "a", 2000), "success"); // same start as a2
    run(*s, make_execution("a4", "a", 3000), "success");
    store::HistoryQuery q;
    q.limit = 2;
    const auto first = value_of(s->history(q));
    CHECK(ids(first) == Lines{"a4", "a3"});
    run(*s, make_execution("a5", "a", 4000), "success"); // arrives between the pages
    q.after = store::Cursor{first.back().start_ms, first.back().execution_id};
    const auto second = value_of(s->history(q));
    CHECK(ids(second) == Lines{"a2", "a1"});
    q.after = store::Cursor{second.back().start_ms, second.back().execution_id};
    CHECK(value_of(s->history(q)).empty());
    q.status = "success";
    q.after = store::Cursor{3000, "a4"};
    CHECK(ids(value_of(s->history(q))) == Lines{"a3", "a1"});

    CHECK(value_of(s->record_skipped_fire("x", 5000, "missed")));
    CHECK(value_of(s->record_skipped_fire("y", 5000, "missed")));
    CHECK(value_of(s->record_skipped_fire("x", 4000, "missed")));
    store::HistoryQuery k;
    k.limit = 1;
    k.after = store::Cursor{5000, "x"};
    CHECK(value_of(s->skipped_fires(k)) == std::vector<store::FireRecord>{{"y", 5000, "missed"}});
    k.after = store::Cursor{5000, "y"};
    CHECK(value_of(s->skipped_fires(k)) == std::vector<store::FireRecord>{{"x", 4000, "missed"}});
  }

  TEST_CASE("an execution is found by its id or by a unique prefix of it") {
    TempDir dir;
    auto s = open(dir.file("history.db"));
    for (const auto* id : {"7f3a91c2", "7f3a0b44", "7f9e0000", "x", "xy", "\xff\xff"}) {
      run(*s, make_execution(id, "job", 1000), "success");
    }
    const auto found = [&](const std::string& id) {
      const auto e = value_of(s->execution(id));
      return e ? e->execution_id : "(none)";
    };
    CHECK(found("7f3a91c2") == "7f3a91c2");
    CHECK(found("7f3a9") == "7f3a91c2");
    CHECK(found("7f9") == "7f9e0000");
    CHECK(found("x") == "x"); // an exact match wins over a longer id
    CHECK(found("\xff") == "\xff\xff");
    CHECK(found("7f4") == "(none)");
    CHECK(found("zz") == "(none)");
    CHECK(error_of(s->execution("7f3a")) ==
          "execution id prefix \"7f3a\" is ambiguous: 2 executions start with it");
    CHECK(error_of(s->execution("7f")) ==
          "execution id prefix \"7f\" is ambiguous: 3 executions start with it");
    CHECK(error_of(s->execution("")) == "the execution id is empty");
  }

  TEST_CASE("a fire is claimed at most once, across connections and threads") {
    TempDir dir;
    const auto path = dir.file("history.db");
    auto s = open(path);
    auto other = open(path); // another connection, as another process would have

    CHECK(value_of(s->claim_fire("backup", 60'000, "e-1")) == true);
    CHECK(value_of(s->claim_fire("backup", 60'000, "e-2")) == false);
    CHECK(value_of(other->claim_fire("backup", 60'000, "e-3")) == false);
    CHECK(value_of(other->record_skipped_fire("backup", 60'000, "forbid: still running")) == false);
    CHECK(value_of(s->claim_fire("report", 60'000, "e-4")) == true);
    CHECK(value_of(s->record_skipped_fire("backup", 120'000, "forbid: still running")) == true);
    CHECK(value_of(s->claim_fire("backup", 120'000, "e-5")) == false);
    CHECK(Raw(path).rows("SELECT job_id, scheduled_ms, execution_id, status, reason FROM fires "
                         "ORDER BY job_id, scheduled_ms") ==
          Lines{"backup|60000|e-1|pending|", "backup|120000|-|skipped|forbid: still running",
                "report|60000|e-4|pending|"});

    // last_fire_ms only moves forward (a late catch-up of an older instant does not move it).
    CHECK(value_of(s->claim_fire("backup", 30'000, "e-6")) == true);
    CHECK(value_of(s->job_state("backup"))->last_fire_ms == 120'000);

    // Eight connections race for one fire: exactly one wins.
    std::vector<std::unique_ptr<store::Store>> stores;
    for (int i = 0; i < 8; ++i) {
      stores.push_back(open(path));
    }
    std::atomic<int> wins{0};
    std::atomic<int> errors{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
      threads.emplace_back([&, i] {
        const auto r = stores[i]->claim_fire("race", 1000, "r-" + std::to_string(i));
        if (!r) {
          ++errors;
        } else if (*r) {
          ++wins;
        }
      });
    }
    for (auto& t : threads) {
      t.join();
    }
    CHECK(errors.load() == 0);
    CHECK(wins.load() == 1);
  }

  TEST_CASE("the job state follows fires and finished executions") {
    TempDir dir;
    auto s = open(dir.file("history.db"));
    CHECK(value_of(s->job_state("backup")) == std::nullopt);

    CHECK(value_of(s->claim_fire("backup", 1000, "b1")));
    auto b1 = make_execution("b1", "backup", 1000);
    run(*s, b1, "success");
    CHECK(value_of(s->job_state("backup")) ==
          store::JobState{"backup", 1000, "success", "b1", 1010, std::nullopt});

    CHECK(value_of(s->claim_fire("backup", 2000, "b2")));
    run(*s, make_execution("b2", "backup", 2000), "failed");
    CHECK(value_of(s->job_state("backup")) ==
          store::JobState{"backup", 2000, "failed", "b2", 1010, std::nullopt});

    run(*s, make_execution("a1", "archive", 500), "timeout"); // a manual-like run, no fire
    CHECK(value_of(s->record_skipped_fire("cleanup", 3000, "missed: older than max_lateness")));
    const auto states = value_of(s->job_states());
    REQUIRE(states.size() == 3);
    CHECK(states[0] ==
          store::JobState{"archive", std::nullopt, "timeout", "a1", std::nullopt, std::nullopt});
    CHECK(states[1].job_id == "backup");
    CHECK(states[2] == store::JobState{"cleanup", 3000, "", "", std::nullopt, std::nullopt});
  }

  TEST_CASE("claim_and_begin claims and begins at once, or does nothing") {
    TempDir dir;
    auto s = open(dir.file("history.db"));
    auto e = make_execution("x1", "backup", 5000);
    e.scheduled_ms = 4000;
    CHECK(value_of(s->claim_and_begin(e)));
    CHECK(value_of(s->execution("x1"))->status == "running");
    CHECK(value_of(s->job_state("backup"))->last_fire_ms == 4000);
    // The same fire again, for another execution: refused, nothing recorded.
    auto again = make_execution("x2", "backup", 5001);
    again.scheduled_ms = 4000;
    CHECK_FALSE(value_of(s->claim_and_begin(again)));
    CHECK(value_of(s->execution("x2")) == std::nullopt);
    CHECK_FALSE(value_of(s->claim_fire("backup", 4000, "x3")));
    // A crash now: the execution and its fire are interrupted.
    CHECK(value_of(s->mark_interrupted(9000)) == 1);
    CHECK(value_of(s->execution("x1"))->status == "interrupted");
    auto unscheduled = make_execution("x4", "backup", 5002);
    CHECK_FALSE(s->claim_and_begin(unscheduled));
  }

  TEST_CASE("claim_fires claims several fires in one go, each at most once") {
    TempDir dir;
    auto s = open(dir.file("history.db"));
    CHECK(value_of(s->claim_fire("a", 1000, "a1")));
    CHECK(value_of(s->claim_fires({{"a", 1000, "a2"}, {"a", 2000, "a3"}, {"b", 1000, "b1"}})) ==
          std::vector<bool>{false, true, true});
    CHECK(value_of(s->job_state("a"))->last_fire_ms == 2000);
    CHECK_FALSE(s->claim_fires({{"", 1000, "z"}}));
  }

  TEST_CASE("skipped fires are listed with their reasons, most recent first") {
    TempDir dir;
    auto s = open(dir.file("history.db"));
    CHECK(value_of(s->claim_fire("backup", 1000, "b1")));
    CHECK(value_of(s->record_skipped_fire("backup", 2000, "concurrency: forbid: b1 is running")));
    CHECK(value_of(s->record_skipped_fire("backup", 3000, "missed while jobsd was down")));
    CHECK(value_of(s->record_skipped_fire("cleanup", 2500, "missed: skip")));
    store::HistoryQuery q;
    q.job_id = "backup";
    CHECK(value_of(s->skipped_fires(q)) ==
          std::vector<store::FireRecord>{{"backup", 3000, "missed while jobsd was down"},
                                         {"backup", 2000, "concurrency: forbid: b1 is running"}});
    q.job_id.reset();
    q.since_ms = 2500;
    q.limit = 1;
    CHECK(value_of(s->skipped_fires(q)) ==
          std::vector<store::FireRecord>{{"backup", 3000, "missed while jobsd was down"}});
    q.until_ms = 3000;
    CHECK(value_of(s->skipped_fires(q)) ==
          std::vector<store::FireRecord>{{"cleanup", 2500, "missed: skip"}});
  }

  TEST_CASE("schedule_jobs records schedules and moves the last fire of starting jobs, never "
            "back") {
    TempDir dir;
    auto s = open(dir.file("history.db"));
    CHECK(value_of(s->claim_fire("backup", 1000, "b1")));
    CHECK(value_of(s->claim_fire("late", 8000, "l1")));
    run(*s, make_execution("a1", "archive", 500), "success"); // state, but no fire
    const auto starting = [](const std::string& id) {
      return store::JobSchedule{id, "cron " + id, true};
    };
    CHECK(value_of(s->schedule_jobs(
              {starting("backup"), starting("archive"), starting("fresh"), starting("late")},
              5000)) == 3);
    CHECK(value_of(s->job_state("backup"))->last_fire_ms == 5000);
    CHECK(value_of(s->job_state("late"))->last_fire_ms == 8000);
    CHECK(value_of(s->job_state("late"))->schedule == "cron late"); // recorded all the same
    CHECK(value_of(s->job_state("archive"))->last_fire_ms == 5000);
    CHECK(value_of(s->job_state("archive"))->last_status == "success");
    CHECK(value_of(s->job_state("fresh"))->last_fire_ms == 5000);
    CHECK(value_of(s->job_state("fresh"))->schedule == "cron fresh");
    CHECK(value_of(s->schedule_jobs({starting("fresh")}, 4000)) == 0);
    CHECK(value_of(s->job_state("fresh"))->last_fire_ms == 5000);
    // A real fire moves it on; a later start moves it further.
    CHECK(value_of(s->claim_fire("fresh", 7000, "f1")));
    CHECK(value_of(s->job_state("fresh"))->last_fire_ms == 7000);
    CHECK(value_of(s->schedule_jobs({starting("fresh")}, 9000)) == 1);
    CHECK(value_of(s->job_state("fresh"))->last_fire_ms == 9000);
    // A job no longer scheduled, and one scheduled on: their schedules change, not their fires.
    CHECK(value_of(s->schedule_jobs({{"fresh", "", false}, {"backup", "cron 2", false}}, 9500)) ==
          0);
    CHECK(value_of(s->job_state("fresh")) ==
          store::JobState{"fresh", 9000, "", "", std::nullopt, ""});
    CHECK(value_of(s->job_state("backup"))->last_fire_ms == 5000);
    CHECK(value_of(s->job_state("backup"))->schedule == "cron 2");
  }

  TEST_CASE("mark_interrupted ends every running execution, its fire and its job's state") {
    TempDir dir;
    const auto path = dir.file("history.db");
    auto s = open(path);
    run(*s, make_execution("a0", "a", 50), "success");
    CHECK(value_of(s->claim_fire("a", 100, "a1")));
    value_of(s->begin_execution(make_execution("a1", "a", 100)));
    auto b1 = make_execution("b1", "b", 200);
    b1.error_message = "retrying after: exit 3";
    value_of(s->begin_execution(b1));
    CHECK(value_of(s->claim_fire("c", 300, "c1"))); // claimed, never begun

    CHECK(value_of(s->mark_interrupted(9999)) == 2);
    const auto a1 = value_of(s->execution("a1"));
    REQUIRE(a1);
    CHECK(a1->status == "interrupted");
    CHECK(a1->end_ms == 9999);
    CHECK(a1->error_message == "the daemon stopped before the execution finished");
    CHECK(value_of(s->execution("b1"))->error_message == "retrying after: exit 3");
    CHECK(value_of(s->execution("a0"))->status == "success");
    CHECK(value_of(s->job_state("a")) ==
          store::JobState{"a", 100, "interrupted", "a1", 60, std::nullopt});
    CHECK(Raw(path).rows("SELECT execution_id, status FROM fires ORDER BY job_id") ==
          Lines{"a1|interrupted", "c1|interrupted"});
    CHECK(value_of(s->mark_interrupted(10'000)) == 0);
  }

  TEST_CASE("prune keeps N executions per job and none too old, never a running one") {
    TempDir dir;
    const auto path = dir.file("history.db");
    auto s = open(path);
    value_of(s->claim_fire("a", 1000, "a1"));
    value_of(s->begin_execution(make_execution("a1", "a", 1000))); // oldest, still running
    for (int i = 2; i <= 6; ++i) {
      auto e = make_execution("a" + std::to_string(i), "a", i * 1000);
      e.steps = {make_step("one", "success"), make_step("two", "success")};
      value_of(s->claim_fire("a", e.start_ms, e.execution_id));
      run(*s, e, "success");
    }
    run(*s, make_execution("b1", "b", 100), "failed");
    Raw raw(path);
    CHECK(raw.one("SELECT count(*) FROM step_executions") == "10");

    store::Retention by_count;
    by_count.max_per_job = 2;
    by_count.max_age_ms = 0;
    CHECK(value_of(s->prune(by_count, 1'000'000)) == 3);
    CHECK(ids(value_of(s->history({}))) == Lines{"a6", "a5", "a1", "b1"});
    CHECK(raw.rows("SELECT DISTINCT execution_id FROM step_executions ORDER BY 1") ==
          Lines{"a5", "a6"});

    store::Retention by_age;
    by_age.max_per_job = 0;
    by_age.max_age_ms = 1000;
    CHECK(value_of(s->prune(by_age, 6500)) == 2); // started before 5500: a5 and b1, not a1
    CHECK(ids(value_of(s->history({}))) == Lines{"a6", "a1"});
    CHECK(raw.rows("SELECT DISTINCT execution_id FROM step_executions") == Lines{"a6"});
    CHECK(raw.rows("SELECT scheduled_ms, status FROM fires ORDER BY 1") ==
          Lines{"1000|running", "6000|success"});
    CHECK(raw.rows("PRAGMA foreign_key_check").empty());
    CHECK(value_of(s->job_state("b"))->last_execution_id == "b1"); // states stay

    CHECK(value_of(s->prune({}, 6500)) == 0); // the defaults: 1000 per job, 90 days
  }

  TEST_CASE("audit records are appended") {
    TempDir dir;
    const auto path = dir.file("history.db");
    auto s = open(path);
    value_of(s->audit({1000, "alice", 1001, "trigger", "backup", "manual run", "ok"}));
    value_of(s->audit({2000, "", std::nullopt, "reload", "", "", "3 jobs: 1 invalid"}));
    CHECK(Raw(path).rows("SELECT time_ms, user_name, uid, action, target, detail, outcome "
                         "FROM audit ORDER BY id") ==
          Lines{"1000|alice|1001|trigger|backup|manual run|ok",
                "2000||-|reload|||3 jobs: 1 invalid"});
  }

  TEST_CASE("audit_log: the latest first, filtered by user and job, paged by id") {
    TempDir dir;
    auto s = open(dir.file("history.db"));
    value_of(s->audit({1000, "alice", 1001, "trigger", "backup", "{}", "ok"}));
    value_of(s->audit({2000, "bob", 1002, "cancel", "backup 20250101-abc", "{}", "ok"}));
    value_of(s->audit({3000, "alice", 1001, "trigger", "backup_x", "{}", "denied: no"}));
    value_of(s->audit({4000, "root", 0, "reload", "", "{}", "ok"}));
    const auto targets = [](const std::vector<store::AuditEntry>& rows) {
      Lines out;
      for (const auto& r : rows) {
        out.push_back(std::to_string(r.id) + " " + r.record.user + " " + r.record.target);
      }
      return out;
    };
    CHECK(targets(value_of(s->audit_log({}))) ==
          Lines{"4 root ", "3 alice backup_x", "2 bob backup 20250101-abc", "1 alice backup"});
    store::AuditQuery q;
    q.job_id = "backup"; // not backup_x, whose '_' a LIKE would take for any character
    CHECK(targets(value_of(s->audit_log(q))) ==
          Lines{"2 bob backup 20250101-abc", "1 alice backup"});
    q = {};
    q.user = "alice";
    CHECK(targets(value_of(s->audit_log(q))) == Lines{"3 alice backup_x", "1 alice backup"});
    q = {};
    q.limit = 2;
    q.before_id = 3;
    const auto page = value_of(s->audit_log(q));
    CHECK(targets(page) == Lines{"2 bob backup 20250101-abc", "1 alice backup"});
    CHECK(page.back().record ==
          store::AuditRecord{1000, "alice", 1001, "trigger", "backup", "{}", "ok"});
  }

  TEST_CASE("pauses are kept across openings, replaced, and ended") {
    TempDir dir;
    const auto path = dir.file("history.db");
    const store::PauseRecord backup{"backup", 1000, std::nullopt, "alice", "disk full"};
    const store::PauseRecord report{"report", 2000, 9000, "bob", ""};
    {
      auto s = open(path);
      CHECK(value_of(s->paused_jobs()).empty());
      CHECK(value_of(s->pause_job(report)));
      CHECK(value_of(s->pause_job(backup)));
    }
    auto s = open(path);
    CHECK(value_of(s->paused_jobs()) == std::vector{backup, report});
    // A second pause replaces the first.
    const store::PauseRecord again{"backup", 3000, 7000, "carol", "still full"};
    CHECK(value_of(s->pause_job(again)));
    CHECK(value_of(s->paused_jobs()) == std::vector{again, report});
    CHECK(value_of(s->resume_job("backup")));
    CHECK_FALSE(value_of(s->resume_job("backup")));
    CHECK(value_of(s->paused_jobs()) == std::vector{report});
    CHECK(error_of(s->pause_job({})) ==
          "history store " + path +
              ": cannot record the pause of job : the job id must not be empty");
  }

  TEST_CASE("a crash inside finish_execution leaves the execution complete or still running") {
    struct Case {
      const char* point;
      int nth;
      bool complete;
    };
    const Case cases[] = {
        {"finish:execution", 1, false}, {"finish:step", 1, false},   {"finish:step", 3, false},
        {"finish:state", 1, false},     {"finish:commit", 1, false}, {"finish:committed", 1, true},
    };
    for (const auto& c : cases) {
      const std::string point = c.point;
      CAPTURE(point);
      CAPTURE(c.nth);
      TempDir dir;
      const auto path = dir.file("history.db");
      auto e = make_execution("e-1", "backup", 1000);
      e.scheduled_ms = 1000;
      for (int i = 0; i < 4; ++i) {
        e.steps.push_back(make_step("s" + std::to_string(i), "success"));
        e.steps.back().output = std::string(1'000'000, 'x'); // more than the page cache: pages
                                                             // spill to the WAL uncommitted
      }

      const int status = in_child([&] {
        int seen = 0;
        store::OpenOptions options;
        options.test_hook = [&](std::string_view at) {
          if (at == point && ++seen == c.nth) {
            raise(SIGKILL);
          }
        };
        auto s = store::open_sqlite(path, options);
        if (!s || !(*s)->claim_fire("backup", 1000, "e-1") || !(*s)->begin_execution(e)) {
          return 2;
        }
        auto finished = e;
        finished.status = "success";
        finished.end_ms = 2000;
        (void)(*s)->finish_execution(finished);
        return 3; // not killed: the hook point was never reached
      });
      REQUIRE(killed(status));

      CHECK(Raw(path).one("PRAGMA integrity_check") == "ok");
      auto s = open(path);
      auto found = value_of(s->execution("e-1"));
      REQUIRE(found);
      if (c.complete) {
        CHECK(found->status == "success");
        CHECK(found->steps.size() == 4);
        CHECK(value_of(s->mark_interrupted(5000)) == 0);
      } else {
        CHECK(found->status == "running");
        CHECK(found->steps.empty());
        CHECK(value_of(s->job_state("backup"))->last_status == "");
        CHECK(value_of(s->mark_interrupted(5000)) == 1);
        found = value_of(s->execution("e-1"));
        CHECK(found->status == "interrupted");
        CHECK(found->steps.empty());
        CHECK(value_of(s->job_state("backup"))->last_status == "interrupted");
      }
      CHECK(Raw(path).one("SELECT count(*) FROM step_executions") == (c.complete ? "4" : "0"));
    }
  }

  TEST_CASE("a crash inside the schema upgrade leaves the database as it was") {
    TempDir dir;
    const auto path = dir.file("history.db");
    const int status = in_child([&] {
      store::OpenOptions options;
      options.test_hook = [](std::string_view point) {
        if (point == "migrate:1") { // version 1 applied, version 2 not yet
          raise(SIGKILL);
        }
      };
      return store::open_sqlite(path, options) ? 3 : 2;
    });
    REQUIRE(killed(status));
    {
      Raw raw(path);
      CHECK(raw.one("PRAGMA integrity_check") == "ok");
      CHECK(raw.one("SELECT count(*) FROM sqlite_master") == "0");
    }
    auto s = open(path);
    CHECK(Raw(path).one("SELECT group_concat(version) FROM schema_version") == "1,2,3,4");
  }

  TEST_CASE("a store locked by another process: writes wait, then fail with a clear error") {
    TempDir dir;
    const auto path = dir.file("history.db");
    store::OpenOptions options;
    options.busy_timeout = std::chrono::milliseconds(100);
    auto s = open(path, options);
    run(*s, make_execution("e-1", "backup", 1000), "success");

    Raw other(path);
    other.exec("BEGIN IMMEDIATE");
    other.exec("INSERT INTO audit (time_ms, user_name, action, target, detail, outcome) "
               "VALUES (1, 'x', 'y', 'z', '', '')");

    const auto start = std::chrono::steady_clock::now();
    const auto claimed = s->claim_fire("backup", 5000, "e-2");
    const auto waited = std::chrono::steady_clock::now() - start;
    CHECK(error_of(claimed) == "history store " + path +
                                   ": cannot claim the fire of job backup at 5000: the store is "
                                   "locked by another process (waited 100 ms)");
    CHECK(waited >= std::chrono::milliseconds(100));
    CHECK(error_of(s->begin_execution(make_execution("e-2", "backup", 5000))) ==
          "history store " + path +
              ": cannot record the start of execution e-2: the store is locked by another "
              "process (waited 100 ms)");

    // Readers are not blocked, and a store at the current version opens.
    CHECK(ids(value_of(s->history({}))) == Lines{"e-1"});
    CHECK(ids(value_of(open(path, options)->history({}))) == Lines{"e-1"});

    other.exec("ROLLBACK");
    CHECK(value_of(s->claim_fire("backup", 5000, "e-2")) == true);

    // A writer that starts while the lock is held gets it once it is released.
    auto patient = open(path); // 5 s
    other.exec("BEGIN IMMEDIATE");
    base::Result<bool> late = false;
    std::thread writer([&] { late = patient->claim_fire("backup", 6000, "e-3"); });
    other.exec("COMMIT");
    writer.join();
    CHECK(value_of(late) == true);
  }

  TEST_CASE("a read does not wait for a write that waits for another process's lock") {
    TempDir dir;
    const auto path = dir.file("history.db");
    store::OpenOptions options;
    options.busy_timeout = std::chrono::milliseconds(1500);
    auto s = open(path, options);
    run(*s, make_execution("e-1", "backup", 1000), "success");
    Raw other(path);
    other.exec("BEGIN IMMEDIATE");
    other.exec("INSERT INTO audit (time_ms, user_name, action, target, detail, outcome) "
               "VALUES (1, 'x', 'y', 'z', '', '')");
    std::atomic<bool> writing{true};
    std::string written;
    std::thread writer([&] {
      written = error_of(s->claim_fire("backup", 5000, "e-2"));
      writing = false;
    });
    // Reads go on all the while the writer waits, each well within its wait.
    std::chrono::steady_clock::duration slowest{};
    int reads = 0;
    bool right = true;
    while (writing) {
      const auto start = std::chrono::steady_clock::now();
      right = right && ids(value_of(s->history({}))) == Lines{"e-1"};
      slowest = std::max(slowest, std::chrono::steady_clock::now() - start);
      ++reads;
    }
    CHECK(right);
    writer.join();
    other.exec("ROLLBACK");
    CHECK(written.ends_with("the store is locked by another process (waited 1500 ms)"));
    CHECK(slowest < std::chrono::milliseconds(750));
    MESSAGE("reads while the writer waited: " << reads);
  }

  TEST_CASE("deferred writes: a write that fails for a reason that passes waits in memory") {
    TempDir dir;
    const auto path = dir.file("history.db");
    store::OpenOptions options;
    options.busy_timeout = std::chrono::milliseconds(300);
    options.defer_failed_writes = true;
    options.retry_every = std::chrono::milliseconds(20);
    std::atomic<int> told{0};
    options.on_note = [&] { ++told; };
    auto s = open(path, options);
    run(*s, make_execution("e-1", "backup", 1000), "success");
    CHECK(s->health() == store::Health{});

    Raw other(path);
    other.exec("BEGIN IMMEDIATE");
    other.exec("INSERT INTO audit (time_ms, user_name, action, target, detail, outcome) "
               "VALUES (1, 'x', 'y', 'z', '', '')");

    // The first write waits for the lock, then joins the memory; the next ones do not wait.
    auto e2 = make_execution("e-2", "backup", 5000);
    e2.scheduled_ms = 5000;
    CHECK(value_of(s->claim_and_begin(e2)) == true);
    const std::string fault = "history store " + path +
                              ": cannot start execution e-2 for the fire of job backup: the store "
                              "is locked by another process (waited 300 ms)";
    CHECK(s->health().fault == fault);
    CHECK(s->health().waiting == 1);
    CHECK(s->take_notes() ==
          std::vector<store::Note>{
              {true, fault + "; its writes wait in memory until it works again"}});
    CHECK(told.load() == 1);

    const auto start = std::chrono::steady_clock::now();
    auto e2_end = e2;
    e2_end.status = "success";
    e2_end.end_ms = 5010;
    e2_end.steps = {make_step("a", "success")};
    CHECK(value_of(s->finish_execution(e2_end)) == true);
    CHECK(value_of(s->record_skipped_fire("backup", 6000, "concurrency: forbid")) == true);
    CHECK(value_of(s->claim_fire("report", 6000, "r-1")) == true);
    store::AuditRecord a;
    a.time_ms = 6000;
    a.user = "root";
    a.action = "trigger";
    a.target = "backup";
    a.outcome = "ok";
    CHECK(value_of(s->audit(a)) == true);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(300));
    CHECK(s->health().waiting == 5);
    // A refusal is still one at once.
    CHECK(error_of(s->finish_execution(make_execution("e-3", "backup", 1))) ==
          "history store " + path +
              ": cannot record the end of execution e-3: status \"running\" is not a final "
              "status");

    // Reads see what waits; the file has none of it yet.
    CHECK(ids(value_of(s->history({}))) == Lines{"e-2", "e-1"});
    CHECK(value_of(s->history({}))[0].status == "success");
    CHECK(value_of(s->history({}))[0].steps == e2_end.steps);
    CHECK(value_of(s->execution("e-2")) == e2_end);
    CHECK(value_of(s->last_execution("backup"))->execution_id == "e-2");
    store::HistoryQuery running;
    running.status = "running";
    CHECK(value_of(s->history(running)).empty());
    CHECK(value_of(s->skipped_fires({})) ==
          std::vector<store::FireRecord>{{"backup", 6000, "concurrency: forbid"}});
    CHECK(Raw(path).one("SELECT count(*) FROM job_executions WHERE execution_id = 'e-2'") == "0");

    // Released: they are made, in order, and the fault ends.
    other.exec("ROLLBACK");
    for (int i = 0; i < 500 && s->health().waiting > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const auto health = s->health();
    CHECK(health.fault == "");
    CHECK(health.waiting == 0);
    CHECK(health.made_late == 5);
    CHECK(health.lost == 0);
    const auto notes = s->take_notes();
    REQUIRE(notes.size() == 1);
    CHECK_FALSE(notes[0].problem);
    CHECK(notes[0].text.starts_with("history store " + path +
                                    " works again: 5 writes that waited in memory made, after "));
    Raw raw(path);
    CHECK(raw.rows("SELECT execution_id, status, scheduled_ms FROM job_executions ORDER BY 1") ==
          Lines{"e-1|success|-", "e-2|success|5000"});
    CHECK(raw.one("SELECT count(*) FROM step_executions WHERE execution_id = 'e-2'") == "1");
    CHECK(raw.rows("SELECT job_id, scheduled_ms, execution_id, status FROM fires ORDER BY 1, 2") ==
          Lines{"backup|5000|e-2|success", "backup|6000|-|skipped", "report|6000|r-1|pending"});
    CHECK(raw.one("SELECT count(*) FROM audit WHERE action = 'trigger'") == "1");
    CHECK(value_of(s->job_state("backup"))->last_status == "success");
    // And the next write goes straight to the file.
    CHECK(value_of(s->claim_fire("report", 7000, "r-2")) == true);
    CHECK(raw.one("SELECT count(*) FROM fires WHERE execution_id = 'r-2'") == "1");
  }

  TEST_CASE("deferred writes: made late, a claim taken meanwhile or a refusal is told") {
    TempDir dir;
    const auto path = dir.file("history.db");
    store::OpenOptions options;
    options.busy_timeout = std::chrono::milliseconds(100);
    options.defer_failed_writes = true;
    options.retry_every = std::chrono::milliseconds(20);
    auto s = open(path, options);
    run(*s, make_execution("e-1", "backup", 1000), "success");

    Raw other(path);
    other.exec("BEGIN IMMEDIATE");
    CHECK(value_of(s->claim_fire("backup", 7000, "e-4")) == true);
    CHECK(value_of(s->begin_execution(make_execution("e-1", "backup", 1000))) == true);
    // The other process takes that fire before the claim is made.
    other.exec("INSERT INTO fires (job_id, scheduled_ms, execution_id, status, reason) "
               "VALUES ('backup', 7000, 'x-9', 'pending', '')");
    other.exec("COMMIT");
    for (int i = 0; i < 500 && s->health().waiting > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(s->health().made_late == 1);
    CHECK(s->health().lost == 1);
    Lines texts;
    for (const auto& n : s->take_notes()) {
      texts.push_back((n.problem ? "problem: " : "news: ") + n.text.substr(0, 80));
    }
    CHECK(texts.size() == 4);
    if (texts.size() == 4) {
      const std::string store = "history store " + path;
      CHECK(texts[0].starts_with("problem: " + store.substr(0, 71)));
      CHECK(texts[1] == ("problem: " + store +
                         ": cannot record the start of execution e-1: an execution with this id "
                         "exists already (it waited in memory; it is lost)")
                            .substr(0, 89));
      CHECK(texts[2] == ("problem: " + store +
                         ": job backup: the fire of 1970-01-01T00:00:07.000Z was claimed already")
                            .substr(0, 89));
      CHECK(texts[3].starts_with("news: " + store.substr(0, 74)));
    }
    CHECK(Raw(path).one("SELECT execution_id FROM fires WHERE scheduled_ms = 7000") == "x-9");
  }

  TEST_CASE("deferred writes: past their memory, writes fail as without deferral") {
    TempDir dir;
    const auto path = dir.file("history.db");
    store::OpenOptions options;
    options.busy_timeout = std::chrono::milliseconds(100);
    options.defer_failed_writes = true;
    options.deferred_memory = 1000;
    auto s = open(path, options);
    Raw other(path);
    other.exec("BEGIN IMMEDIATE");
    auto big = make_execution("e-1", "backup", 1000);
    big.error_message = std::string(2000, 'x');
    const auto refused = s->begin_execution(big);
    CHECK(error_of(refused).starts_with("history store " + path +
                                        ": cannot record the start of execution e-1: the writes "
                                        "waiting in memory fill their memory ("));
    CHECK(s->health().lost == 1);
    CHECK(value_of(s->claim_fire("backup", 1000, "e-2")) == true);
    CHECK(s->health().waiting == 1);
    other.exec("ROLLBACK");
    CHECK(s->flush() == 0);
    CHECK(s->health().fault == "");
  }

  TEST_CASE("readers and a writer on separate connections do not block each other (WAL)") {
    TempDir dir;
    const auto path = dir.file("history.db");
    auto writer = open(path);
    CHECK(Raw(path).one("PRAGMA journal_mode") == "wal");

    const std::vector<StepRecord> steps{make_step("a", "success"), make_step("b", "success"),
                                        make_step("c", "failed")};

    // A reader inside a read transaction keeps its snapshot while a writer commits.
    Raw reader(path);
    reader.exec("BEGIN");
    CHECK(reader.one("SELECT count(*) FROM job_executions") == "0");
    auto first = make_execution("e-0", "job", 1);
    first.steps = steps;
    run(*writer, first, "success");
    CHECK(reader.one("SELECT count(*) FROM job_executions") == "0");
    reader.exec("COMMIT");
    CHECK(reader.one("SELECT count(*) FROM job_executions") == "1");

    // Threads, each with its own Store: the reader sees whole executions only.
    constexpr int count = 40;
    auto reading = open(path);
    std::atomic<bool> done{false};
    std::string writer_error;
    std::string reader_error;
    std::size_t seen = 0;
    int reads = 0;
    std::thread write_thread([&] {
      for (int i = 1; i <= count && writer_error.empty(); ++i) {
        auto e = make_execution("e-" + std::to_string(i), "job", 1 + i);
        auto r = writer->begin_execution(e);
        e.status = "success";
        e.end_ms = e.start_ms + 1;
        e.steps = steps;
        if (r) {
          r = writer->finish_execution(e);
        }
        if (!r) {
          writer_error = r.error().message;
        }
      }
      done = true;
    });
    std::thread read_thread([&] {
      for (bool last = false; !last && reader_error.empty(); ++reads) {
        last = done.load();
        store::HistoryQuery all;
        all.limit = 0;
        const auto h = reading->history(all);
        if (!h) {
          reader_error = h.error().message;
          break;
        }
        if (h->size() < seen) {
          reader_error = "history shrank";
        }
        seen = h->size();
        const auto newest = reading->execution(h->front().execution_id);
        if (!newest || !*newest) {
          reader_error = newest ? "newest execution not found" : newest.error().message;
        } else if (!(((*newest)->status == "running" && (*newest)->steps.empty()) ||
                     ((*newest)->status == "success" && (*newest)->steps.size() == 3))) {
          reader_error = "half-written execution " + (*newest)->execution_id;
        }
      }
    });
    write_thread.join();
    read_thread.join();
    CHECK(writer_error == "");
    CHECK(reader_error == "");
    CHECK(seen == static_cast<std::size_t>(count + 1));
    MESSAGE("reads while writing: " << reads);
  }

  TEST_CASE("a version 1 database is upgraded in place, its history kept") {
    TempDir dir;
    const auto path = dir.file("history.db");
    {
      Raw raw(path);
      raw.exec(schema_v1);
      raw.exec("INSERT INTO job_executions VALUES ('old-1', 'backup', 'Backup', 'success', "
               "'UTC', 'schedule', '', 'node1', 1000, 1000, 2000, 1, '', '/logs/old-1.log')");
      raw.exec("INSERT INTO step_executions VALUES ('old-1', 0, 'dump', 'Dump', 'shell', "
               "'success', 1000, 2000, 0, NULL, 'done', '', 1)");
    }
    auto s = open(path);
    {
      Raw raw(path);
      CHECK(raw.one("SELECT group_concat(version) FROM schema_version") == "1,2,3,4");
      CHECK(raw.one("PRAGMA journal_mode") == "wal");
    }
    const auto old = value_of(s->execution("old-1"));
    REQUIRE(old);
    REQUIRE(old->steps.size() == 1);
    CHECK(old->steps[0].output == "done");
    CHECK(old->steps[0].outputs_json == "");
    // A job's state from before version 3 does not know its schedule.
    CHECK(value_of(s->claim_fire("backup", 5000, "b5")));
    CHECK(value_of(s->job_state("backup"))->schedule == std::nullopt);
    // No job was paused before version 4.
    CHECK(value_of(s->paused_jobs()).empty());

    auto e = make_execution("new-1", "backup", 3000);
    e.steps = {make_step("dump", "success")};
    e.steps[0].outputs_json = R"({"bytes": 1024})";
    run(*s, e, "success");
    CHECK(value_of(s->execution("new-1"))->steps[0].outputs_json == R"({"bytes": 1024})");

    // The upgraded schema is the one a new store gets.
    open(dir.file("fresh.db"));
    CHECK(shape(path) == shape(dir.file("fresh.db")));
  }

  TEST_CASE("a failed upgrade changes nothing") {
    TempDir dir;
    const auto path = dir.file("history.db");
    {
      Raw raw(path);
      raw.exec(schema_v1);
      // What version 2 adds is already there, so its ALTER TABLE fails.
      raw.exec("ALTER TABLE step_executions ADD COLUMN outputs_json TEXT");
    }
    CHECK(error_of(store::open_sqlite(path)) ==
          "history store " + path +
              ": cannot upgrade the schema from version 1 to 4: duplicate column name: "
              "outputs_json");
    CHECK(Raw(path).one("SELECT group_concat(version) FROM schema_version") == "1");
  }

  TEST_CASE("a store of a newer version, another program's database, not a database") {
    TempDir dir;
    const auto prefix = [&](const std::string& name) {
      return "history store " + dir.file(name) + ": cannot open: ";
    };

    const auto newer = dir.file("newer.db");
    open(newer);
    Raw(newer).exec("INSERT INTO schema_version VALUES (5, 0)");
    CHECK(error_of(store::open_sqlite(newer)) ==
          prefix("newer.db") +
              "its schema version 5 is newer than this program's (4); use a newer release of jobs");
    CHECK(Raw(newer).one("SELECT max(version) FROM schema_version") == "5");

    const auto foreign = dir.file("foreign.db");
    Raw(foreign).exec("CREATE TABLE customers (id INTEGER PRIMARY KEY)");
    CHECK(error_of(store::open_sqlite(foreign)) ==
          prefix("foreign.db") + "it is an SQLite database but not a jobs history store");
    CHECK(Raw(foreign).one("PRAGMA journal_mode") == "delete"); // untouched

    const auto text = dir.file("notes.txt");
    const std::string content(4096, 'x');
    std::ofstream(text) << content;
    CHECK(error_of(store::open_sqlite(text)) ==
          prefix("notes.txt") + "the file is not an SQLite database");
    CHECK(std::filesystem::file_size(text) == content.size());

    CHECK(error_of(store::open_sqlite(dir.file("missing/history.db"))) ==
          prefix("missing/history.db") + "unable to open database file");
  }

} // TEST_SUITE
