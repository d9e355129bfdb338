// The SQLite history store. One connection per Store, guarded by a mutex; every public call is
// one transaction, or a savepoint in one: writes that come together are committed together
// (BEGIN IMMEDIATE, so that a writer takes the write lock before it reads, and two writers never
// deadlock on a lock upgrade). Values are always bound, never spliced into SQL text.

#include <store/store.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace store {
namespace {

// What went wrong inside one operation.
struct Fault {
  int rc = SQLITE_OK;      // SQLite's (extended) result code; SQLITE_OK for a refusal of ours
  std::string text;        // SQLite's message, or ours
  bool standalone = false; // `text` is the whole message (not about the store file)
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

constexpr std::array<Migration, 2> migrations{{
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

JobState read_job_state(const Query& q) {
  JobState s;
  s.job_id = q.text(0);
  s.last_fire_ms = q.optional_int64(1);
  s.last_status = q.text(2);
  s.last_execution_id = q.text(3);
  s.last_success_ms = q.optional_int64(4);
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
      : path_(std::move(path)), options_(std::move(options)), db_(db) {}

  ~SqliteStore() override {
    statements_.clear();
    sqlite3_close_v2(db_);
  }

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // Checks that the file is a history store this program can use, before changing anything in
  // it (a refused file keeps its journal mode); then the connection settings, then the schema
  // upgrade if the file is older than this program.
  base::Result<bool> setup() {
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, static_cast<int>(std::clamp<std::int64_t>(
                                  options_.busy_timeout.count(), 0, 24 * 3600 * 1000)));
    auto version = transaction<int>("open", false, [&](int& v) { return read_version(v); });
    if (!version) {
      return version.error();
    }
    if (*version > sqlite_schema_version) {
      return error("open", refusal(newer_text(*version)));
    }
    auto configured = retrying<bool>("open", [&](bool&) { return configure(); });
    if (!configured) {
      return configured;
    }
    if (*version == sqlite_schema_version) {
      return true;
    }
    const auto op = "upgrade the schema from version " + std::to_string(*version) + " to " +
                    std::to_string(sqlite_schema_version);
    return transaction<bool>(op, true, [&](bool&) { return migrate(); });
  }

  base::Result<bool> claim_fire(const std::string& job_id, std::int64_t scheduled_ms,
                                const std::string& execution_id) override {
    const auto op = "claim the fire of job " + job_id + " at " + std::to_string(scheduled_ms);
    return transaction<bool>(op, true, [&](bool& claimed) -> Status {
      if (job_id.empty() || execution_id.empty()) {
        return refusal("the job id and the execution id must not be empty");
      }
      return insert_fire(job_id, scheduled_ms, execution_id, "pending", "", claimed);
    });
  }

  base::Result<bool> record_skipped_fire(const std::string& job_id, std::int64_t scheduled_ms,
                                         const std::string& reason) override {
    const auto op =
        "record the skipped fire of job " + job_id + " at " + std::to_string(scheduled_ms);
    return transaction<bool>(op, true, [&](bool& recorded) -> Status {
      if (job_id.empty()) {
        return refusal("the job id must not be empty");
      }
      return insert_fire(job_id, scheduled_ms, std::nullopt, "skipped", reason, recorded);
    });
  }

  base::Result<int> start_jobs(const std::vector<std::string>& job_ids,
                               std::int64_t since_ms) override {
    return transaction<int>("record when jobs start", true, [&](int& started) -> Status {
      sqlite3_stmt* s = nullptr;
      STORE_TRY(prepare(R"sql(
INSERT INTO job_state (job_id, last_fire_ms) VALUES (?1, ?2)
ON CONFLICT (job_id) DO UPDATE SET last_fire_ms = excluded.last_fire_ms
  WHERE last_fire_ms IS NULL OR last_fire_ms < excluded.last_fire_ms
)sql",
                        s));
      for (const auto& id : job_ids) {
        Query q(s);
        q.bind(1, id).bind(2, since_ms);
        STORE_TRY(expect(q.step(), SQLITE_DONE));
        started += sqlite3_changes(db_);
      }
      return std::nullopt;
    });
  }

  base::Result<bool> begin_execution(const ExecutionRecord& e) override {
    const auto op = "record the start of execution " + e.execution_id;
    return transaction<bool>(op, true, [&](bool& done) -> Status {
      STORE_TRY(insert_execution(e));
      done = true;
      return std::nullopt;
    });
  }

  base::Result<bool> claim_and_begin(const ExecutionRecord& e) override {
    const auto op = "start execution " + e.execution_id + " for the fire of job " + e.job_id;
    return transaction<bool>(op, true, [&](bool& begun) -> Status {
      if (!e.scheduled_ms) {
        return refusal("the execution has no scheduled instant to claim");
      }
      STORE_TRY(check_execution(e));
      STORE_TRY(insert_fire(e.job_id, *e.scheduled_ms, e.execution_id, "running", "", begun));
      return begun ? insert_execution(e) : std::nullopt;
    });
  }

  base::Result<std::vector<bool>> claim_fires(const std::vector<FireClaim>& fires) override {
    using Claimed = std::vector<bool>;
    return transaction<Claimed>(
        "claim " + std::to_string(fires.size()) + " fires", true, [&](Claimed& claimed) -> Status {
          for (const auto& f : fires) {
            if (f.job_id.empty() || f.execution_id.empty()) {
              return refusal("the job id and the execution id must not "
                             "be empty");
            }
            bool one = false;
            STORE_TRY(insert_fire(f.job_id, f.scheduled_ms, f.execution_id, "pending", "", one));
            claimed.push_back(one);
          }
          return std::nullopt;
        });
  }

  base::Result<bool> finish_execution(const ExecutionRecord& e) override {
    const auto op = "record the end of execution " + e.execution_id;
    auto result = transaction<bool>(op, true, [&](bool& done) -> Status {
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
          return refusal("step " + step.step_id + ": " + sqlite3_errmsg(db_));
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
    });
    if (result) {
      hook("finish:committed");
    }
    return result;
  }

  base::Result<std::vector<ExecutionRecord>> history(const HistoryQuery& query) override {
    // The clauses are fixed text, chosen so that an index serves each filter and the order.
    std::string sql = std::string("SELECT ") + execution_columns + " FROM job_executions";
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
    sql += where + " ORDER BY start_ms DESC, execution_id DESC LIMIT ?4";
    using Rows = std::vector<ExecutionRecord>;
    return transaction<Rows>("read the history", false, [&](Rows& rows) -> Status {
      sqlite3_stmt* s = nullptr;
      STORE_TRY(prepare(sql, s));
      Query q(s);
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
      int rc = SQLITE_OK;
      while ((rc = q.step()) == SQLITE_ROW) {
        rows.push_back(read_execution(q));
      }
      return expect(rc, SQLITE_DONE);
    });
  }

  base::Result<std::vector<FireRecord>> skipped_fires(const HistoryQuery& query) override {
    std::string sql = "SELECT job_id, scheduled_ms, reason FROM fires WHERE status = 'skipped'";
    if (query.job_id) {
      sql += " AND job_id = ?1";
    }
    if (query.since_ms) {
      sql += " AND scheduled_ms >= ?2";
    }
    sql += " ORDER BY scheduled_ms DESC, job_id LIMIT ?3";
    using Rows = std::vector<FireRecord>;
    return transaction<Rows>("read the skipped fires", false, [&](Rows& rows) -> Status {
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
      int rc = SQLITE_OK;
      while ((rc = q.step()) == SQLITE_ROW) {
        rows.push_back({q.text(0), q.int64(1), q.text(2)});
      }
      return expect(rc, SQLITE_DONE);
    });
  }

  base::Result<std::optional<ExecutionRecord>> execution(const std::string& id) override {
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

  base::Result<std::optional<ExecutionRecord>> last_execution(const std::string& job_id) override {
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
                            "last_success_ms FROM job_state WHERE job_id = ?1",
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
                        "last_success_ms FROM job_state ORDER BY job_id",
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
        count = sqlite3_changes(db_);
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

  base::Result<bool> audit(const AuditRecord& r) override {
    return transaction<bool>(
        "write the audit record of " + r.action + " " + r.target, true, [&](bool& done) -> Status {
          sqlite3_stmt* s = nullptr;
          STORE_TRY(prepare("INSERT INTO audit (time_ms, user_name, uid, action, target, detail, "
                            "outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                            s));
          Query q(s);
          q.bind(1, r.time_ms).bind(2, r.user).bind(3, r.uid).bind(4, r.action);
          q.bind(5, r.target).bind(6, r.detail).bind(7, r.outcome);
          STORE_TRY(expect(q.step(), SQLITE_DONE));
          done = true;
          return std::nullopt;
        });
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
        deleted = sqlite3_changes(db_);
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
  base::Result<T> retrying(const std::string& op, Body&& body) {
    std::lock_guard lock(mutex_);
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
    return retrying<T>(op, [&](T& out) -> Status {
      STORE_TRY(exec("BEGIN"));
      Rollback rollback{db_};
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
  };

  // Group commit: writes that arrive while a transaction commits wait, and then go together
  // into the next one: one BEGIN IMMEDIATE and one COMMIT (one fsync) for all, each body in its
  // own savepoint so that a refused one rolls back alone. The executions of a daemon record
  // their starts and ends at once; this keeps each from waiting for the others' fsyncs.
  Status write_batched(const std::function<Status()>& body) {
    Write mine{body, std::nullopt, false};
    std::unique_lock lock(batch_mutex_);
    waiting_.push_back(&mine);
    while (!mine.done) {
      if (committing_) {
        batch_done_.wait(lock);
        continue;
      }
      committing_ = true;
      std::vector<Write*> batch;
      batch.swap(waiting_);
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
    std::lock_guard lock(mutex_);
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
    Rollback rollback{db_};
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
      inserted = sqlite3_changes(db_) == 1;
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
    STORE_TRY(prepare(R"sql(
SELECT step_id, step_name, step_type, status, start_ms, end_ms, exit_code, signal, output,
  error_message, attempt, outputs_json
FROM step_executions WHERE execution_id = ?1 ORDER BY step_index
)sql",
                      s));
    Query q(s);
    q.bind(1, found->execution_id);
    int rc = SQLITE_OK;
    while ((rc = q.step()) == SQLITE_ROW) {
      StepRecord step;
      step.step_id = q.text(0);
      step.step_name = q.text(1);
      step.step_type = q.text(2);
      step.status = q.text(3);
      step.start_ms = q.optional_int64(4);
      step.end_ms = q.optional_int64(5);
      step.exit_code = q.optional_int(6);
      step.signal = q.optional_int(7);
      step.output = q.text(8);
      step.error_message = q.text(9);
      step.attempt = static_cast<int>(q.int64(10));
      step.outputs_json = q.text(11);
      found->steps.push_back(std::move(step));
    }
    return expect(rc, SQLITE_DONE);
  }

  // A cached prepared statement for `sql`.
  Status prepare(const std::string& sql, sqlite3_stmt*& out) {
    auto& cached = statements_[sql];
    if (!cached) {
      sqlite3_stmt* s = nullptr;
      const auto rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                         SQLITE_PREPARE_PERSISTENT, &s, nullptr);
      if (rc != SQLITE_OK) {
        statements_.erase(sql);
        return fault(rc);
      }
      cached.reset(s);
    }
    out = cached.get();
    return std::nullopt;
  }

  // Statements without values: transaction control, pragmas, the schema.
  Status exec(const char* sql) {
    const auto rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    return rc == SQLITE_OK ? std::nullopt : Status(fault(rc));
  }

  Status expect(int rc, int wanted) const {
    return rc == wanted ? std::nullopt : Status(fault(rc));
  }

  Fault fault(int rc) const { return Fault{rc, sqlite3_errmsg(db_), false}; }

  base::Error error(const std::string& op, const Fault& f) const {
    if (f.standalone) {
      return base::Error{f.text, {}, {}, 1};
    }
    std::string why = f.text;
    if (is_busy(f.rc)) {
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
  sqlite3* db_;
  std::mutex mutex_; // the connection
  std::unordered_map<std::string, StatementPtr> statements_;
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

} // namespace store
