#pragma once

// Running one step's process: its own process group and cgroup, or shim (see contain_steps), stdin
// from /dev/null (or given text), stdout and stderr read concurrently, kept bounded and streamed
// line by line, a timeout or a cancel that sends SIGTERM to the step's processes and SIGKILL after
// a grace period, and no process of the step left behind when it ends.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace exec {

struct ProcessLimits {
  std::optional<std::int64_t> memory;     // bytes of address space (RLIMIT_AS)
  std::optional<std::int64_t> cpu_time;   // seconds (RLIMIT_CPU)
  std::optional<std::int64_t> open_files; // RLIMIT_NOFILE
  std::optional<std::int64_t> processes;  // RLIMIT_NPROC (per user)
};

struct ProcessSpec {
  std::vector<std::string> argv; // argv[0]: a path, or a name searched in the env's PATH
  std::string working_directory; // empty: the runner's
  // The whole environment of the process. Without a cgroup (see contain_steps) JOBS_STEP_TOKEN
  // is added: it marks the step's shim and processes for the next runner after a crash.
  std::vector<std::pair<std::string, std::string>> env;
  std::optional<std::string> input; // standard input; nullopt: /dev/null
  std::string run_as;               // user to switch to (the runner must be root); empty: none
  ProcessLimits limits;
  std::int64_t output_limit = 1 << 20; // bytes kept of each stream: its head and its tail
  // Values replaced by *** in both streams before they are split into lines and kept, so that no
  // cut (a read, a long line's pieces, the head and tail kept) splits one.
  std::vector<std::string> secrets;
  std::optional<std::chrono::milliseconds> timeout;
  std::chrono::milliseconds kill_grace{10000}; // SIGTERM to SIGKILL
};

enum class Stream { out, err };

// Receives the output as it comes: whole lines without their '\n' (a last line without one
// too; a line longer than 64 KiB in pieces).
using LineSink = std::function<void(Stream, std::string_view)>;

// Asks a running process to stop, from any thread or a signal handler: cancel() writes to an
// eventfd the runner polls.
class CancelToken {
public:
  CancelToken();
  ~CancelToken();
  CancelToken(const CancelToken&) = delete;
  CancelToken& operator=(const CancelToken&) = delete;

  void cancel(); // async-signal-safe
  bool cancelled() const { return cancelled_.load(); }
  int fd() const { return fd_; }

private:
  int fd_;
  std::atomic<bool> cancelled_{false};
};

struct ProcessResult {
  std::string start_error; // non-empty: the process never ran ("pwsh not found in PATH")
  std::optional<int> exit_code;
  std::optional<int> signal; // the signal that ended it
  bool timed_out = false;
  bool cancelled = false;
  bool killed = false;  // SIGKILL was needed after the grace period
  int leftovers = 0;    // processes of the step still running when it ended, killed then
  std::string out, err; // bounded: head, a marker with the byte count left out, tail
  std::uint64_t out_bytes = 0, err_bytes = 0; // all that was written, secrets masked
  std::chrono::system_clock::time_point start, end;
  std::chrono::microseconds user_cpu{0}, system_cpu{0};
  long max_rss_kb = 0;

  bool succeeded() const { return start_error.empty() && exit_code == 0; }
};

// Runs the process to its end. Never throws for the process's failures: they are in the result.
ProcessResult run_process(const ProcessSpec& spec, const LineSink& sink = {},
                          CancelToken* cancel = nullptr);

// How run_process holds a step's processes so that none outlives the step.
struct Containment {
  enum class Kind { cgroup, shim };
  Kind kind = Kind::shim;
  // "cgroup v2 /sys/fs/cgroup/jobsd.service/jobsd-…", or "a subreaper shim per step (no cgroup:
  // why)"
  std::string description;
  int killed = 0; // processes an earlier run left in the cgroup, killed now
};

// Sets up how every later run_process holds its step's processes: a cgroup v2 per step, made in
// a cgroup `name` under this process's own cgroup, when the host gives it a writable cgroup v2
// with cgroup.kill (Linux 5.14); else a shim per step (exec/shim.hpp), the child subreaper of
// the step's processes, which they cannot leave.
// What an earlier run left in `name` (after a crash) is killed first. Call once at start, before
// any run_process, with a name no other runner on this machine uses at the same time.
Containment contain_steps(const std::string& name);

// The umask every later run_process gives its step, where it is not this process's own: jobsd
// runs under 027 for its own files and gives the steps the umask it was started with, as cron
// and systemd give theirs. Call once at start, before any run_process.
void set_step_umask(mode_t mask);

// Kills and removes what contain_steps made; run_process goes back to the shim. Call when no
// run_process runs. Returns how many processes it killed (none but after a failed step end).
int release_steps();

// Makes this process the child subreaper of its descendants (prctl PR_SET_CHILD_SUBREAPER), so
// that a step's orphaned processes come back to it to be killed and reaped. Call once at start.
void become_subreaper();

// Reaps the zombies of orphaned descendants (children this process did not start through
// run_process). Returns how many.
int reap_orphans();

// The program argv[0] would run: itself when it holds a '/', else the first executable file of
// that name in `path` (a PATH value). Empty when there is none.
std::string find_program(const std::string& name, const std::string& path);

// HOME, USER and LOGNAME of the user `name` from the password database, as a login sets them
// (and cron and systemd do for a job's user); empty when there is no such user.
std::vector<std::pair<std::string, std::string>> user_environment(const std::string& name);

// Keeps the first and last `limit / 2` bytes of a stream, and counts the rest.
class BoundedBuffer {
public:
  explicit BoundedBuffer(std::int64_t limit) : limit_(static_cast<std::uint64_t>(limit)) {}
  void append(std::string_view data);
  std::uint64_t total() const { return total_; }
  // Head, "\n[... N bytes not kept ...]\n" when something was left out, tail.
  std::string text() const;

private:
  std::uint64_t limit_;
  std::uint64_t total_ = 0;
  std::string head_;
  std::string tail_; // the last bytes; once full, a ring with the oldest at tail_start_
  size_t tail_start_ = 0;
};

} // namespace exec
