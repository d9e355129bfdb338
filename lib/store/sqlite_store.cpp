// The SQLite history store. Two connections per Store, one for writes and one for reads, each
// guarded by a mutex, so that a read never waits behind a write that waits for a lock; every
// public call is one transaction, or a savepoint in one: writes that come together are committed
// together (BEGIN IMMEDIATE, so that a writer takes the write lock before it reads, and two
// writers never deadlock on a lock upgrade). Values are always bound, never spliced into SQL
// text. With defer_failed_writes, writes that fail for a reason that passes wait in memory and
// a thread of the store makes them later, in order (see write() and flush_some()).

#include <store/store.hpp>

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace store {

// From json.cpp (its header would bring std::quoted in, which clashes with quoted() below).
std::string iso_time(std::int64_t ms);

namespace {

// What went wrong inside one operation.
struct Fault {
  int rc = SQLITE_OK;      // SQLite's (extended) result code; SQLITE_OK for a refusal of ours
  std::string text;        // SQLite's message, or ours
  bool standalone = false; // `text` is the whole message (not about the store file)
  bool in_memory = false;  // writes wait in memory: this one joins them
};
using Status = std::optional<Fault>; // nothing: fine

#define STORE_TRY(expr)                                                                            \
  do {                                                                                             \
    if (auto fault_ = (expr)) {                                                                    \
      return fault_;                                                                               \
    }                                                                                              \
  } while (false)

Fault refusal(std::string text) {
  return Fault{SQLITE_OK, std::move(text), false};
}

bool is_busy(int rc) {
  return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

// A failure that passes with time or an operator's help (a lock, a full disk, an I/O error, a
// read-only file system), not one of the write itself: the write can be made later as it is.
bool passes(int rc) {
  switch (rc & 0xff) {
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
  case SQLITE_FULL:
  case SQLITE_IOERR:
  case SQLITE_READONLY:
  case SQLITE_CANTOPEN:
  case SQLITE_PROTOCOL:
  case SQLITE_NOMEM:
    return true;
  default:
    return false;
  }
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What a record takes in memory, roughly: its text.
std::size_t size_of(const ExecutionRecord& e) {
  std::size_t n = 256 + e.execution_id.size() + e.job_id.size() + e.job_name.size() +
                  e.timezone.size() + e.triggered_by.size() + e.host.size() +
                  e.error_message.size() + e.log_path.size();
  for (const auto& step : e.steps) {
    n += 128 + step.step_id.size() + step.step_name.size() + step.step_type.size() +
         step.output.size() + step.error_message.size() + step.outputs_json.size();
  }
  return n;
}

std::string quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

constexpr std::array<std::string_view, 7> final_statuses{
    "success", "failed", "partial_success", "timeout", "cancelled", "skipped", "interrupted"};
constexpr std::array<std::string_view, 8> step_statuses{
    "pending", "running", "success", "failed", "skipped", "cancelled", "timeout", "interrupted"};
constexpr std::array<std::string_view, 6> triggers{"schedule", "manual",  "api",
                                                   "after",    "catchup", "retry"};

template <typename List>
bool one_of(std::string_view value, const List& list) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// The least string above every string that starts with `prefix`, comparing bytes as SQLite's
// BINARY collation does; nothing when there is none (the prefix is all 0xFF bytes).
std::optional<std::string> prefix_end(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) {
    prefix.pop_back();
  }
  if (prefix.empty()) {
    return std::nullopt;
  }
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

struct StatementDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

// One SQLite connection and its cached statements, used by one thread at a time (its mutex).
struct Connection {
  sqlite3* db = nullptr;
  std::mutex mutex;
  std::unordered_map<std::string, StatementPtr> statements;

  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    statements.clear();
    sqlite3_close_v2(db);
  }
};

// The connection the current thread uses inside a transaction (Use sets it).
thread_local Connection* current_connection = nullptr;

struct Use {
  Connection* previous;
  explicit Use(Connection& c) : previous(current_connection) { current_connection = &c; }
  ~Use() { current_connection = previous; }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
};

// One use of a cached prepared statement: bind, step, read columns; reset on scope exit so that
// it holds no read snapshot and no bound copy.
class Query {
public:
  explicit Query(sqlite3_stmt* statement) : s_(statement) {}
  ~Query() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(int i, std::string_view v) {
    // A null pointer would bind NULL, not "".
    note(sqlite3_bind_text64(s_, i, v.empty() ? "" : v.data(), v.size(), SQLITE_TRANSIENT,
                             SQLITE_UTF8));
    return *this;
  }
  Query& bind(int i, std::int64_t v) {
    note(sqlite3_bind_int64(s_, i, v));
    return *this;
  }
  Query& bind(int i, std::optional<std::int64_t> v) {
    note(v ? sqlite3_bind_int64(s_, i, *v) : sqlite3_bind_null(s_, i));
    return *this;
  }
  Query& bind(int i, std::optional<int> v) {
    note(v ? sqlite3_bind_int64(s_, i, *v) : sqlite3_bind_null(s_, i));
    return *this;
  }
  // A zero-length BLOB: SQLite orders every BLOB after every TEXT, so "id < ?" always holds.
  Query& bind_above_all_text(int i) {
    note(sqlite3_bind_zeroblob(s_, i, 0));
    return *this;
  }

  // SQLITE_ROW, SQLITE_DONE, or an error code (also a failed bind's).
  int step() { return bind_rc_ != SQLITE_OK ? bind_rc_ : sqlite3_step(s_); }

  std::string text(int column) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, column));
    const auto n = sqlite3_column_bytes(s_, column);
    return p ? std::string(p, static_cast<std::size_t>(n)) : std::string();
  }
  std::int64_t int64(int column) const { return sqlite3_column_int64(s_, column); }
  std::optional<std::int64_t> optional_int64(int column) const {
    if (sqlite3_column_type(s_, column) == SQLITE_NULL) {
      return std::nullopt;
    }
    return int64(column);
  }
  std::optional<std::string> optional_text(int column) const {
    if (sqlite3_column_type(s_, column) == SQLITE_NULL) {
      return std::nullopt;
    }
    return text(column);
  }
  std::optional<int> optional_int(int column) const {
    if (sqlite3_column_type(s_, column) == SQLITE_NULL) {
      return std::nullopt;
    }
    return static_cast<int>(int64(column));
  }

private:
  void note(int rc) {
    if (bind_rc_ == SQLITE_OK) {
      bind_rc_ = rc;
    }
  }

  sqlite3_stmt* s_;
  int bind_rc_ = SQLITE_OK;
};

// The schema, one entry per version; a database at version N gets every later entry, all in one
// transaction. Entries are never edited once released: a change is a new entry.
struct Migration {
  int version;
  const char* sql;
};

constexpr std::array<Migration, 4> migrations{{
    {1, R"sql(
CREATE TABLE schema_version (
  version INTEGER PRIMARY KEY,
  applied_ms INTEGER NOT NULL
);
CREATE TABLE job_executions (
  execution_id TEXT PRIMARY KEY NOT NULL,
  job_id TEXT NOT NULL,
  job_name TEXT NOT NULL,
  status TEXT NOT NULL,
  timezone TEXT NOT NULL,
  trigger_kind TEXT NOT NULL,
  triggered_by TEXT NOT NULL,
  host TEXT NOT NULL,
  scheduled_ms INTEGER,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER,
  attempt INTEGER NOT NULL,
  error_message TEXT NOT NULL,
  log_path TEXT NOT NULL
);
CREATE INDEX job_executions_by_job ON job_executions (job_id, start_ms, execution_id);
CREATE INDEX job_executions_by_status ON job_executions (status, start_ms, execution_id);
CREATE INDEX job_executions_by_start ON job_executions (start_ms, execution_id);
CREATE TABLE step_executions (
  execution_id TEXT NOT NULL REFERENCES job_executions (execution_id) ON DELETE CASCADE,
  step_index INTEGER NOT NULL,
  step_id TEXT NOT NULL,
  step_name TEXT NOT NULL,
  step_type TEXT NOT NULL,
  status TEXT NOT NULL,
  start_ms INTEGER,
  end_ms INTEGER,
  exit_code INTEGER,
  signal INTEGER,
  output TEXT NOT NULL,
  error_message TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  PRIMARY KEY (execution_id, step_index)
);
CREATE TABLE fires (
  job_id TEXT NOT NULL,
  scheduled_ms INTEGER NOT NULL,
  execution_id TEXT,
  status TEXT NOT NULL,
  reason TEXT NOT NULL,
  UNIQUE (job_id, scheduled_ms)
);
CREATE INDEX fires_by_execution ON fires (execution_id);
CREATE TABLE job_state (
  job_id TEXT PRIMARY KEY NOT NULL,
  last_fire_ms INTEGER,
  last_status TEXT NOT NULL DEFAULT '',
  last_execution_id TEXT NOT NULL DEFAULT '',
  last_success_ms INTEGER
);
CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
  user_name TEXT NOT NULL,
  uid INTEGER,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT NOT NULL,
  outcome TEXT NOT NULL
);
CREATE INDEX audit_by_time ON audit (time_ms);
)sql"},
    // Steps keep the JSON values they produced (row counts, file names) for later steps and
    // for `jobsctl history`.
    {2, R"sql(
ALTER TABLE step_executions ADD COLUMN outputs_json TEXT NOT NULL DEFAULT ''
  CHECK (outputs_json = '' OR json_valid(outputs_json));
)sql"},
    // The schedule each job was scheduled with, so that a start-up knows the jobs whose
    // schedule changed while no daemon ran.
    {3, R"sql(
ALTER TABLE job_state ADD COLUMN schedule TEXT;
)sql"},
    // Jobs paused at run time (jobsctl pause), kept here rather than in their files.
    {4, R"sql(
CREATE TABLE job_pauses (
  job_id TEXT PRIMARY KEY NOT NULL,
  since_ms INTEGER NOT NULL,
  until_ms INTEGER,
  paused_by TEXT NOT NULL,
  reason TEXT NOT NULL
);
)sql"},
}};
static_assert(migrations.back().version == sqlite_schema_version);

constexpr const char* execution_columns =
    "execution_id, job_id, job_name, status, timezone, trigger_kind, triggered_by, host, "
    "scheduled_ms, start_ms, end_ms, attempt, error_message, log_path";

ExecutionRecord read_execution(const Query& q) {
  ExecutionRecord e;
  e.execution_id = q.text(0);
  e.job_id = q.text(1);
  e.job_name = q.text(2);
  e.status = q.text(3);
  e.timezone = q.text(4);
  e.trigger = q.text(5);
  e.triggered_by = q.text(6);
  e.host = q.text(7);
  e.scheduled_ms = q.optional_int64(8);
  e.start_ms = q.int64(9);
  e.end_ms = q.optional_int64(10);
  e.attempt = static_cast<int>(q.int64(11));
  e.error_message = q.text(12);
  e.log_path = q.text(13);
  return e;
}

// A step's columns but its output and outputs_json, which history() leaves out.
constexpr const char* step_columns =
    "step_id, step_name, step_type, status, start_ms, end_ms, exit_code, signal, error_message, "
    "attempt";

StepRecord read_step(const Query& q) {
  StepRecord s;
  s.step_id = q.text(0);
  s.step_name = q.text(1);
  s.step_type = q.text(2);
  s.status = q.text(3);
  s.start_ms = q.optional_int64(4);
  s.end_ms = q.optional_int64(5);
  s.exit_code = q.optional_int(6);
  s.signal = q.optional_int(7);
  s.error_message = q.text(8);
  s.attempt = static_cast<int>(q.int64(9));
  return s;
}

JobState read_job_state(const Query& q) {
  JobState s;
  s.job_id = q.text(0);
  s.last_fire_ms = q.optional_int64(1);
  s.last_status = q.text(2);
  s.last_execution_id = q.text(3);
  s.last_success_ms = q.optional_int64(4);
  s.schedule = q.optional_text(5);
  return s;
}

// Records the end of an execution in the job's state: the last one to end gives last_status;
// last_success_ms only moves forward.
constexpr const char* update_job_state_sql = R"sql(
INSERT INTO job_state (job_id, last_status, last_execution_id, last_success_ms)
VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (job_id) DO UPDATE SET
  last_status = excluded.last_status,
  last_execution_id = excluded.last_execution_id,
  last_success_ms = coalesce(max(last_success_ms, excluded.last_success_ms), last_success_ms,
                             excluded.last_success_ms)
)sql";

// The executions prune() deletes: ?1 max per job (0: no limit), ?2 the age cut-off (NULL: none).
constexpr std::string_view prune_victims =
    "SELECT execution_id FROM (SELECT execution_id, status, start_ms, row_number() OVER "
    "(PARTITION BY job_id ORDER BY start_ms DESC, execution_id DESC) AS n FROM job_executions) "
    "WHERE status NOT IN ('pending', 'running') AND ((?1 > 0 AND n > ?1) OR start_ms < ?2)";

class SqliteStore final : public Store {
public:
  SqliteStore(std::string path, OpenOptions options, sqlite3* db)
      : path_(std::move(path)), options_(std::move(options)) {
    writer_.db = db;
  }

  ~SqliteStore() override {
    if (flusher_.joinable()) {
      {
        std::lock_guard lock(defer_mutex_);
        stopping_ = true;
      }
      defer_wake_.notify_all();
      flusher_.join();
    }
  }

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // Checks that the file is a history store this program can use, before changing anything in
  // it (a refused file keeps its journal mode); then the connection settings, then the schema
  // upgrade if the file is older than this program.
  base::Result<bool> setup() {
    set_up(writer_.db);
    auto version = transaction<int>("open", false, [&](int& v) { return read_version(v); });
    if (!version) {
      return version.error();
    }
    if (*version > sqlite_schema_version) {
      return error("open", refusal(newer_text(*version)));
    }
    auto configured = retrying<bool>("open", writer_, [&](bool&) { return configure(); });
    if (!configured) {
      return configured;
    }
    if (*version != sqlite_schema_version) {
      const auto op = "upgrade the schema from version " + std::to_string(*version) + " to " +
                      std::to_string(sqlite_schema_version);
      if (auto migrated = transaction<bool>(op, true, [&](bool&) { return migrate(); });
          !migrated) {
        return migrated;
      }
    }
    return open_reader();
  }

  base::Result<bool> claim_fire(const std::string& job_id, std::int64_t scheduled_ms,
                                const std::string& execution_id) override {
    const auto op = "claim the fire of job " + job_id + " at " + std::to_string(scheduled_ms);
    if (auto bad = check_claim(job_id, execution_id)) {
      return error(op, *bad);
    }
    return write<bool>(
        op, true,
        [&](bool& claimed) {
          return insert_fire(job_id, scheduled_ms, execution_id, "pending", "", claimed);
        },
        [&] {
          Deferred d;
          d.replay = [this, job_id, scheduled_ms, execution_id]() -> Status {
            bool claimed = false;
            STORE_TRY(insert_fire(job_id, scheduled_ms, execution_id, "pending", "", claimed));
            if (!claimed) {
              claimed_already(job_id, scheduled_ms, execution_id);
            }
            return std::nullopt;
          };
          return d;
        });
  }

  base::Result<bool> record_skipped_fire(const std::string& job_id, std::int64_t scheduled_ms,
                                         const std::string& reason) override {
    const auto op =
        "record the skipped fire of job " + job_id + " at " + std::to_string(scheduled_ms);
    if (job_id.empty()) {
      return error(op, refusal("the job id must not be empty"));
    }
    return write<bool>(
        op, true,
        [&](bool& recorded) {
          return insert_fire(job_id, scheduled_ms, std::nullopt, "skipped", reason, recorded);
        },
        [&] {
          Deferred d;
          d.replay = [this, job_id, scheduled_ms, reason]() -> Status {
            bool recorded = false;
            return insert_fire(job_id, scheduled_ms, std::nullopt, "skipped", reason, recorded);
          };
          d.skip = FireRecord{job_id, scheduled_ms, reason};
          return d;
        });
  }

  base::Result<int> schedule_jobs(const std::vector<JobSchedule>& jobs,
                                  std::int64_t since_ms) override {
    return write<int>(
        "record how jobs are scheduled", 0,
        [&](int& started) { return insert_schedules(jobs, since_ms, started); },
        [&] {
          Deferred d;
          d.replay = [this, jobs, since_ms]() -> Status {
            int started = 0;
            return insert_schedules(jobs, since_ms, started);
          };
          return d;
        });
  }

  base::Result<bool> begin_execution(const ExecutionRecord& e) override {
    const auto op = "record the start of execution " + e.execution_id;
    if (auto bad = check_execution(e)) {
      return error(op, *bad);
    }
    return write<bool>(
        op, true,
        [&](bool& done) -> Status {
          STORE_TRY(insert_execution(e));
          done = true;
          return std::nullopt;
        },
        [&] {
          Deferred d;
          d.replay = [this, e]() { return insert_execution(e); };
          d.execution = as_begun(e);
          return d;
        });
  }

  base::Result<bool> claim_and_begin(const ExecutionRecord& e) override {
    const auto op = "start execution " + e.execution_id + " for the fire of job " + e.job_id;
    if (!e.scheduled_ms) {
      return error(op, refusal("the execution has no scheduled instant to claim"));
    }
    if (auto bad = check_execution(e)) {
      return error(op, *bad);
    }
    return write<bool>(
        op, true,
        [&](bool& begun) -> Status {
          STORE_TRY(insert_fire(e.job_id, *e.scheduled_ms, e.execution_id, "running", "", begun));
          return begun ? insert_execution(e) : std::nullopt;
        },
        [&] {
          Deferred d;
          // Made late, the execution is recorded whatever the claim finds: it has run.
          d.replay = [this, e]() -> Status {
            bool begun = false;
            STORE_TRY(insert_fire(e.job_id, *e.scheduled_ms, e.execution_id, "running", "", begun));
            if (!begun) {
              claimed_already(e.job_id, *e.scheduled_ms, e.execution_id);
            }
            return insert_execution(e);
          };
          d.execution = as_begun(e);
          return d;
        });
  }

  base::Result<std::vector<bool>> claim_fires(const std::vector<FireClaim>& fires) override {
    using Claimed = std::vector<bool>;
    const auto op = "claim " + std::to_string(fires.size()) + " fires";
    for (const auto& f : fires) {
      if (auto bad = check_claim(f.job_id, f.execution_id)) {
        return error(op, *bad);
      }
    }
    return write<Claimed>(
        op, Claimed(fires.size(), true),
        [&](Claimed& claimed) -> Status {
          for (const auto& f : fires) {
            bool one = false;
            STORE_TRY(insert_fire(f.job_id, f.scheduled_ms, f.execution_id, "pending", "", one));
            claimed.push_back(one);
          }
          return std::nullopt;
        },
        [&] {
          Deferred d;
          d.replay = [this, fires]() -> Status {
            for (const auto& f : fires) {
              bool one = false;
              STORE_TRY(insert_fire(f.job_id, f.scheduled_ms, f.execution_id, "pending", "", one));
              if (!one) {
                claimed_already(f.job_id, f.scheduled_ms, f.execution_id);
              }
            }
            return std::nullopt;
          };
          return d;
        });
  }

  base::Result<bool> finish_execution(const ExecutionRecord& e) override {
    const auto op = "record the end of execution " + e.execution_id;
    if (auto bad = check_finished(e)) {
      return error(op, *bad);
    }
    bool deferred = false;
    auto result = write<bool>(
        op, true, [&](bool& done) { return finish(e, done); },
        [&] {
          Deferred d;
          d.replay = [this, e]() {
            bool done = false;
            return finish(e, done);
          };
          d.execution = e;
          return d;
        },
        &deferred);
    if (result && !deferred) {
      hook("finish:committed");
    }
    return result;
  }

  base::Result<std::vector<ExecutionRecord>> history(const HistoryQuery& query) override {
    // The clauses are fixed text, chosen so that an index serves each filter and the order.
    std::string where;
    const auto add = [&](const char* clause) {
      where += where.empty() ? " WHERE " : " AND ";
      where += clause;
    };
    if (query.job_id) {
      add("job_id = ?1");
    }
    if (query.status) {
      add("status = ?2");
    }
    if (query.since_ms) {
      add("start_ms >= ?3");
    }
    if (query.until_ms) {
      add("start_ms < ?5");
    }
    if (query.after) {
      add("(start_ms < ?6 OR (start_ms = ?6 AND execution_id < ?7))");
    }
    const std::string matching =
        " FROM job_executions" + where + " ORDER BY start_ms DESC, execution_id DESC LIMIT ?4";
    // The steps of all of them in one query: a history of a thousand executions is two
    // queries, not a thousand and one.
    const std::string steps_sql = std::string("SELECT ") + step_columns +
                                  ", execution_id FROM step_executions WHERE execution_id IN "
                                  "(SELECT execution_id" +
                                  matching + ") ORDER BY execution_id, step_index";
    const auto bind = [&](Query& q) {
      if (query.job_id) {
        q.bind(1, *query.job_id);
      }
      if (query.status) {
        q.bind(2, *query.status);
      }
      if (query.since_ms) {
        q.bind(3, *query.since_ms);
      }
      q.bind(4, std::int64_t{query.limit > 0 ? query.limit : -1});
      if (query.until_ms) {
        q.bind(5, *query.until_ms);
      }
      if (query.after) {
        q.bind(6, query.after->ms).bind(7, query.after->id);
      }
    };
    using Rows = std::vector<ExecutionRecord>;
    auto result = transaction<Rows>("read the history", false, [&](Rows& rows) -> Status {
      sqlite3_stmt* s = nullptr;
      STORE_TRY(prepare(std::string("SELECT ") + execution_columns + matching, s));
      {
        Query q(s);
        bind(q);
        int rc = SQLITE_OK;
        while ((rc = q.step()) == SQLITE_ROW) {
          rows.push_back(read_execution(q));
        }
        STORE_TRY(expect(rc, SQLITE_DONE));
      }
      std::unordered_map<std::string, ExecutionRecord*> by_id;
      for (auto& row : rows) {
        by_id[row.execution_id] = &row;
      }
      STORE_TRY(prepare(steps_sql, s));
      Query q(s);
      bind(q);
      int rc = SQLITE_OK;
      while ((rc = q.step()) == SQLITE_ROW) {
        by_id.at(q.text(10))->steps.push_back(read_step(q));
      }
      return expect(rc, SQLITE_DONE);
    });
    if (result && options_.defer_failed_writes) {
      overlay(query, *result);
    }
    return result;
  }

  base::Result<std::vector<FireRecord>> skipped_fires(const HistoryQuery& query) override {
    std::string sql = "SELECT job_id, scheduled_ms, reason FROM fires WHERE status = 'skipped'";
    if (query.job_id) {
      sql += " AND job_id = ?1";
    }
    if (query.since_ms) {
      sql += " AND scheduled_ms >= ?2";
    }
    if (query.until_ms) {
      sql += " AND scheduled_ms < ?4";
    }
    if (query.after) {
      sql += " AND (scheduled_ms < ?5 OR (scheduled_ms = ?5 AND job_id > ?6))";
    }
    sql += " ORDER BY scheduled_ms DESC, job_id LIMIT ?3";
    using Rows = std::vector<FireRecord>;
    auto result = transaction<Rows>("read the skipped fires", false, [&](Rows& rows) -> Status {
      sqlite3_stmt* s = nullptr;
      STORE_TRY(prepare(sql, s));
      Query q(s);
      if (query.job_id) {
        q.bind(1, *query.job_id);
      }
      if (query.since_ms) {
        q.bind(2, *query.since_ms);
      }
      q.bind(3, std::int64_t{query.limit > 0 ? query.limit : -1});
      if (query.until_ms) {
        q.bind(4, *query.until_ms);
      }
      if (query.after) {
        q.bind(5, query.after->ms).bind(6, query.after->id);
      }
      int rc = SQLITE_OK;
      while ((rc = q.step()) == SQLITE_ROW) {
        rows.push_back({q.text(0), q.int64(1), q.text(2)});
      }
      return expect(rc, SQLITE_DONE);
    });
    if (result && options_.defer_failed_writes) {
      overlay_skips(query, *result);
    }
    return result;
  }

  base::Result<std::vector<JobStats>> stats(const StatsQuery& query) override {
    // Fixed clauses: ?1 the job, ?2 the start (or the fire's instant).
    const std::string job = query.job_id ? " AND job_id = ?1" : "";
    const std::string executions_sql =
        "SELECT execution_id, job_id, status, start_ms, end_ms FROM job_executions WHERE 1" + job +
        (query.since_ms ? " AND start_ms >= ?2" : "");
    const std::string fires_sql = "SELECT job_id, scheduled_ms, reason FROM fires WHERE status = "
                                  "'skipped'" +
                                  job + (query.since_ms ? " AND scheduled_ms >= ?2" : "");
    const std::string states_sql = "SELECT job_id, last_success_ms FROM job_state WHERE 1" + job;
    const auto bind = [&](Query& q, bool since) {
      if (query.job_id) {
        q.bind(1, *query.job_id);
      }
      if (query.since_ms && since) {
        q.bind(2, *query.since_ms);
      }
    };
    // What waits in memory replaces or adds to what is stored, as for history().
    std::map<std::string, ExecutionRecord> waiting;
    std::vector<FireRecord> waiting_skips;
    if (options_.defer_failed_writes) {
      std::lock_guard lock(defer_mutex_);
      for (const auto& [id, w] : deferred_executions_) {
        waiting.emplace(id, w.record);
      }
      waiting_skips = deferred_skips_;
    }
    return transaction<std::vector<JobStats>>(
        "sum up the history", false, [&](std::vector<JobStats>& out) -> Status {
          // Made anew each time: a read that finds the database busy runs again.
          StatsBuilder sums;
          auto skips = waiting_skips;
          sqlite3_stmt* s = nullptr;
          STORE_TRY(prepare(executions_sql, s));
          {
            Query q(s);
            bind(q, true);
            int rc = SQLITE_OK;
            while ((rc = q.step()) == SQLITE_ROW) {
              if (waiting.empty() || !waiting.count(q.text(0))) {
                sums.add_execution(q.text(1), q.text(2), q.int64(3), q.optional_int64(4));
              }
            }
            STORE_TRY(expect(rc, SQLITE_DONE));
          }
          STORE_TRY(prepare(fires_sql, s));
          {
            Query q(s);
            bind(q, true);
            int rc = SQLITE_OK;
            while ((rc = q.step()) == SQLITE_ROW) {
              FireRecord f{q.text(0), q.int64(1), q.text(2)};
              std::erase(skips, f);
              sums.add_skipped_fire(f.job_id, f.reason);
            }
            STORE_TRY(expect(rc, SQLITE_DONE));
          }
          STORE_TRY(prepare(states_sql, s));
          Query q(s);
          bind(q, false);
          int rc = SQLITE_OK;
          while ((rc = q.step()) == SQLITE_ROW) {
            sums.add_job(q.text(0), q.optional_int64(1));
          }
          STORE_TRY(expect(rc, SQLITE_DONE));
          const HistoryQuery matching{query.job_id, std::nullopt, query.since_ms, 0,
                                      std::nullopt, std::nullopt};
          for (const auto& [id, e] : waiting) {
            if (matches(matching, e)) {
              sums.add_execution(e.job_id, e.status, e.start_ms, e.end_ms);
            }
          }
          for (const auto& f : skips) {
            if ((!query.job_id || f.job_id == *query.job_id) &&
                (!query.since_ms || f.scheduled_ms >= *query.since_ms)) {
              sums.add_skipped_fire(f.job_id, f.reason);
            }
          }
          out = sums.finish();
          return std::nullopt;
        });
  }

  base::Result<std::optional<ExecutionRecord>> execution(const std::string& id) override {
    using Found = std::optional<ExecutionRecord>;
    if (!options_.defer_failed_writes || id.empty()) {
      return stored_execution(id);
    }
    if (auto waiting = waiting_execution(id)) {
      return Found(std::move(*waiting));
    }
    auto found = stored_execution(id);
    if (found && *found) {
      if (auto waiting = waiting_execution((*found)->execution_id)) {
        *found = std::move(*waiting);
      }
    } else if (found) {
      // A prefix of one waiting in memory.
      std::lock_guard lock(defer_mutex_);
      const auto first = deferred_executions_.lower_bound(id);
      if (first != deferred_executions_.end() && first->first.starts_with(id) &&
          (std::next(first) == deferred_executions_.end() ||
           !std::next(first)->first.starts_with(id))) {
        *found = first->second.record;
      }
    }
    return found;
  }

  base::Result<std::optional<ExecutionRecord>> last_execution(const std::string& job_id) override {
    auto found = stored_last_execution(job_id);
    if (!found || !options_.defer_failed_writes) {
      return found;
    }
    std::lock_guard lock(defer_mutex_);
    for (const auto& [id, waiting] : deferred_executions_) {
      const auto& e = waiting.record;
      if (e.job_id == job_id && (!*found || (*found)->execution_id == id ||
                                 std::tie(e.start_ms, e.execution_id) >
                                     std::tie((*found)->start_ms, (*found)->execution_id))) {
        *found = e;
      }
    }
    return found;
  }

  base::Result<std::optional<ExecutionRecord>> stored_execution(const std::string& id) {
    using Found = std::optional<ExecutionRecord>;
    return transaction<Found>("read execution " + id, false, [&](Found& found) -> Status {
      if (id.empty()) {
        return Fault{SQLITE_OK, "the execution id is empty", true};
      }
      STORE_TRY(load_execution(std::string("SELECT ") + execution_columns +
                                   " FROM job_executions WHERE execution_id = ?1",
                               id, found));
      if (found) {
        return std::nullopt;
      }
      // A prefix, like git's short hashes: the ids in [prefix, prefix_end).
      sqlite3_stmt* s = nullptr;
      STORE_TRY(prepare("SELECT count(*), min(execution_id) FROM job_executions "
                        "WHERE execution_id >= ?1 AND execution_id < ?2",
                        s));
      std::string match;
      {
        Query q(s);
        q.bind(1, id);
        if (const auto end = prefix_end(id)) {
          q.bind(2, *end);
        } else {
          q.bind_above_all_text(2);
        }
        STORE_TRY(expect(q.step(), SQLITE_ROW));
        const auto count = q.int64(0);
        if (count == 0) {
          return std::nullopt;
        }
        if (count > 1) {
          return Fault{SQLITE_OK,
                       "execution id prefix " + quoted(id) +
                           " is ambiguous: " + std::to_string(count) + " executions start with it",
                       true};
        }
        match = q.text(1);
      }
      return load_execution(std::string("SELECT ") + execution_columns +
                                " FROM job_executions WHERE execution_id = ?1",
                            match, found);
    });
  }

  base::Result<std::optional<ExecutionRecord>> stored_last_execution(const std::string& job_id) {
    using Found = std::optional<ExecutionRecord>;
    return transaction<Found>(
        "read the last execution of job " + job_id, false, [&](Found& found) -> Status {
          return load_execution(std::string("SELECT ") + execution_columns +
                                    " FROM job_executions WHERE job_id = ?1 "
                                    "ORDER BY start_ms DESC, execution_id DESC LIMIT 1",
                                job_id, found);
        });
  }

  base::Result<std::optional<JobState>> job_state(const std::string& job_id) override {
    using Found = std::optional<JobState>;
    return transaction<Found>(
        "read the state of job " + job_id, false, [&](Found& found) -> Status {
          sqlite3_stmt* s = nullptr;
          STORE_TRY(prepare("SELECT job_id, last_fire_ms, last_status, last_execution_id, "
                            "last_success_ms, schedule FROM job_state WHERE job_id = ?1",
                            s));
          Query q(s);
          q.bind(1, job_id);
          const auto rc = q.step();
          if (rc == SQLITE_ROW) {
            found = read_job_state(q);
            return std::nullopt;
          }
          return expect(rc, SQLITE_DONE);
        });
  }

  base::Result<std::vector<JobState>> job_states() override {
    using States = std::vector<JobState>;
    return transaction<States>("read the state of the jobs", false, [&](States& out) -> Status {
      sqlite3_stmt* s = nullptr;
      STORE_TRY(prepare("SELECT job_id, last_fire_ms, last_status, last_execution_id, "
                        "last_success_ms, schedule FROM job_state ORDER BY job_id",
                        s));
      Query q(s);
      int rc = SQLITE_OK;
      while ((rc = q.step()) == SQLITE_ROW) {
        out.push_back(read_job_state(q));
      }
      return expect(rc, SQLITE_DONE);
    });
  }

  base::Result<int> mark_interrupted(std::int64_t now_ms) override {
    return transaction<int>("mark running executions interrupted", true, [&](int& count) -> Status {
      // Oldest first, so that the job's state ends with its latest execution.
      std::vector<std::pair<std::string, std::string>> running; // execution, job
      sqlite3_stmt* s = nullptr;
      STORE_TRY(prepare("SELECT execution_id, job_id FROM job_executions WHERE status = 'running' "
                        "ORDER BY start_ms, execution_id",
                        s));
      {
        Query q(s);
        int rc = SQLITE_OK;
        while ((rc = q.step()) == SQLITE_ROW) {
          running.emplace_back(q.text(0), q.text(1));
        }
        STORE_TRY(expect(rc, SQLITE_DONE));
      }
      STORE_TRY(prepare(R"sql(
UPDATE job_executions SET status = 'interrupted', end_ms = ?1,
  error_message = CASE WHEN error_message = '' THEN ?2 ELSE error_message END
WHERE status = 'running'
)sql",
                        s));
      {
        Query q(s);
        q.bind(1, now_ms).bind(2, "the daemon stopped before the execution finished");
        STORE_TRY(expect(q.step(), SQLITE_DONE));
        count = sqlite3_changes(db());
      }
      STORE_TRY(prepare("UPDATE fires SET status = 'interrupted' "
                        "WHERE status IN ('pending', 'running')",
                        s));
      {
        Query q(s);
        STORE_TRY(expect(q.step(), SQLITE_DONE));
      }
      STORE_TRY(prepare(update_job_state_sql, s));
      for (const auto& [execution_id, job_id] : running) {
        Query q(s);
        q.bind(1, job_id).bind(2, "interrupted").bind(3, execution_id);
        q.bind(4, std::optional<std::int64_t>{});
        STORE_TRY(expect(q.step(), SQLITE_DONE));
      }
      return std::nullopt;
    });
  }

  base::Result<bool> pause_job(const PauseRecord& p) override {
    const auto op = "record the pause of job " + p.job_id;
    if (p.job_id.empty()) {
      return error(op, refusal("the job id must not be empty"));
    }
    return write<bool>(
        op, true,
        [&](bool& done) -> Status {
          STORE_TRY(insert_pause(p));
          done = true;
          return std::nullopt;
        },
        [&] {
          Deferred d;
          d.replay = [this, p]() { return insert_pause(p); };
          return d;
        });
  }

  base::Result<bool> resume_job(const std::string& job_id) override {
    return write<bool>(
        "record the end of the pause of job " + job_id, true,
        [&](bool& was_paused) { return delete_pause(job_id, was_paused); },
        [&] {
          Deferred d;
          d.replay = [this, job_id]() {
            bool was_paused = false;
            return delete_pause(job_id, was_paused);
          };
          return d;
        });
  }

  base::Result<std::vector<PauseRecord>> paused_jobs() override {
    using Pauses = std::vector<PauseRecord>;
    return transaction<Pauses>("read the paused jobs", false, [&](Pauses& out) -> Status {
      sqlite3_stmt* s = nullptr;
      STORE_TRY(prepare("SELECT job_id, since_ms, until_ms, paused_by, reason FROM job_pauses "
                        "ORDER BY job_id",
                        s));
      Query q(s);
      int rc = SQLITE_OK;
      while ((rc = q.step()) == SQLITE_ROW) {
        out.push_back({q.text(0), q.int64(1), q.optional_int64(2), q.text(3), q.text(4)});
      }
      return expect(rc, SQLITE_DONE);
    });
  }

  base::Result<bool> audit(const AuditRecord& r) override {
    return write<bool>(
        "write the audit record of " + r.action + " " + r.target, true,
        [&](bool& done) -> Status {
          STORE_TRY(insert_audit(r));
          done = true;
          return std::nullopt;
        },
        [&] {
          Deferred d;
          d.replay = [this, r]() { return insert_audit(r); };
          return d;
        });
  }

  base::Result<std::vector<AuditEntry>> audit_log(const AuditQuery& query) override {
    // Fixed clauses; the job's prefix is compared with substr, not LIKE, whose '_' is a
    // wildcard (and job ids may hold one).
    std::string sql = "SELECT id, time_ms, user_name, uid, action, target, detail, outcome FROM "
                      "audit WHERE 1";
    if (query.user) {
      sql += " AND user_name = ?1";
    }
    if (query.job_id) {
      sql += " AND (target = ?2 OR substr(target, 1, length(?2) + 1) = ?2 || ' ')";
    }
    if (query.before_id) {
      sql += " AND id < ?3";
    }
    sql += " ORDER BY id DESC LIMIT ?4";
    using Rows = std::vector<AuditEntry>;
    return transaction<Rows>("read the audit log", false, [&](Rows& rows) -> Status {
      sqlite3_stmt* s = nullptr;
      STORE_TRY(prepare(sql, s));
      Query q(s);
      if (query.user) {
        q.bind(1, *query.user);
      }
      if (query.job_id) {
        q.bind(2, *query.job_id);
      }
      if (query.before_id) {
        q.bind(3, *query.before_id);
      }
      q.bind(4, std::int64_t{query.limit > 0 ? query.limit : -1});
      int rc = SQLITE_OK;
      while ((rc = q.step()) == SQLITE_ROW) {
        rows.push_back({q.int64(0),
                        {q.int64(1), q.text(2), q.optional_int64(3), q.text(4), q.text(5),
                         q.text(6), q.text(7)}});
      }
      return expect(rc, SQLITE_DONE);
    });
  }

  Health health() override {
    std::lock_guard lock(defer_mutex_);
    Health h = health_;
    h.waiting = deferred_.size() + in_flight_;
    return h;
  }

  std::vector<Note> take_notes() override {
    std::lock_guard lock(defer_mutex_);
    std::vector<Note> out;
    out.swap(notes_);
    return out;
  }

  std::size_t flush() override {
    std::unique_lock lock(defer_mutex_);
    defer_wake_.wait(lock, [&] { return !flushing_; });
    return flush_some(lock);
  }

  base::Result<int> prune(const Retention& retention, std::int64_t now_ms) override {
    const auto max_per_job = std::int64_t{std::max(retention.max_per_job, 0)};
    const auto cutoff = retention.max_age_ms > 0
                            ? std::optional<std::int64_t>(now_ms - retention.max_age_ms)
                            : std::nullopt;
    return transaction<int>("prune the history", true, [&](int& deleted) -> Status {
      // The steps first: the victims are the same set in both statements, as nothing else
      // changes the executions in between.
      sqlite3_stmt* s = nullptr;
      STORE_TRY(prepare("DELETE FROM step_executions WHERE execution_id IN (" +
                            std::string(prune_victims) + ")",
                        s));
      {
        Query q(s);
        q.bind(1, max_per_job).bind(2, cutoff);
        STORE_TRY(expect(q.step(), SQLITE_DONE));
      }
      STORE_TRY(prepare("DELETE FROM job_executions WHERE execution_id IN (" +
                            std::string(prune_victims) + ")",
                        s));
      {
        Query q(s);
        q.bind(1, max_per_job).bind(2, cutoff);
        STORE_TRY(expect(q.step(), SQLITE_DONE));
        deleted = sqlite3_changes(db());
      }
      STORE_TRY(prepare("DELETE FROM fires WHERE scheduled_ms < ?1 "
                        "AND status NOT IN ('pending', 'running')",
                        s));
      Query q(s);
      q.bind(1, cutoff);
      return expect(q.step(), SQLITE_DONE);
    });
  }

private:
  // Runs `body` until it succeeds, fails for a reason other than a lock, or the busy timeout
  // has passed. SQLite's busy handler already waits for most locks; this loop covers the
  // SQLITE_BUSY results it does not wait for (a WAL being recovered, a stale read snapshot).
  template <typename T, typename Body>
  base::Result<T> retrying(const std::string& op, Connection& connection, Body&& body) {
    std::lock_guard lock(connection.mutex);
    Use use(connection);
    const auto deadline = std::chrono::steady_clock::now() + options_.busy_timeout;
    for (;;) {
      T out{};
      auto fault = body(out);
      if (!fault) {
        return out;
      }
      if (is_busy(fault->rc) && std::chrono::steady_clock::now() < deadline) {
        sqlite3_sleep(10);
        continue;
      }
      return error(op, *fault);
    }
  }

  // `body` inside one transaction; a write takes the write lock at BEGIN (IMMEDIATE) and goes
  // through write_batched().
  template <typename T, typename Body>
  base::Result<T> transaction(const std::string& op, bool write, Body&& body) {
    if (write) {
      T out{};
      const Status fault = write_batched([&]() -> Status {
        out = T{};
        return body(out);
      });
      if (fault) {
        return error(op, *fault);
      }
      return out;
    }
    return retrying<T>(op, reader(), [&](T& out) -> Status {
      STORE_TRY(exec("BEGIN"));
      Rollback rollback{db()};
      STORE_TRY(body(out));
      return exec("COMMIT");
    });
  }

  // Rolls back on every way out but a successful COMMIT (also when a hook throws).
  struct Rollback {
    sqlite3* db;
    ~Rollback() {
      if (!sqlite3_get_autocommit(db)) {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      }
    }
  };

  // One write waiting for its turn.
  struct Write {
    const std::function<Status()>& body;
    Status fault;
    bool done = false;
    bool late = false; // writes that waited in memory, made by flush_some()
  };

  // Group commit: writes that arrive while a transaction commits wait, and then go together
  // into the next one: one BEGIN IMMEDIATE and one COMMIT (one fsync) for all, each body in its
  // own savepoint so that a refused one rolls back alone. The executions of a daemon record
  // their starts and ends at once; this keeps each from waiting for the others' fsyncs.
  // While writes wait in memory, the others that were waiting here join them (they fail with
  // waits_in_memory()) instead of waiting for the lock each in turn.
  Status write_batched(const std::function<Status()>& body, bool late = false) {
    Write mine{body, std::nullopt, false, late};
    std::unique_lock lock(batch_mutex_);
    waiting_.push_back(&mine);
    while (!mine.done) {
      if (committing_) {
        batch_done_.wait(lock);
        continue;
      }
      std::vector<Write*> batch;
      batch.swap(waiting_);
      if (deferring_flag_) {
        std::erase_if(batch, [](Write* w) {
          if (w->late) {
            return false;
          }
          w->fault = waits_in_memory();
          w->done = true;
          return true;
        });
        batch_done_.notify_all();
        if (mine.done) {
          // The late writes left are for their own thread to make.
          waiting_.insert(waiting_.begin(), batch.begin(), batch.end());
          break;
        }
        if (batch.empty()) {
          continue;
        }
      }
      committing_ = true;
      lock.unlock();
      try {
        commit(batch);
      } catch (...) {
        lock.lock();
        for (auto* w : batch) {
          w->done = true;
          w->fault = w->fault ? w->fault : Fault{SQLITE_ABORT, "the transaction was abandoned"};
        }
        committing_ = false;
        batch_done_.notify_all();
        throw;
      }
      lock.lock();
      for (auto* w : batch) {
        w->done = true;
      }
      committing_ = false;
      batch_done_.notify_all();
    }
    return mine.fault;
  }

  void commit(const std::vector<Write*>& batch) {
    std::lock_guard lock(writer_.mutex);
    Use use(writer_);
    const auto deadline = std::chrono::steady_clock::now() + options_.busy_timeout;
    for (;;) {
      const Status fault = commit_once(batch);
      if (fault && is_busy(fault->rc) && std::chrono::steady_clock::now() < deadline) {
        sqlite3_sleep(10);
        continue;
      }
      if (fault) {
        // The transaction failed: so did every write in it.
        for (auto* w : batch) {
          w->fault = w->fault ? w->fault : fault;
        }
      }
      return;
    }
  }

  Status commit_once(const std::vector<Write*>& batch) {
    for (auto* w : batch) {
      w->fault.reset();
    }
    STORE_TRY(exec("BEGIN IMMEDIATE"));
    Rollback rollback{db()};
    for (auto* w : batch) {
      STORE_TRY(exec("SAVEPOINT write"));
      w->fault = w->body();
      if (w->fault && is_busy(w->fault->rc)) {
        return w->fault; // the whole batch is tried again
      }
      if (w->fault) {
        STORE_TRY(exec("ROLLBACK TO write"));
      }
      STORE_TRY(exec("RELEASE write"));
    }
    STORE_TRY(exec("COMMIT"));
    return std::nullopt;
  }

  // Durability: WAL with synchronous=FULL syncs the WAL at every commit, so an acknowledged
  // execution survives a power loss, as the spec requires. NORMAL would be safe against a
  // crash of the process but could lose the last commits on power loss. A commit is a few per
  // execution, so the fsync costs little.
  Status configure() {
    sqlite3_stmt* s = nullptr;
    STORE_TRY(prepare("PRAGMA journal_mode = WAL", s));
    {
      Query q(s);
      STORE_TRY(expect(q.step(), SQLITE_ROW));
      if (const auto mode = q.text(0); mode != "wal") {
        return refusal("the WAL journal mode is not available (the mode is " + quoted(mode) + ")");
      }
    }
    STORE_TRY(exec("PRAGMA synchronous = FULL"));
    // The savepoints of a batch of writes keep their journal in memory, not in a temporary file.
    STORE_TRY(exec("PRAGMA temp_store = MEMORY"));
    return exec("PRAGMA foreign_keys = ON");
  }

  std::string newer_text(int version) const {
    return "its schema version " + std::to_string(version) + " is newer than this program's (" +
           std::to_string(sqlite_schema_version) + "); use a newer release of jobs";
  }

  // The schema version: 0 for an empty database.
  Status read_version(int& version) {
    sqlite3_stmt* s = nullptr;
    STORE_TRY(prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                      "AND name = 'schema_version'",
                      s));
    bool has_table = false;
    {
      Query q(s);
      STORE_TRY(expect(q.step(), SQLITE_ROW));
      has_table = q.int64(0) > 0;
    }
    version = 0;
    if (has_table) {
      STORE_TRY(prepare("SELECT coalesce(max(version), 0) FROM schema_version", s));
      Query q(s);
      STORE_TRY(expect(q.step(), SQLITE_ROW));
      version = static_cast<int>(q.int64(0));
    }
    if (version == 0) {
      STORE_TRY(prepare("SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' "
                        "ESCAPE '\\' AND name <> 'schema_version'",
                        s));
      Query q(s);
      STORE_TRY(expect(q.step(), SQLITE_ROW));
      if (q.int64(0) > 0) {
        return refusal("it is an SQLite database but not a jobs history store");
      }
    }
    return std::nullopt;
  }

  // Brings the schema to sqlite_schema_version (inside the write transaction, so the version is
  // read again: another process may have upgraded it meanwhile).
  Status migrate() {
    int version = 0;
    STORE_TRY(read_version(version));
    if (version > sqlite_schema_version) {
      return refusal(newer_text(version));
    }
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    for (const auto& m : migrations) {
      if (m.version <= version) {
        continue;
      }
      STORE_TRY(exec(m.sql));
      sqlite3_stmt* s = nullptr;
      STORE_TRY(prepare("INSERT INTO schema_version (version, applied_ms) VALUES (?1, ?2)", s));
      Query q(s);
      q.bind(1, std::int64_t{m.version}).bind(2, std::int64_t{now_ms});
      STORE_TRY(expect(q.step(), SQLITE_DONE));
      hook("migrate:" + std::to_string(m.version));
    }
    return std::nullopt;
  }

  // Inserts a begun execution (status running, no end, no steps) and marks its fire running.
  Status insert_execution(const ExecutionRecord& e) {
    STORE_TRY(check_execution(e));
    sqlite3_stmt* s = nullptr;
    STORE_TRY(prepare("SELECT 1 FROM job_executions WHERE execution_id = ?1", s));
    Query exists(s);
    exists.bind(1, e.execution_id);
    const auto rc = exists.step();
    if (rc == SQLITE_ROW) {
      return refusal("an execution with this id exists already");
    }
    STORE_TRY(expect(rc, SQLITE_DONE));
    STORE_TRY(prepare(R"sql(
INSERT INTO job_executions (execution_id, job_id, job_name, status, timezone, trigger_kind,
  triggered_by, host, scheduled_ms, start_ms, end_ms, attempt, error_message, log_path)
VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7, ?8, ?9, NULL, ?10, ?11, ?12)
)sql",
                      s));
    Query insert(s);
    insert.bind(1, e.execution_id).bind(2, e.job_id).bind(3, e.job_name).bind(4, e.timezone);
    insert.bind(5, e.trigger).bind(6, e.triggered_by).bind(7, e.host).bind(8, e.scheduled_ms);
    insert.bind(9, e.start_ms).bind(10, std::int64_t{e.attempt}).bind(11, e.error_message);
    insert.bind(12, e.log_path);
    STORE_TRY(expect(insert.step(), SQLITE_DONE));
    STORE_TRY(prepare("UPDATE fires SET status = 'running' WHERE execution_id = ?1", s));
    Query fire(s);
    fire.bind(1, e.execution_id);
    STORE_TRY(expect(fire.step(), SQLITE_DONE));
    return std::nullopt;
  }

  Status insert_fire(const std::string& job_id, std::int64_t scheduled_ms,
                     const std::optional<std::string>& execution_id, std::string_view status,
                     std::string_view reason, bool& inserted) {
    sqlite3_stmt* s = nullptr;
    STORE_TRY(prepare("INSERT INTO fires (job_id, scheduled_ms, execution_id, status, reason) "
                      "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (job_id, scheduled_ms) DO NOTHING",
                      s));
    {
      Query q(s);
      q.bind(1, job_id).bind(2, scheduled_ms).bind(4, status).bind(5, reason);
      if (execution_id) {
        q.bind(3, *execution_id);
      }
      STORE_TRY(expect(q.step(), SQLITE_DONE));
      inserted = sqlite3_changes(db()) == 1;
    }
    if (!inserted) {
      return std::nullopt;
    }
    STORE_TRY(prepare(R"sql(
INSERT INTO job_state (job_id, last_fire_ms) VALUES (?1, ?2)
ON CONFLICT (job_id) DO UPDATE SET
  last_fire_ms = coalesce(max(last_fire_ms, excluded.last_fire_ms), excluded.last_fire_ms)
)sql",
                      s));
    Query q(s);
    q.bind(1, job_id).bind(2, scheduled_ms);
    return expect(q.step(), SQLITE_DONE);
  }

  Status insert_audit(const AuditRecord& r) {
    sqlite3_stmt* s = nullptr;
    STORE_TRY(prepare("INSERT INTO audit (time_ms, user_name, uid, action, target, detail, "
                      "outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                      s));
    Query q(s);
    q.bind(1, r.time_ms).bind(2, r.user).bind(3, r.uid).bind(4, r.action);
    q.bind(5, r.target).bind(6, r.detail).bind(7, r.outcome);
    return expect(q.step(), SQLITE_DONE);
  }

  Status insert_pause(const PauseRecord& p) {
    sqlite3_stmt* s = nullptr;
    STORE_TRY(prepare("INSERT OR REPLACE INTO job_pauses (job_id, since_ms, until_ms, paused_by, "
                      "reason) VALUES (?1, ?2, ?3, ?4, ?5)",
                      s));
    Query q(s);
    q.bind(1, p.job_id).bind(2, p.since_ms).bind(3, p.until_ms).bind(4, p.user).bind(5, p.reason);
    return expect(q.step(), SQLITE_DONE);
  }

  Status delete_pause(const std::string& job_id, bool& deleted) {
    sqlite3_stmt* s = nullptr;
    STORE_TRY(prepare("DELETE FROM job_pauses WHERE job_id = ?1", s));
    Query q(s);
    q.bind(1, job_id);
    STORE_TRY(expect(q.step(), SQLITE_DONE));
    deleted = sqlite3_changes(db()) == 1;
    return std::nullopt;
  }

  static Status check_claim(const std::string& job_id, const std::string& execution_id) {
    if (job_id.empty() || execution_id.empty()) {
      return refusal("the job id and the execution id must not be empty");
    }
    return std::nullopt;
  }

  Status insert_schedules(const std::vector<JobSchedule>& jobs, std::int64_t since_ms,
                          int& started) {
    sqlite3_stmt* start = nullptr;
    STORE_TRY(prepare(R"sql(
INSERT INTO job_state (job_id, last_fire_ms, schedule) VALUES (?1, ?2, ?3)
ON CONFLICT (job_id) DO UPDATE SET last_fire_ms = excluded.last_fire_ms,
  schedule = excluded.schedule
  WHERE last_fire_ms IS NULL OR last_fire_ms < excluded.last_fire_ms
)sql",
                      start));
    sqlite3_stmt* schedule = nullptr;
    STORE_TRY(prepare(R"sql(
INSERT INTO job_state (job_id, schedule) VALUES (?1, ?2)
ON CONFLICT (job_id) DO UPDATE SET schedule = excluded.schedule
)sql",
                      schedule));
    for (const auto& j : jobs) {
      if (j.starts) {
        Query q(start);
        q.bind(1, j.job_id).bind(2, since_ms).bind(3, j.schedule);
        STORE_TRY(expect(q.step(), SQLITE_DONE));
        if (sqlite3_changes(db()) == 1) {
          ++started;
          continue;
        }
      }
      // Not starting, or its last fire is after since_ms (the clock went back).
      Query q(schedule);
      q.bind(1, j.job_id).bind(2, j.schedule);
      STORE_TRY(expect(q.step(), SQLITE_DONE));
    }
    return std::nullopt;
  }

  // The end of a begun execution (finish_execution()), inside a write transaction.
  Status finish(const ExecutionRecord& e, bool& done) {
    STORE_TRY(check_finished(e));
    std::string job_id;
    STORE_TRY(running_execution_job(e.execution_id, job_id));

    sqlite3_stmt* s = nullptr;
    STORE_TRY(prepare(R"sql(
UPDATE job_executions SET job_name = ?2, status = ?3, timezone = ?4, trigger_kind = ?5,
  triggered_by = ?6, host = ?7, scheduled_ms = ?8, start_ms = ?9, end_ms = ?10, attempt = ?11,
  error_message = ?12, log_path = ?13
WHERE execution_id = ?1
)sql",
                      s));
    {
      Query update(s);
      update.bind(1, e.execution_id).bind(2, e.job_name).bind(3, e.status).bind(4, e.timezone);
      update.bind(5, e.trigger).bind(6, e.triggered_by).bind(7, e.host).bind(8, e.scheduled_ms);
      update.bind(9, e.start_ms).bind(10, e.end_ms).bind(11, std::int64_t{e.attempt});
      update.bind(12, e.error_message).bind(13, e.log_path);
      STORE_TRY(expect(update.step(), SQLITE_DONE));
    }
    hook("finish:execution");

    STORE_TRY(prepare(R"sql(
INSERT INTO step_executions (execution_id, step_index, step_id, step_name, step_type, status,
  start_ms, end_ms, exit_code, signal, output, error_message, attempt, outputs_json)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
)sql",
                      s));
    for (std::size_t i = 0; i < e.steps.size(); ++i) {
      const auto& step = e.steps[i];
      Query insert(s);
      insert.bind(1, e.execution_id).bind(2, static_cast<std::int64_t>(i));
      insert.bind(3, step.step_id).bind(4, step.step_name).bind(5, step.step_type);
      insert.bind(6, step.status).bind(7, step.start_ms).bind(8, step.end_ms);
      insert.bind(9, step.exit_code).bind(10, step.signal).bind(11, step.output);
      insert.bind(12, step.error_message).bind(13, std::int64_t{step.attempt});
      insert.bind(14, step.outputs_json);
      const auto rc = insert.step();
      if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        return refusal("step " + step.step_id + ": " + sqlite3_errmsg(db()));
      }
      STORE_TRY(expect(rc, SQLITE_DONE));
      hook("finish:step");
    }

    STORE_TRY(prepare("UPDATE fires SET status = ?2 WHERE execution_id = ?1", s));
    {
      Query fire(s);
      fire.bind(1, e.execution_id).bind(2, e.status);
      STORE_TRY(expect(fire.step(), SQLITE_DONE));
    }
    STORE_TRY(prepare(update_job_state_sql, s));
    {
      Query state(s);
      state.bind(1, job_id).bind(2, e.status).bind(3, e.execution_id);
      state.bind(4, e.status == "success" ? e.end_ms : std::nullopt);
      STORE_TRY(expect(state.step(), SQLITE_DONE));
    }
    hook("finish:state");
    hook("finish:commit");
    done = true;
    return std::nullopt;
  }

  static Status check_finished(const ExecutionRecord& e) {
    STORE_TRY(check_execution(e));
    if (!one_of(e.status, final_statuses)) {
      return refusal("status " + quoted(e.status) + " is not a final status");
    }
    if (!e.end_ms) {
      return refusal("it has no end time");
    }
    for (const auto& step : e.steps) {
      if (!one_of(step.status, step_statuses)) {
        return refusal("step " + step.step_id + ": unknown status " + quoted(step.status));
      }
      if (step.attempt < 1) {
        return refusal("step " + step.step_id + ": attempt " + std::to_string(step.attempt) +
                       " is not 1 or more");
      }
    }
    return std::nullopt;
  }

  // --- Writes that wait in memory (OpenOptions::defer_failed_writes).

  // A write to make later, with its own copies of what it writes.
  struct Deferred {
    std::string op;
    std::function<Status()> replay;
    std::optional<ExecutionRecord> execution; // what it records, for the reads meanwhile
    std::optional<FireRecord> skip;
    std::size_t bytes = 0;
  };

  // An execution waiting in memory: its latest record and how many writes of it wait.
  struct Waiting {
    ExecutionRecord record;
    int writes = 0;
  };

  // The failure of a write that joins those waiting in memory.
  static Fault waits_in_memory() {
    Fault f{SQLITE_BUSY, "its writes wait in memory", false};
    f.in_memory = true;
    return f;
  }

  static ExecutionRecord as_begun(const ExecutionRecord& e) {
    ExecutionRecord begun = e;
    begun.status = "running";
    begun.end_ms.reset();
    begun.steps.clear();
    return begun;
  }

  // A write: `body(out)` in a write transaction. With deferral, when it fails for a reason
  // that passes, or while writes wait in memory, `later()` (a Deferred with copies of the
  // arguments) waits in memory instead, and the answer is `answer`.
  template <typename T, typename Body, typename Later>
  base::Result<T> write(const std::string& op, T answer, Body&& body, Later&& later,
                        bool* deferred = nullptr) {
    for (;;) {
      if (options_.defer_failed_writes) {
        std::lock_guard lock(defer_mutex_);
        if (deferring_) {
          return defer(op, later(), answer, deferred);
        }
      }
      T out{};
      const Status fault = write_batched([&]() -> Status {
        out = T{};
        return body(out);
      });
      if (!fault) {
        return out;
      }
      if (!options_.defer_failed_writes || !passes(fault->rc)) {
        return error(op, *fault);
      }
      std::lock_guard lock(defer_mutex_);
      if (fault->in_memory && !deferring_) {
        continue; // the writes waiting were made meanwhile: this one can go now
      }
      if (!deferring_) {
        deferring_ = true;
        deferring_flag_ = true;
        health_.fault = error(op, *fault).message;
        health_.since_ms = wall_ms();
        fault_began_ = std::chrono::steady_clock::now();
        note(true, health_.fault + "; its writes wait in memory until it works again");
      }
      return defer(op, later(), answer, deferred);
    }
  }

  // Puts `d` behind the writes waiting (defer_mutex_ held).
  template <typename T>
  base::Result<T> defer(const std::string& op, Deferred d, T answer, bool* deferred) {
    d.op = op;
    d.bytes = 128 + op.size() + (d.execution ? size_of(*d.execution) : 0) +
              (d.skip ? 64 + d.skip->job_id.size() + d.skip->reason.size() : 0);
    if (deferred_bytes_ + d.bytes > options_.deferred_memory) {
      ++health_.lost;
      if (!limit_noted_) {
        limit_noted_ = true;
        note(true, "history store " + path_ + ": the writes waiting in memory fill its " +
                       std::to_string(options_.deferred_memory >> 20) +
                       " MiB; the next ones are lost until it works again");
      }
      return base::Error{"history store " + path_ + ": cannot " + op +
                             ": the writes waiting in memory fill their memory (" + health_.fault +
                             ")",
                         {},
                         {},
                         1};
    }
    if (d.execution) {
      auto& waiting = deferred_executions_[d.execution->execution_id];
      waiting.record = *d.execution;
      ++waiting.writes;
    }
    if (d.skip) {
      deferred_skips_.push_back(*d.skip);
    }
    deferred_bytes_ += d.bytes;
    deferred_.push_back(std::move(d));
    defer_wake_.notify_all();
    if (deferred != nullptr) {
      *deferred = true;
    }
    return answer;
  }

  // A claim made late found its fire claimed (or skipped) already: its execution ran anyway.
  void claimed_already(const std::string& job_id, std::int64_t scheduled_ms,
                       const std::string& execution_id) {
    late_notes_.push_back({true, "history store " + path_ + ": job " + job_id + ": the fire of " +
                                     iso_time(scheduled_ms) +
                                     " was claimed already when the claim of execution " +
                                     execution_id +
                                     ", waiting in memory, was made; that execution ran all the "
                                     "same"});
  }

  void note(bool problem, std::string text) {
    constexpr std::size_t kept = 1000; // nobody may take them (a store without a daemon)
    if (notes_.size() >= kept) {
      notes_.erase(notes_.begin());
    }
    notes_.push_back({problem, std::move(text)});
    if (options_.on_note) {
      options_.on_note();
    }
  }

  void flush_loop() {
    std::unique_lock lock(defer_mutex_);
    for (;;) {
      defer_wake_.wait(lock, [&] { return stopping_ || deferring_; });
      if (!stopping_) {
        defer_wake_.wait_for(lock, options_.retry_every, [&] { return stopping_; });
      }
      if (deferring_) {
        flush_some(lock); // also once more when the store closes
      }
      if (stopping_) {
        return;
      }
    }
  }

  // Makes the writes waiting in memory, oldest first, a chunk per transaction (each write in
  // its own savepoint, so that one refused is lost alone), until all are made or a transaction
  // fails; then, if none waits, ends the fault. defer_mutex_ held (not while writing).
  std::size_t flush_some(std::unique_lock<std::mutex>& lock) {
    constexpr std::size_t chunk_size = 256;
    while (!deferred_.empty() && !flushing_) {
      flushing_ = true;
      const auto n = std::min(deferred_.size(), chunk_size);
      in_flight_ = n;
      std::vector<Deferred> chunk(std::make_move_iterator(deferred_.begin()),
                                  std::make_move_iterator(deferred_.begin() + n));
      deferred_.erase(deferred_.begin(), deferred_.begin() + n);
      lock.unlock();
      std::vector<std::string> refused(n);
      const std::function<Status()> body = [&]() -> Status {
        std::fill(refused.begin(), refused.end(), std::string());
        late_notes_.clear();
        for (std::size_t i = 0; i < n; ++i) {
          STORE_TRY(exec("SAVEPOINT late"));
          const Status f = chunk[i].replay();
          if (f && passes(f->rc)) {
            return f;
          }
          if (f) {
            STORE_TRY(exec("ROLLBACK TO late"));
            refused[i] = error(chunk[i].op, *f).message;
          }
          STORE_TRY(exec("RELEASE late"));
        }
        return std::nullopt;
      };
      Status fault;
      try {
        fault = write_batched(body, true);
      } catch (const std::exception& e) {
        fault = Fault{SQLITE_ABORT, e.what(), false};
      }
      std::vector<Note> late = std::move(late_notes_);
      late_notes_.clear();
      lock.lock();
      flushing_ = false;
      in_flight_ = 0;
      defer_wake_.notify_all();
      if (fault) {
        for (std::size_t i = n; i-- > 0;) {
          deferred_.push_front(std::move(chunk[i]));
        }
        break;
      }
      for (std::size_t i = 0; i < n; ++i) {
        forget(chunk[i]);
        if (refused[i].empty()) {
          ++health_.made_late;
          ++made_late_now_;
        } else {
          ++health_.lost;
          note(true, refused[i] + " (it waited in memory; it is lost)");
        }
      }
      for (auto& l : late) {
        note(l.problem, std::move(l.text));
      }
    }
    if (deferred_.empty() && deferring_ && !flushing_) {
      deferring_ = false;
      deferring_flag_ = false;
      char waited[32];
      std::snprintf(
          waited, sizeof waited, "%.1fs",
          std::chrono::duration<double>(std::chrono::steady_clock::now() - fault_began_).count());
      note(false, "history store " + path_ + " works again: " + std::to_string(made_late_now_) +
                      " write" + (made_late_now_ == 1 ? "" : "s") +
                      " that waited in memory made, after " + waited);
      health_.fault.clear();
      health_.since_ms = 0;
      made_late_now_ = 0;
      limit_noted_ = false;
    }
    return deferred_.size();
  }

  // A write made (or lost) leaves the memory (defer_mutex_ held).
  void forget(const Deferred& d) {
    deferred_bytes_ -= d.bytes;
    if (d.execution) {
      const auto it = deferred_executions_.find(d.execution->execution_id);
      if (it != deferred_executions_.end() && --it->second.writes <= 0) {
        deferred_executions_.erase(it);
      }
    }
    if (d.skip) {
      const auto it = std::find(deferred_skips_.begin(), deferred_skips_.end(), *d.skip);
      if (it != deferred_skips_.end()) {
        deferred_skips_.erase(it);
      }
    }
  }

  // --- Reads see the executions and skipped fires waiting in memory.

  static bool matches(const HistoryQuery& q, const ExecutionRecord& e) {
    return (!q.job_id || e.job_id == *q.job_id) && (!q.status || e.status == *q.status) &&
           (!q.since_ms || e.start_ms >= *q.since_ms) &&
           (!q.until_ms || e.start_ms < *q.until_ms) &&
           (!q.after || std::tie(e.start_ms, e.execution_id) < std::tie(q.after->ms, q.after->id));
  }

  // A record as history() gives it: its steps without their output.
  static ExecutionRecord without_output(ExecutionRecord e) {
    for (auto& step : e.steps) {
      step.output.clear();
      step.outputs_json.clear();
    }
    return e;
  }

  void overlay(const HistoryQuery& query, std::vector<ExecutionRecord>& rows) {
    std::lock_guard lock(defer_mutex_);
    if (deferred_executions_.empty()) {
      return;
    }
    std::set<std::string> listed;
    for (auto& row : rows) {
      listed.insert(row.execution_id);
      if (const auto it = deferred_executions_.find(row.execution_id);
          it != deferred_executions_.end()) {
        row = without_output(it->second.record);
      }
    }
    for (const auto& [id, waiting] : deferred_executions_) {
      if (!listed.count(id)) {
        rows.push_back(without_output(waiting.record));
      }
    }
    std::erase_if(rows, [&](const ExecutionRecord& e) { return !matches(query, e); });
    std::sort(rows.begin(), rows.end(), [](const ExecutionRecord& a, const ExecutionRecord& b) {
      return std::tie(a.start_ms, a.execution_id) > std::tie(b.start_ms, b.execution_id);
    });
    if (query.limit > 0 && rows.size() > static_cast<std::size_t>(query.limit)) {
      rows.resize(static_cast<std::size_t>(query.limit));
    }
  }

  void overlay_skips(const HistoryQuery& query, std::vector<FireRecord>& rows) {
    std::lock_guard lock(defer_mutex_);
    if (deferred_skips_.empty()) {
      return;
    }
    for (const auto& f : deferred_skips_) {
      if ((!query.job_id || f.job_id == *query.job_id) &&
          (!query.since_ms || f.scheduled_ms >= *query.since_ms) &&
          (!query.until_ms || f.scheduled_ms < *query.until_ms) &&
          (!query.after || f.scheduled_ms < query.after->ms ||
           (f.scheduled_ms == query.after->ms && f.job_id > query.after->id)) &&
          std::find(rows.begin(), rows.end(), f) == rows.end()) {
        rows.push_back(f);
      }
    }
    std::sort(rows.begin(), rows.end(), [](const FireRecord& a, const FireRecord& b) {
      return a.scheduled_ms != b.scheduled_ms ? a.scheduled_ms > b.scheduled_ms
                                              : a.job_id < b.job_id;
    });
    if (query.limit > 0 && rows.size() > static_cast<std::size_t>(query.limit)) {
      rows.resize(static_cast<std::size_t>(query.limit));
    }
  }

  // The execution `id` (whole) waiting in memory, else nothing.
  std::optional<ExecutionRecord> waiting_execution(const std::string& id) {
    std::lock_guard lock(defer_mutex_);
    const auto it = deferred_executions_.find(id);
    if (it == deferred_executions_.end()) {
      return std::nullopt;
    }
    return it->second.record;
  }

  static Status check_execution(const ExecutionRecord& e) {
    if (e.execution_id.empty() || e.job_id.empty()) {
      return refusal("the execution id and the job id must not be empty");
    }
    if (!one_of(e.trigger, triggers)) {
      return refusal("unknown trigger " + quoted(e.trigger));
    }
    if (e.attempt < 1) {
      return refusal("attempt " + std::to_string(e.attempt) + " is not 1 or more");
    }
    return std::nullopt;
  }

  // The job of `execution_id`, which must exist and be running.
  Status running_execution_job(const std::string& execution_id, std::string& job_id) {
    sqlite3_stmt* s = nullptr;
    STORE_TRY(prepare("SELECT status, job_id FROM job_executions WHERE execution_id = ?1", s));
    Query q(s);
    q.bind(1, execution_id);
    const auto rc = q.step();
    if (rc == SQLITE_DONE) {
      return refusal("it was never begun (or it was pruned)");
    }
    STORE_TRY(expect(rc, SQLITE_ROW));
    if (const auto status = q.text(0); status != "running") {
      return refusal("it has ended already (status " + quoted(status) + ")");
    }
    job_id = q.text(1);
    return std::nullopt;
  }

  // The first row of `sql` (bound to `key`) with its steps, or nothing.
  Status load_execution(const std::string& sql, const std::string& key,
                        std::optional<ExecutionRecord>& found) {
    sqlite3_stmt* s = nullptr;
    STORE_TRY(prepare(sql, s));
    {
      Query q(s);
      q.bind(1, key);
      const auto rc = q.step();
      if (rc == SQLITE_DONE) {
        found.reset();
        return std::nullopt;
      }
      STORE_TRY(expect(rc, SQLITE_ROW));
      found = read_execution(q);
    }
    STORE_TRY(prepare(std::string("SELECT ") + step_columns +
                          ", output, outputs_json FROM step_executions WHERE execution_id = ?1 "
                          "ORDER BY step_index",
                      s));
    Query q(s);
    q.bind(1, found->execution_id);
    int rc = SQLITE_OK;
    while ((rc = q.step()) == SQLITE_ROW) {
      StepRecord step = read_step(q);
      step.output = q.text(10);
      step.outputs_json = q.text(11);
      found->steps.push_back(std::move(step));
    }
    return expect(rc, SQLITE_DONE);
  }

  // A cached prepared statement for `sql`.
  Status prepare(const std::string& sql, sqlite3_stmt*& out) {
    auto& statements = current_connection->statements;
    auto& cached = statements[sql];
    if (!cached) {
      sqlite3_stmt* s = nullptr;
      const auto rc = sqlite3_prepare_v3(db(), sql.c_str(), static_cast<int>(sql.size()),
                                         SQLITE_PREPARE_PERSISTENT, &s, nullptr);
      if (rc != SQLITE_OK) {
        statements.erase(sql);
        return fault(rc);
      }
      cached.reset(s);
    }
    out = cached.get();
    return std::nullopt;
  }

  // Statements without values: transaction control, pragmas, the schema.
  Status exec(const char* sql) {
    const auto rc = sqlite3_exec(db(), sql, nullptr, nullptr, nullptr);
    return rc == SQLITE_OK ? std::nullopt : Status(fault(rc));
  }

  Status expect(int rc, int wanted) const {
    return rc == wanted ? std::nullopt : Status(fault(rc));
  }

  Fault fault(int rc) const { return Fault{rc, sqlite3_errmsg(db()), false}; }

  // The connection of the transaction the current thread is in.
  static sqlite3* db() { return current_connection->db; }

  // The connection for reads: the writer's until the reader is open.
  Connection& reader() { return reader_ ? *reader_ : writer_; }

  void set_up(sqlite3* db) const {
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, static_cast<int>(std::clamp<std::int64_t>(
                                 options_.busy_timeout.count(), 0, 24 * 3600 * 1000)));
  }

  // The connection for reads, once the file is a history store in WAL mode; then the thread
  // that makes the writes waiting in memory.
  base::Result<bool> open_reader() {
    auto reader = std::make_unique<Connection>();
    const auto rc = sqlite3_open_v2(path_.c_str(), &reader->db,
                                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      const std::string why = reader->db ? sqlite3_errmsg(reader->db) : sqlite3_errstr(rc);
      return error("open", Fault{rc, why, false});
    }
    set_up(reader->db);
    auto read_only =
        retrying<bool>("open", *reader, [&](bool&) { return exec("PRAGMA query_only = ON"); });
    if (!read_only) {
      return read_only;
    }
    reader_ = std::move(reader);
    if (options_.defer_failed_writes) {
      flusher_ = std::thread([this] { flush_loop(); });
    }
    return true;
  }

  base::Error error(const std::string& op, const Fault& f) const {
    if (f.standalone) {
      return base::Error{f.text, {}, {}, 1};
    }
    std::string why = f.text;
    if (f.in_memory) {
      why = "the writes before it wait in memory until the store works again";
    } else if (is_busy(f.rc)) {
      why = "the store is locked by another process (waited " +
            std::to_string(options_.busy_timeout.count()) + " ms)";
    } else if ((f.rc & 0xff) == SQLITE_NOTADB) {
      why = "the file is not an SQLite database";
    }
    return base::Error{"history store " + path_ + ": cannot " + op + ": " + why, {}, {}, 1};
  }

  void hook(std::string_view point) const {
    if (options_.test_hook) {
      options_.test_hook(point);
    }
  }

  std::string path_;
  OpenOptions options_;
  Connection writer_;
  std::unique_ptr<Connection> reader_;
  // The writes waiting in memory, what reads see of them, and how it goes.
  std::mutex defer_mutex_;
  std::condition_variable defer_wake_;
  std::deque<Deferred> deferred_;
  bool deferring_ = false;                  // writes wait: new ones join them
  std::atomic<bool> deferring_flag_{false}; // the same, for write_batched()
  bool flushing_ = false;                   // a chunk is being made
  std::size_t in_flight_ = 0;               // the writes of that chunk
  bool stopping_ = false;
  bool limit_noted_ = false;
  std::size_t deferred_bytes_ = 0;
  std::int64_t made_late_now_ = 0; // in the current fault
  std::chrono::steady_clock::time_point fault_began_;
  std::map<std::string, Waiting> deferred_executions_;
  std::vector<FireRecord> deferred_skips_;
  Health health_;
  std::vector<Note> notes_;
  std::vector<Note> late_notes_; // of the chunk being made (by the thread making it)
  std::thread flusher_;
  std::mutex batch_mutex_; // the writes waiting, and whether a batch is committing
  std::condition_variable batch_done_;
  std::vector<Write*> waiting_;
  bool committing_ = false;
};

} // namespace

base::Result<std::unique_ptr<Store>> open_sqlite(const std::string& path,
                                                 const OpenOptions& options) {
  sqlite3* db = nullptr;
  const auto rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const std::string why = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return base::Error{"history store " + path + ": cannot open: " + why, {}, {}, 1};
  }
  auto store = std::make_unique<SqliteStore>(path, options, db);
  if (auto ready = store->setup(); !ready) {
    return ready.error();
  }
  return std::unique_ptr<Store>(std::move(store));
}

base::Result<bool> sqlite_has_history(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return false;
    }
    return base::Error{
        "history store " + path + ": cannot read: " + std::strerror(errno), {}, {}, 1};
  }
  if (st.st_size == 0) {
    return false;
  }
  // Read-write without SQLITE_OPEN_CREATE: a read-only connection could not open a WAL
  // database whose -shm file is missing.
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  sqlite3_stmt* s = nullptr;
  const bool read = rc == SQLITE_OK &&
                    sqlite3_prepare_v2(db,
                                       "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                                       "AND name = 'schema_version'",
                                       -1, &s, nullptr) == SQLITE_OK &&
                    sqlite3_step(s) == SQLITE_ROW;
  const bool found = read && sqlite3_column_int(s, 0) > 0;
  const std::string why = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  sqlite3_finalize(s);
  sqlite3_close_v2(db);
  if (!read) {
    return base::Error{"history store " + path + ": cannot read: " + why, {}, {}, 1};
  }
  return found;
}

} // namespace store
