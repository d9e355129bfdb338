#pragma once

// The history store: every execution with its steps, the fires claimed or skipped, the state of
// each job, the jobs paused and the audit log; the daemon's source of truth for history (spec §7).
// `Store` is the narrow interface the engine and the daemon use; open_sqlite() gives the SQLite
// implementation, and a PostgreSQL one (several nodes sharing one history) can follow.
//
// Times are UTC milliseconds since the epoch. Strings that have no value are empty ("").
//
// Errors name the store and what could not be done, e.g.
//   history store /var/lib/jobs/history.db: cannot open: unable to open database file
//   history store /var/lib/jobs/history.db: cannot claim the fire of job backup at
//   1767225600000: the store is locked by another process (waited 5000 ms)
//
// Thread safety: one Store object may be shared by several threads. It has two database
// connections, one for reads and one for writes, each used by one thread at a time: a read
// never waits for a write, not even one that waits for another process's lock. Several Store
// objects, in this process or in others, may use one database: readers never wait for a writer
// and always see whole transactions; writers wait for each other up to the busy timeout.

#include <base/error.hpp>
#include <store/stats.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace store {

// One step of an execution, as it ended. Step statuses: pending, running, success, failed,
// skipped, cancelled, timeout, interrupted.
struct StepRecord {
  std::string step_id;
  std::string step_name;
  std::string step_type;
  std::string status;
  std::optional<std::int64_t> start_ms; // absent: the step never started
  std::optional<std::int64_t> end_ms;
  std::optional<int> exit_code; // absent: no exit status (never started, ended by a signal)
  std::optional<int> signal;    // the signal that ended the step's process
  std::string output;           // already bounded by the caller
  std::string error_message;
  int attempt = 1;          // 1-based
  std::string outputs_json; // JSON the step produced (row counts...); "" or valid JSON

  bool operator==(const StepRecord&) const = default;
};

// One execution of a job. Execution statuses: pending, running, success, failed,
// partial_success, timeout, cancelled, skipped, interrupted. Triggers: schedule, manual, api,
// after, catchup, retry.
struct ExecutionRecord {
  std::string execution_id; // given by the caller, unique
  std::string job_id;
  std::string job_name;
  std::string status;
  std::string timezone;     // the IANA zone the job is scheduled in
  std::string trigger;      // what started it
  std::string triggered_by; // the user or the job that started it
  std::string host;
  std::optional<std::int64_t> scheduled_ms; // the fire's instant; absent for manual runs
  std::int64_t start_ms = 0;
  std::optional<std::int64_t> end_ms; // absent while running
  int attempt = 1;                    // 1-based; a retry of the job is a new execution
  std::string error_message;
  std::string log_path;
  std::vector<StepRecord> steps; // in order

  bool operator==(const ExecutionRecord&) const = default;
};

// What the store knows of one job between executions.
struct JobState {
  std::string job_id;
  std::optional<std::int64_t> last_fire_ms;    // latest scheduled instant claimed or skipped
  std::string last_status;                     // of the execution that ended last
  std::string last_execution_id;               // the execution that ended last
  std::optional<std::int64_t> last_success_ms; // end of the latest "success"
  // The schedule a daemon last scheduled it with (jobsd::schedule_key; "": not scheduled);
  // absent when unknown (a store from before schema version 3).
  std::optional<std::string> schedule;

  bool operator==(const JobState&) const = default;
};

// One mutating action, for the audit log.
struct AuditRecord {
  std::int64_t time_ms = 0;
  std::string user;
  std::optional<std::int64_t> uid; // the peer's uid; absent when unknown
  std::string action;              // "trigger", "cancel", "reload"...
  std::string target;              // the job or execution acted on
  std::string detail;
  std::string outcome; // "ok" or what went wrong

  bool operator==(const AuditRecord&) const = default;
};

// A job paused at run time (jobsctl pause): its fires are skipped until it is resumed, or until
// until_ms.
struct PauseRecord {
  std::string job_id;
  std::int64_t since_ms = 0;
  std::optional<std::int64_t> until_ms; // absent: until resumed
  std::string user;                     // who paused it
  std::string reason;                   // "" when none was given

  bool operator==(const PauseRecord&) const = default;
};

// A fire that did not run, and why.
struct FireRecord {
  std::string job_id;
  std::int64_t scheduled_ms = 0;
  std::string reason;

  bool operator==(const FireRecord&) const = default;
};

// A fire to claim for an execution.
struct FireClaim {
  std::string job_id;
  std::int64_t scheduled_ms = 0;
  std::string execution_id;
};

// How a daemon schedules a job, for schedule_jobs().
struct JobSchedule {
  std::string job_id;
  std::string schedule; // its key (jobsd::schedule_key); "": not scheduled
  bool starts = false;  // scheduled from now on: new, enabled again, or with a new schedule
};

// A place in a list paged most recent first: the time and the id of the last row of a page.
// The next page holds the rows after it in the list's order, so that rows added since (newer)
// neither shift nor repeat what follows.
struct Cursor {
  std::int64_t ms = 0; // an execution's start_ms, a skipped fire's scheduled_ms
  std::string id;      // the execution id, the skipped fire's job id

  bool operator==(const Cursor&) const = default;
};

// Which executions history() returns, most recent (by start) first.
struct HistoryQuery {
  std::optional<std::string> job_id;
  std::optional<std::string> status;
  std::optional<std::int64_t> since_ms; // started at or after
  int limit = 20;                       // at most this many; 0 or less: all
  std::optional<std::int64_t> until_ms; // started (skipped fires: due) before
  std::optional<Cursor> after;          // only the rows after this one in the order returned
};

// Which audit records audit_log() returns, the latest first.
struct AuditQuery {
  std::optional<std::string> user;
  // Actions on this job: a target that is the job id, or the id then a space (a cancel's
  // "JOB EXECUTION").
  std::optional<std::string> job_id;
  std::optional<std::int64_t> before_id; // only records older than this one (AuditEntry::id)
  int limit = 50;                        // at most this many; 0 or less: all
};

// An audit record as stored, with its row id (increasing with each record appended).
struct AuditEntry {
  std::int64_t id = 0;
  AuditRecord record;

  bool operator==(const AuditEntry&) const = default;
};

// What prune() keeps. Running executions are always kept.
struct Retention {
  int max_per_job = 1000;                               // 0 or less: no limit by count
  std::int64_t max_age_ms = 90LL * 24 * 60 * 60 * 1000; // by start; 0 or less: no limit by age
};

// How the writes of a store opened with OpenOptions::defer_failed_writes are going.
struct Health {
  std::string fault;          // why writes wait in memory (the first failure); empty: none waits
  std::int64_t since_ms = 0;  // when the first of them failed
  std::size_t waiting = 0;    // writes waiting in memory
  std::int64_t made_late = 0; // writes made late since the store was opened
  std::int64_t lost = 0;      // writes given up: refused when made late, or past the memory limit

  bool operator==(const Health&) const = default;
};

// A line for the daemon's log about the store's own faults: they began, ended, lost a write.
struct Note {
  bool problem = false; // a fault (logged as an error); else news (logged as info)
  std::string text;

  bool operator==(const Note&) const = default;
};

// The history store. Every call is one transaction: it happens whole or not at all.
class Store {
public:
  virtual ~Store() = default;

  // Records that `job_id` fires for its scheduled instant `scheduled_ms` as `execution_id`
  // (whose execution need not exist yet) and advances the job's last_fire_ms. Returns false,
  // changing nothing, when that fire was already claimed or skipped: a given (job, instant)
  // runs at most once, also across processes sharing the store.
  virtual base::Result<bool> claim_fire(const std::string& job_id, std::int64_t scheduled_ms,
                                        const std::string& execution_id) = 0;

  // claim_fire() for several fires in one transaction; one answer each, in order.
  virtual base::Result<std::vector<bool>> claim_fires(const std::vector<FireClaim>& fires) = 0;

  // Records that the fire of `job_id` at `scheduled_ms` was skipped and why ("forbid: still
  // running", "missed: older than max_lateness"); advances last_fire_ms. Returns false when
  // that fire was already claimed or skipped.
  virtual base::Result<bool> record_skipped_fire(const std::string& job_id,
                                                 std::int64_t scheduled_ms,
                                                 const std::string& reason) = 0;

  // Records how a daemon schedules `jobs` from `since_ms` on: each one's schedule, and for
  // those that start then, last_fire_ms = since_ms unless it is later, so that the fires after
  // it that a daemon misses (being down) are caught up at its next start, and none before it.
  // Returns how many last fires it set.
  virtual base::Result<int> schedule_jobs(const std::vector<JobSchedule>& jobs,
                                          std::int64_t since_ms) = 0;

  // Records that `execution` started: inserts it with status "running" (whatever its
  // status), no end and no steps, and marks its fire, if one was claimed, running. Durable on
  // return: call it before starting the first process. An execution id that exists already is
  // an error. Returns true.
  virtual base::Result<bool> begin_execution(const ExecutionRecord& execution) = 0;

  // claim_fire() for the execution's fire (its job at its scheduled_ms) and begin_execution(),
  // in one transaction: one wait for the disk before the first process starts. Returns false,
  // changing nothing, when that fire was claimed or skipped already.
  virtual base::Result<bool> claim_and_begin(const ExecutionRecord& execution) = 0;

  // Records how a begun execution ended: its row (status, end_ms, error...), all its steps,
  // its fire's status and the job's state, in one transaction; a crash leaves the execution
  // either complete or still running. The status must be a final one (not pending or running)
  // and end_ms present; an execution that was not begun, or has ended already, is an error.
  // Returns true.
  virtual base::Result<bool> finish_execution(const ExecutionRecord& execution) = 0;

  // Executions matching `query`, most recent start first (ties: greater id first), with their
  // steps but not the steps' output and outputs_json (execution() has them).
  virtual base::Result<std::vector<ExecutionRecord>> history(const HistoryQuery& query) = 0;

  // The fires recorded as skipped that match `query` (its status is ignored; since_ms applies
  // to the scheduled instant), most recent first.
  virtual base::Result<std::vector<FireRecord>> skipped_fires(const HistoryQuery& query) = 0;

  // The executions and skipped fires matching `query` summed up per job (stats.hpp), by job id:
  // every job with a state or a matching record. One read, whatever the number of executions.
  virtual base::Result<std::vector<JobStats>> stats(const StatsQuery& query) = 0;

  // The execution `id`, with its steps in order; `id` may also be a prefix of exactly one
  // execution id (an exact match wins). Nothing when none matches; an error when the prefix is
  // ambiguous ("execution id prefix "ab" is ambiguous: 3 executions start with it") or empty.
  virtual base::Result<std::optional<ExecutionRecord>> execution(const std::string& id) = 0;

  // The most recently started execution of `job_id`, with its steps.
  virtual base::Result<std::optional<ExecutionRecord>>
  last_execution(const std::string& job_id) = 0;

  // The state of `job_id`; nothing when the store never heard of it.
  virtual base::Result<std::optional<JobState>> job_state(const std::string& job_id) = 0;

  // The state of every job the store knows, by job id.
  virtual base::Result<std::vector<JobState>> job_states() = 0;

  // At daemon start-up, after a crash: every execution still running becomes "interrupted",
  // ended at `now_ms` (the job's state follows), and so do fires claimed but never finished.
  // Returns the number of executions marked.
  virtual base::Result<int> mark_interrupted(std::int64_t now_ms) = 0;

  // Records that `pause.job_id` is paused, replacing the pause it had. Returns true.
  virtual base::Result<bool> pause_job(const PauseRecord& pause) = 0;

  // Ends the pause of `job_id`. Returns whether it was paused (true when the write waits in
  // memory).
  virtual base::Result<bool> resume_job(const std::string& job_id) = 0;

  // Every paused job, by job id, also those no job file names any longer.
  virtual base::Result<std::vector<PauseRecord>> paused_jobs() = 0;

  // Appends `record` to the audit log. Returns true.
  virtual base::Result<bool> audit(const AuditRecord& record) = 0;

  // The audit records matching `query`, the latest first (records waiting in memory are not
  // among them).
  virtual base::Result<std::vector<AuditEntry>> audit_log(const AuditQuery& query) = 0;

  // Deletes the executions (with their steps) beyond `retention`: more than max_per_job newer
  // ones of the same job, or started more than max_age_ms before `now_ms`; never a running
  // one. Fires older than max_age_ms go too; job states and the audit log stay. Returns the
  // number of executions deleted.
  virtual base::Result<int> prune(const Retention& retention, std::int64_t now_ms) = 0;

  // With OpenOptions::defer_failed_writes: the writes waiting in memory and what became of the
  // others; always healthy otherwise.
  virtual Health health() { return {}; }
  // The notes since the last call, oldest first.
  virtual std::vector<Note> take_notes() { return {}; }
  // Tries the writes waiting in memory now (waiting up to the busy timeout for a lock); returns
  // how many still wait.
  virtual std::size_t flush() { return 0; }
};

// The schema version open_sqlite() creates and upgrades to.
inline constexpr int sqlite_schema_version = 4;

struct OpenOptions {
  // How long a write waits for another process's write transaction before failing.
  std::chrono::milliseconds busy_timeout{5000};
  // For crash tests only, empty otherwise: called inside write transactions at the named points
  // "migrate:<version>" (after each schema upgrade step), "finish:execution",
  // "finish:step" (after each step row), "finish:state", "finish:commit" (just before COMMIT)
  // and "finish:committed" (after it). It must not call the Store.
  std::function<void(std::string_view point)> test_hook;
  // For a daemon, which runs its jobs whether or not their history can be written: a write that
  // fails for a reason that passes (the store is locked by another process past the busy
  // timeout, the disk is full, an I/O error, a read-only file system) succeeds at once and waits
  // in memory, with every write after it, in order, until the store works again; a thread of
  // the store tries them every retry_every. Reads see the executions and skipped fires waiting.
  // Claims that wait answer "claimed": the caller's own schedule keeps a fire from running
  // twice; one found claimed already when it is made is recorded all the same (its execution
  // ran) and noted. health() and take_notes() tell how it goes.
  bool defer_failed_writes = false;
  std::chrono::milliseconds retry_every{250};
  // The memory the waiting writes may take (their records' size); a write past it fails as
  // it would without deferral, and counts as lost.
  std::size_t deferred_memory = 64u << 20;
  // Called, from any thread, when notes are added; it must not call the Store.
  std::function<void()> on_note;
};

// Opens (creating it if needed) the SQLite history store at `path`, in WAL mode, and upgrades
// its schema in place, in one transaction. Errors: the file cannot be opened or created, is not
// an SQLite database, is another program's database, has a newer schema version than
// sqlite_schema_version, or is locked by another process for longer than the busy timeout.
base::Result<std::unique_ptr<Store>> open_sqlite(const std::string& path,
                                                 const OpenOptions& options = {});

// Whether `path` holds a history store's schema: false when the file is missing, empty (0
// bytes) or an SQLite database without it. Neither makes nor changes the file. Errors: it cannot
// be read, or is not an SQLite database.
base::Result<bool> sqlite_has_history(const std::string& path);

} // namespace store
