#pragma once

// jobsd itself (man/jobsd.8): one event loop that sleeps until the next fire, a file change, a
// socket request, a child's exit or a signal; the scheduler and the time-zone queues; one thread
// per running execution (the engine runs it and the Recorder writes the store and the logs);
// live reload of the jobs folder; the control socket.

#include <engine/recorder.hpp>
#include <exec/process.hpp>
#include <ipc/protocol.hpp>
#include <jobs/loader.hpp>
#include <jobsd/config.hpp>
#include <jobsd/http.hpp>
#include <jobsd/logs.hpp>
#include <jobsd/metrics.hpp>
#include <jobsd/queues.hpp>
#include <jobsd/scheduler.hpp>
#include <jobsd/tokens.hpp>
#include <jobsd/watcher.hpp>
#include <store/store.hpp>

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace jobsd {

// A request line must be complete within this time of its first byte.
inline constexpr std::int64_t client_request_timeout_ms = 10000;

// Everything the daemon needs to start: the configuration with every path resolved.
struct Options {
  Config config;          // jobs_dir, state_dir, log_dir and socket are all set
  bool to_stderr = false; // jobsd.log's lines also to standard error (--foreground)
  // The jobs folder is the default one, not named: made (0750) when it does not exist. A folder
  // someone named and that is missing stays an error.
  bool create_jobs_dir = false;
  // A missing or empty history store where jobsd has run before is taken as a new one
  // (--new-store), not refused.
  bool new_store = false;
  std::string version; // of the program
  // Called once the daemon is ready (socket listening, jobs loaded), before the first fire.
  std::function<void()> ready;
};

class Daemon {
public:
  explicit Daemon(Options options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Takes the state folder (one daemon each), opens the store and the logs, marks what a crash
  // left running as interrupted, loads the jobs, and listens on the socket. The error says why
  // the daemon cannot start ("another jobsd (pid 123) uses the state folder /var/lib/jobs").
  base::Result<bool> start();

  // Runs until SIGTERM or SIGINT, then stops firing, waits up to the grace period for the
  // running executions, records the rest as interrupted, and returns the exit code (0).
  int run();

private:
  base::Result<bool> set_up();

  // --- One running execution (its worker thread runs the engine).
  struct Execution {
    Pending pending;
    std::map<std::string, std::string> secrets; // the values of those the job uses
    engine::Integrations integrations;          // the config's, as the execution started
    exec::CancelToken cancel;
    std::thread thread;
    std::int64_t started_ms = 0;
    std::atomic<bool> interrupted{false}; // stopped by the daemon's shutdown
    std::atomic<bool> duplicate{false};   // its fire ran already (the store refused the claim)
    std::atomic<bool> watched{false};     // someone follows its log
    std::atomic<bool> log_noticed{false}; // a "log grew" notice is on its way
    std::mutex mutex;                     // guards what follows
    std::string attempt_id;               // the execution id of the attempt running now
    std::string step;                     // the step running now
    std::string log_path;
    std::vector<engine::JobResult> results; // when it ended
    std::string cancel_reason;
  };
  class Live;

  // What worker threads tell the loop (through post()).
  struct Notice {
    enum class Kind { log, attempt, done } kind;
    std::string execution_id;
  };

  // --- One client of the control socket.
  struct Connection {
    int fd = -1;
    std::uint64_t serial = 0; // unlike fd, never reused
    uid_t uid = 0;
    gid_t gid = 0;
    pid_t pid = 0;
    std::string user;
    bool admin = false;
    bool reader = false;
    std::string in, out;
    std::int64_t partial_since = 0; // steady ms when an unfinished request began; 0: none
    std::int64_t active_ms = 0;     // steady ms of its last byte read or sent
    bool closing = false;           // close once `out` is sent
    // An HTTP request's bridge: the token's principal decides what it may do, not the uid.
    std::optional<Principal> principal;
  };

  // A request whose reply (or stream) waits for an execution: trigger --wait/--follow, logs -f.
  struct Follower {
    int fd;
    std::uint64_t serial; // of the connection
    std::int64_t request_id;
    std::string execution_id; // followed now; empty: waiting for the job's next one
    std::string job_id;       // with `job_wide`: every execution of this job, until closed
    bool job_wide = false;
    bool told_waiting = false; // with `job_wide`: the "waiting" event sent since the last end
    bool send_log = true;      // log lines as events (follow); else only the final reply (wait)
    bool until_eof = false;    // logs without follow: the log as it is now, then the reply
    std::string ended_id;      // not following a running execution: the one whose log is read
    std::string log_path;
    std::uint64_t offset = 0;
  };

  // A job file as last read, for reloads that re-read only what changed.
  struct FileState {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    std::int64_t mtime_ns = 0, ctime_ns = 0;
    std::shared_ptr<const jobs::LoadedFile> loaded;
  };

  // What a reload reads from the jobs folder: its job files (those that changed read again) and
  // its problems. Read off the loop for the reloads that changes start.
  struct FolderRead {
    std::chrono::steady_clock::time_point began;
    std::int64_t began_ms = 0;              // the same, on the real-time clock
    std::map<std::string, FileState> files; // by path
    std::vector<std::string> changed;
    std::vector<jobs::LoadedFile> problems;
  };

  // What one reload found and did, for status and the log.
  struct ReloadReport {
    std::int64_t time_ms = 0;
    size_t files = 0, changed = 0, removed = 0, jobs = 0;
    double seconds = 0;
    std::vector<jobs::Diagnostic> errors; // of the files that failed, with their places
    std::vector<std::string> stale;       // paths running their last good version

    size_t files_with_errors() const;
  };

  // A one-off run asked for with the schedule command (kept in <state>/scheduled.json).
  struct OneOff {
    std::string job_id;
    std::int64_t at = 0; // UTC seconds
    std::string user;
  };

  // daemon.cpp: lifecycle, loop, fires, executions
  void loop_once();
  void arm_timer();
  int poll_timeout_ms();
  void on_signal();
  void check_clocks();
  void report_faults(); // the history store's and jobsd.log's, in jobsd.log
  void handle_fires();
  void fire(const Fire& f, std::int64_t now);
  void start_fire(const JobPtr& job, std::int64_t instant, const std::string& trigger,
                  const std::string& by);
  // Queues an execution of `job` (for its fire at `instant`, if any); returns its id.
  std::string enqueue(const JobPtr& job, std::optional<std::int64_t> instant,
                      const std::string& trigger, const std::string& by, bool claim = true);
  // Records the fire of `job` at `instant` as skipped, and why.
  void skip_fire(const jobs::JobDefinition& job, std::int64_t instant, const std::string& reason);
  void record_unstarted(const Pending& p, const std::string& status, const std::string& reason);
  bool active(const std::string& job_id, std::string* which = nullptr) const;
  void forget_active(const std::string& job_id, const std::string& execution_id);
  void replace(const jobs::JobDefinition& job, const std::string& reason);
  void dispatch();
  void claim_queued();
  void work(Execution& x);
  void post(Notice n);
  void drain_notices();
  void finished(const std::string& execution_id);
  void run_after(const std::string& upstream);
  void run_reboot_jobs();
  void maintenance();
  void cancel_execution(Execution& x, const std::string& reason);
  // Why a start of `job_id` (for an instant at `at_ms`, UTC ms) is skipped for its pause: the
  // job is paused and the instant is before the pause's end. Empty: it is not.
  std::string paused_reason(const std::string& job_id, std::int64_t at_ms) const;
  // Ends the pauses whose `until` has come.
  void end_pauses(std::int64_t now);
  void save_one_offs();
  void load_one_offs();
  std::int64_t now_ms() const;
  // Writes metrics.textfile when the metrics changed and its last write is 15 s old (`now`:
  // whenever they changed); a failure is told in jobsd.log once, then when it works again.
  void write_metrics_file(bool now = false);

  // reload.cpp
  // Reads the folder on the loop and makes the new generation (start-up, SIGHUP, the reload
  // command); a read under way on its thread is dropped.
  ReloadReport reload(bool initial);
  void schedule_reload();
  // A due debounced reload: the folder is read on reading_, so that large files do not hold
  // the loop; finish_reload() makes the generation once it is read.
  void start_reload();
  void finish_reload();
  void drop_reading();
  static FolderRead read_folder(const std::string& dir, const jobs::LoadOptions& options,
                                const std::map<std::string, FileState>& known);
  ReloadReport apply_reload(FolderRead read, bool initial);

  // server.cpp: the socket
  base::Result<bool> listen_socket();
  void accept_clients();
  void on_readable(Connection& c);
  void on_writable(Connection& c);
  void send(Connection& c, const ipc::Json& message);
  void close_connection(int fd);
  void expire_slow_clients();
  // Idle: no request being read or answered, nothing to send, nothing followed.
  bool idle(const Connection& c) const;
  std::int64_t idle_timeout_ms() const;
  // The earliest steady ms at which expire_slow_clients() has something to do.
  std::optional<std::int64_t> next_client_deadline() const;
  // Why a new client gets no slot (empty: it gets one).
  std::string no_slot_for(const Connection& c) const;
  // Counts a refusal of `what` ("connection", "read") to the client's user, told in jobsd.log
  // by report_refusals(): at once, then at most once a minute per user with a count (`all`:
  // every count not yet told).
  void refused(const Connection& c, const std::string& what, const std::string& why);
  void report_refusals(bool all);
  Connection* connection(int fd);
  Connection* client(const Follower& f); // null when its connection has closed
  void sweep_followers();                // drops those of closed connections
  void close_finished();                 // closes the closing connections that have sent everything
  // An HTTP request (http.cpp) as a control connection: runs `request` for `who` and returns
  // the other end of the bridge, from which its reply and events come; -1 when it cannot.
  int open_bridge(const Principal& who, const ipc::Request& request);
  // Ends the bridges of a token (but `except`): its requests, log streams too, end now.
  void end_bridges(const std::string& token, const std::string& why, int except);
  base::Result<bool> start_http();

  // commands.cpp: the commands
  void handle_request(Connection& c, const ipc::Request& r);
  ipc::Json hello(const Connection& c) const;
  // Sends followers what their logs gained, and the final replies of those that are done.
  void pump_followers(const std::string& execution_id, bool ended);
  void pump_all();                    // the followers of the connections in pending_pumps_
  bool pump(Follower& f, bool ended); // true: the follower is done
  bool read_log(Connection& c, Follower& f, bool to_end); // true: at the end of the file
  const JobPtr& job_arg(const ipc::Request& request);
  ipc::Json execution_json(const std::string& execution_id);
  struct Reply;
  struct CommandSpec;
  // Why `c` may not run the command (empty: it may): the uid's rules on the socket, the token's
  // role and glob on a bridge.
  std::string refusal(const Connection& c, const CommandSpec& spec, const ipc::Request& r);
  // The job a request acts on (cancel: the execution's job; enable, disable: the job of the file
  // they change); empty: none.
  std::string job_of(const ipc::Request& r);
  // The file that enable and disable change for `id`: the loaded job's, else a file that failed
  // to load named `id` without its extension, with the job it declares (its name if unknown).
  struct JobFile {
    std::string path;
    std::string job;
  };
  std::optional<JobFile> job_file(const std::string& id) const;
  // Records a mutating request in the audit table and the audit log; `who` is the user, then
  // how it came ("uid=0 pid=12", "address=127.0.0.1").
  void audit(const std::string& user, std::optional<std::int64_t> uid, const std::string& how,
             const std::string& action, const std::string& target, const std::string& detail,
             const std::string& outcome);
  Reply cmd_status(Connection&, const ipc::Request&);
  Reply cmd_list(Connection&, const ipc::Request&);
  Reply cmd_show(Connection&, const ipc::Request&);
  Reply cmd_history(Connection&, const ipc::Request&);
  Reply cmd_stats(Connection&, const ipc::Request&);
  Reply cmd_logs(Connection&, const ipc::Request&);
  Reply cmd_version(Connection&, const ipc::Request&);
  Reply cmd_trigger(Connection&, const ipc::Request&);
  Reply cmd_cancel(Connection&, const ipc::Request&);
  Reply cmd_reload(Connection&, const ipc::Request&);
  Reply cmd_enable(Connection&, const ipc::Request&);
  Reply cmd_disable(Connection&, const ipc::Request&);
  Reply cmd_set_enabled(Connection&, const ipc::Request&, bool value);
  Reply cmd_schedule(Connection&, const ipc::Request&);
  Reply cmd_pause(Connection&, const ipc::Request&);
  Reply cmd_resume(Connection&, const ipc::Request&);
  // commands_api.cpp: the commands the HTTP API added
  Reply cmd_execution(Connection&, const ipc::Request&);
  Reply cmd_queues(Connection&, const ipc::Request&);
  Reply cmd_validate(Connection&, const ipc::Request&);
  Reply cmd_types(Connection&, const ipc::Request&);
  Reply cmd_health(Connection&, const ipc::Request&);
  Reply cmd_audit(Connection&, const ipc::Request&);
  Reply cmd_preview(Connection&, const ipc::Request&);
  // The queues and the global limit as status and queues give them:
  // {"queues": [{zone, depth, running, limit, next_fire}], "global": {running, queued, limit}}.
  ipc::Json queues_json() const;
  Reply cmd_metrics(Connection&, const ipc::Request&);
  std::string metrics_text() const; // the exposition, with the gauges of now
  Reply cmd_token_create(Connection&, const ipc::Request&);
  Reply cmd_token_list(Connection&, const ipc::Request&);
  Reply cmd_token_revoke(Connection&, const ipc::Request&);
  static const std::vector<CommandSpec>& commands();

  Options options_;
  Config& config_;
  engine::StateDir state_;
  std::unique_ptr<Logs> logs_;
  std::unique_ptr<store::Store> store_;
  std::map<std::string, std::string> secrets_;
  Scheduler scheduler_;
  Queues queues_;
  Metrics metrics_;
  std::int64_t metrics_written_ = 0; // steady ms of the last write of metrics.textfile
  std::string metrics_file_error_;   // of the last write, told in jobsd.log; empty: it worked

  int lock_fd_ = -1, epoll_fd_ = -1, timer_fd_ = -1, signal_fd_ = -1, notice_fd_ = -1,
      listen_fd_ = -1;
  std::unique_ptr<Watcher> watcher_;
  std::int64_t reload_at_ = 0;         // steady ms of a pending debounced reload; 0: none
  std::thread reading_;                // reads the folder for a debounced reload
  std::atomic<bool> read_done_{false}; // reading_ has put its result in read_
  FolderRead read_;
  std::int64_t reload_first_ = 0; // steady ms of the first change since the last reload
  bool stopping_ = false;
  bool interrupting_ = false;      // the grace period ended: running executions are cancelled
  std::int64_t stop_deadline_ = 0; // steady ms: the end of the grace period
  std::int64_t started_ms_ = 0;
  std::string containment_;           // how the steps' processes are held (exec::Containment)
  std::int64_t up_since_ms_ = 0;      // steady ms, for the uptime (the clock may jump)
  std::int64_t next_maintenance_ = 0; // UTC ms
  std::int64_t watchdog_every_ = 0;   // ms; 0: no watchdog
  std::int64_t watchdog_next_ = 0;    // steady ms
  std::int64_t timer_armed_ = -1;     // UTC ms the timer is set to
  bool clocks_known_ = false;
  std::int64_t last_real_boot_ = 0, last_boot_mono_ = 0;         // clock offsets (ms), for jumps
  std::vector<std::pair<std::string, std::string>> environment_; // for the steps

  // The jobs of the current generation, by id (enabled or not), and their files.
  std::map<std::string, JobPtr> jobs_;
  std::map<std::string, FileState> files_;  // by path
  std::map<std::string, JobPtr> last_good_; // by path: the file's last version that loaded
  std::map<std::string, std::string> recorded_schedules_; // by job id: the store's schedule_key
  std::map<std::string, std::vector<std::string>> downstream_; // upstream id -> ids with `after`
  std::map<std::string, std::set<std::string>> upstream_done_; // downstream -> upstreams succeeded
  ReloadReport last_reload_;
  std::uint64_t generation_ = 0;

  std::vector<Fire> delayed_; // jittered fires waiting for their run_at_ms, a min-heap by it
  std::vector<OneOff> one_offs_;
  // The jobs paused at run time, by id (kept in the store; also those whose file is gone).
  std::map<std::string, store::PauseRecord> paused_;
  std::map<std::string, std::unique_ptr<Execution>> running_; // by the first attempt's id
  std::map<std::string, std::string> attempts_;               // attempt id -> first attempt's id
  std::vector<std::string> unclaimed_; // queued this turn with a fire not yet claimed
  // Job id -> its executions queued or running.
  std::unordered_map<std::string, std::set<std::string>> active_;

  std::mutex notices_mutex_;
  std::vector<Notice> notices_;

  std::map<int, Connection> connections_;
  struct Refusals {
    std::int64_t count = 0;       // not yet told
    std::int64_t reported_ms = 0; // steady ms of the last line told; 0: none yet
    std::string why;              // of the last one
  };
  std::map<std::pair<uid_t, std::string>, Refusals> refusals_;
  std::vector<Follower> followers_;
  std::set<int> pending_pumps_;  // connections whose followers may send more
  bool followers_dirty_ = false; // a connection with followers closed
  std::uint64_t next_serial_ = 1;

  std::unique_ptr<Tokens> tokens_;   // the HTTP API's, from <state_dir>/tokens.json
  std::unique_ptr<HttpServer> http_; // none without an http: section
};

} // namespace jobsd
