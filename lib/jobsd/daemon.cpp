// The daemon's lifecycle, its event loop, fires and executions. Reloads are in reload.cpp, the
// socket in server.cpp and the commands in commands.cpp.
#include <base/duration.hpp>
#include <engine/result.hpp>
#include <exec/tree.hpp>
#include <jobs/edit.hpp>
#include <jobsd/daemon.hpp>
#include <jobsd/systemd.hpp>
#include <store/json.hpp>
#include <store/stats.hpp>
#include <tz/format.hpp>
#include <tz/zone.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

extern char** environ;

namespace jobsd {

namespace fs = std::filesystem;

namespace {

std::int64_t clock_ms(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::int64_t steady_ms() {
  return clock_ms(CLOCK_MONOTONIC);
}

base::Error failure(std::string message) {
  base::Error e;
  e.message = std::move(message);
  return e;
}

std::string system_error(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// A clock offset that changes by more than this is a jump (NTP slews change it slowly).
constexpr std::int64_t jump_threshold_ms = 2000;
// metrics.textfile is written at most this often (node_exporter reads it at each scrape).
constexpr std::int64_t metrics_file_every_ms = 15000;
// How often the history and the logs are pruned.
constexpr std::int64_t maintenance_every_ms = 6LL * 60 * 60 * 1000;

// The first fire of the jobs comes after a later heap item when jitter delays it.
bool later_run(const Fire& a, const Fire& b) {
  return a.run_at_ms > b.run_at_ms;
}

std::string duration_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2fs", seconds);
  return text;
}

// This boot's id, from the kernel; empty when unknown.
std::string boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

// The modes of the folders and files jobsd makes (man/jobsd.8, SECURITY): the steps' output
// is in them, for the daemon's user (and the folders' group) only.
constexpr mode_t umask_mode = 027;
constexpr mode_t folder_mode = 0750;
constexpr mode_t file_mode = 0640;
constexpr mode_t store_mode = 0600;

// Checks a folder (`follow`: a link to it is fine) or file of jobsd's before it is used. One of
// another owner is refused: that user could change or replace it at any time, so no mode set
// here would hold. A link in place of a file is refused: jobsd writes nothing through one. One
// more open than `mode` (made by an older jobsd under the caller's umask, or by hand) is narrowed
// to it, and `fixed` says so. A missing one is fine: it is made with its mode.
base::Result<bool> check_own(const std::string& path, mode_t mode, bool follow,
                             std::vector<std::string>& fixed) {
  struct stat st {};
  if ((follow ? stat(path.c_str(), &st) : lstat(path.c_str(), &st)) != 0) {
    return true;
  }
  if (S_ISLNK(st.st_mode)) {
    return failure(path + " is a symbolic link: jobsd writes its own files and none through a " +
                   "link; remove it");
  }
  if (st.st_uid != geteuid()) {
    return failure(path + " belongs to uid " + std::to_string(st.st_uid) + ", not to jobsd's uid " +
                   std::to_string(geteuid()) +
                   ": its owner could change it under jobsd; give it to uid " +
                   std::to_string(geteuid()) + " (chown) or remove it");
  }
  const mode_t current = st.st_mode & 07777;
  if ((current & ~mode) != 0) {
    if (chmod(path.c_str(), current & mode) != 0) {
      return failure(system_error("cannot narrow the mode of " + path));
    }
    char text[64];
    std::snprintf(text, sizeof text, ": mode %04o narrowed to %04o", current, current & mode);
    fixed.push_back(path + text);
  }
  return true;
}

// Checks the log folder, the folders in it (one per job, timezones/, one per zone) and its files.
base::Result<bool> check_log_dir(const std::string& dir, std::vector<std::string>& fixed) {
  if (auto checked = check_own(dir, folder_mode, true, fixed); !checked) {
    return checked;
  }
  for (const std::string& folder : {dir, dir + "/timezones"}) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(folder, ec)) {
      const bool is_folder = entry.is_directory(ec) && !entry.is_symlink(ec);
      const auto checked =
          check_own(entry.path().string(), is_folder ? folder_mode : file_mode, false, fixed);
      if (!checked) {
        return checked;
      }
    }
  }
  return true;
}

// Kills what the previous daemon (pid `previous`) left running when it died: the processes whose
// JOBS_STEP_TOKEN starts with its pid (exec/process.cpp makes the tokens), its steps' shims among
// them, and all their descendants (those of a shim may have emptied their environment). Returns
// how many.
int kill_orphans(pid_t previous) {
  if (previous <= 0) {
    return 0;
  }
  std::ostringstream prefix;
  prefix << "JOBS_STEP_TOKEN=" << std::hex << previous << "-";
  const std::string wanted = prefix.str();
  // Each counted once: a step's shell, say, is below its shim and carries the token too.
  std::set<pid_t> killed;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) {
    return 0;
  }
  while (const dirent* e = readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0 || pid == getpid() || killed.count(pid)) {
      continue;
    }
    std::ifstream in(std::string("/proc/") + e->d_name + "/environ", std::ios::binary);
    for (std::string entry; std::getline(in, entry, '\0');) {
      if (entry.starts_with(wanted)) {
        for (pid_t below : exec::kill_descendants(pid)) {
          killed.insert(below);
        }
        if (::kill(pid, SIGKILL) == 0) {
          killed.insert(pid);
        }
        break;
      }
    }
  }
  closedir(proc);
  return static_cast<int>(killed.size());
}

// The name of this daemon's cgroup (exec::contain_steps): one per state folder, as the lock allows
// one daemon per state folder, and the same after a restart, so that a daemon finds what a
// crashed one left. A hash (FNV-1a) of the folder's path keeps it short and free of '/'.
std::string cgroup_name(const std::string& state_dir) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (const unsigned char c : fs::weakly_canonical(state_dir).string()) {
    hash = (hash ^ c) * 1099511628211ULL;
  }
  std::ostringstream name;
  name << "jobsd-" << std::hex << std::setw(16) << std::setfill('0') << hash;
  return name.str();
}

} // namespace

// Sits between the engine and the Recorder of one execution: tells the loop what it needs to
// know (the attempt running, a log that grew for its followers, the end), and records an
// execution cancelled by the daemon's shutdown as interrupted.
class Daemon::Live : public engine::Events {
public:
  Live(Daemon& d, Execution& x, engine::Recorder& next) : d_(d), x_(x), next_(next) {}

  void execution_started(const engine::JobResult& r) override {
    next_.execution_started(r);
    if (next_.refused()) {
      // Its fire ran already (another node, or before a crash): it must not run again.
      x_.duplicate = true;
      x_.cancel.cancel();
      return;
    }
    {
      std::lock_guard lock(x_.mutex);
      x_.attempt_id = r.execution_id;
      x_.log_path = d_.state_.log_path(r.job_id, r.execution_id);
      x_.step.clear();
    }
    d_.post({Notice::Kind::attempt, x_.pending.execution_id});
  }
  void step_started(const engine::JobResult& r, const engine::StepResult& s) override {
    {
      std::lock_guard lock(x_.mutex);
      x_.step = s.step_id;
    }
    next_.step_started(r, s);
    log_grew();
  }
  void output(const engine::JobResult& r, const engine::StepResult& s, exec::Stream stream,
              std::string_view line) override {
    next_.output(r, s, stream, line);
    log_grew();
  }
  void step_finished(const engine::JobResult& r, const engine::StepResult& s) override {
    next_.step_finished(r, s);
    log_grew();
  }
  void retrying(const engine::JobResult& r, const engine::StepResult* s,
                std::chrono::milliseconds delay) override {
    next_.retrying(r, s, delay);
    log_grew();
  }
  void execution_finished(const engine::JobResult& r) override {
    if (x_.interrupted && r.status == engine::Status::cancelled) {
      engine::JobResult copy = r;
      copy.status = engine::Status::interrupted;
      copy.error_message = "jobsd stopped before the execution ended (" + r.error_message + ")";
      next_.execution_finished(copy);
      return;
    }
    if (r.status == engine::Status::cancelled) {
      std::lock_guard lock(x_.mutex);
      if (!x_.cancel_reason.empty()) {
        engine::JobResult copy = r;
        copy.error_message = x_.cancel_reason + " (" + r.error_message + ")";
        next_.execution_finished(copy);
        return;
      }
    }
    next_.execution_finished(r);
  }
  void notified(const engine::JobResult& r, const engine::Notified& n) override {
    next_.notified(r, n);
  }

private:
  void log_grew() {
    if (x_.watched && !x_.duplicate && !x_.log_noticed.exchange(true)) {
      d_.post({Notice::Kind::log, x_.pending.execution_id});
    }
  }

  Daemon& d_;
  Execution& x_;
  engine::Recorder& next_;
};

Daemon::Daemon(Options options)
    : options_(std::move(options)),
      config_(options_.config), state_{config_.state_dir, config_.log_dir},
      queues_([this](const std::string& zone) { return config_.limit_of(zone); },
              config_.global_limit),
      metrics_(options_.version) {}

Daemon::~Daemon() {
  drop_reading(); // it tells notice_fd_ when done
  for (auto& [id, x] : running_) {
    x->cancel.cancel();
    if (x->thread.joinable()) {
      x->thread.join();
    }
  }
  exec::release_steps();
  // Its thread may tell notice_fd_ that it has notes until it is closed.
  store_.reset();
  http_.reset();
  for (auto& [fd, c] : connections_) {
    ::close(fd);
  }
  for (int fd : {epoll_fd_, timer_fd_, signal_fd_, notice_fd_, listen_fd_, lock_fd_}) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
}

std::int64_t Daemon::now_ms() const {
  return clock_ms(CLOCK_REALTIME);
}

base::Result<bool> Daemon::start() {
  auto started = set_up();
  if (!started && logs_ != nullptr) {
    // The caller tells it on standard error; jobsd.log must not end at "starting" either.
    logs_->file_only().error("cannot start: {}", started.error().message);
  }
  return started;
}

base::Result<bool> Daemon::set_up() {
  // Signals are read from a signalfd: blocked here, before any thread starts, so that every
  // thread inherits the mask (steps get a clean one from exec).
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) {
    sigaddset(&signals, s);
  }
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  started_ms_ = now_ms();
  up_since_ms_ = steady_ms();

  // Whatever the caller's umask, nothing jobsd makes is writable by others or readable by
  // everyone. The steps get the caller's, as cron's and systemd's do.
  exec::set_step_umask(umask(umask_mode));
  std::error_code ec;
  fs::create_directories(config_.state_dir, ec);
  if (ec) {
    return failure("cannot make the state folder " + config_.state_dir + ": " + ec.message());
  }
  // The socket's group may traverse the state folder to reach the socket (mode 0660); what it
  // holds is the owner's (history.db 0600, the logs in their own folder 0750) or harmless.
  std::vector<std::string> fixed;
  if (auto checked = check_own(config_.state_dir, folder_mode, true, fixed); !checked) {
    return checked;
  }
  if (!config_.access.socket_group.empty()) {
    if (const group* g = getgrnam(config_.access.socket_group.c_str())) {
      (void)!chown(config_.state_dir.c_str(), static_cast<uid_t>(-1), g->gr_gid);
    }
  }

  // One daemon per state folder: the lock is held for the daemon's life; it names its pid.
  const std::string lock_path = config_.state_dir + "/jobsd.lock";
  if (auto checked = check_own(lock_path, file_mode, false, fixed); !checked) {
    return checked;
  }
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, file_mode);
  if (lock_fd_ < 0) {
    return failure(system_error("cannot open " + lock_path));
  }
  char pid_text[32] = {};
  const ssize_t got = pread(lock_fd_, pid_text, sizeof pid_text - 1, 0);
  const pid_t previous = got > 0 ? static_cast<pid_t>(std::atoi(pid_text)) : 0;
  // A POSIX record lock, not flock(): it belongs to this process, so it goes with it. A child
  // between fork and exec (a step starting) shares the descriptor, and would hold an flock()
  // past a SIGKILL of jobsd, refusing the next start.
  struct flock whole {};
  whole.l_type = F_WRLCK;
  whole.l_whence = SEEK_SET;
  if (fcntl(lock_fd_, F_SETLK, &whole) != 0) {
    return failure("another jobsd" +
                   (previous > 0 ? " (pid " + std::to_string(previous) + ")" : "") +
                   " uses the state folder " + config_.state_dir);
  }
  const std::string mine = std::to_string(getpid()) + "\n";
  if (ftruncate(lock_fd_, 0) != 0 || pwrite(lock_fd_, mine.data(), mine.size(), 0) < 0) {
    return failure(system_error("cannot write " + lock_path));
  }

  for (const char* name : {"/boot", "/scheduled.json"}) {
    if (auto checked = check_own(config_.state_dir + name, file_mode, false, fixed); !checked) {
      return checked;
    }
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const std::string path = state_.store_path() + suffix;
    if (auto checked = check_own(path, store_mode, false, fixed); !checked) {
      return checked;
    }
  }
  if (auto checked = check_log_dir(state_.log_dir(), fixed); !checked) {
    return checked;
  }

  try {
    logs_ = std::make_unique<Logs>(state_.log_dir(), config_.logs, options_.to_stderr);
  } catch (const std::exception& e) {
    return failure(e.what());
  }
  auto& log = logs_->daemon();
  log.info("jobsd {} starting (pid {}): jobs {}, state {}, logs {}", options_.version, getpid(),
           config_.jobs_dir, config_.state_dir, state_.log_dir());
  for (const auto& f : fixed) {
    log.warn("{} (others could read or change what jobsd keeps there)", f);
  }

  // A store without history where jobsd has run before (its lock named a pid, or it wrote this
  // boot's record) was lost (a truncation, a bad restore): taking it as new would drop the
  // history, the fire claims and the audit without a trace.
  auto has_history = store::sqlite_has_history(state_.store_path());
  if (!has_history) {
    return has_history.error();
  }
  if (!*has_history && (previous > 0 || fs::exists(config_.state_dir + "/boot", ec))) {
    if (!options_.new_store) {
      return failure(
          "the history store " + state_.store_path() +
          " is missing or empty, yet jobsd has run with the state folder " + config_.state_dir +
          " before (its jobsd.lock and boot files say so): restore history.db from a backup, or "
          "start jobsd once with --new-store to begin a new history");
    }
    log.warn("--new-store: {} was missing or empty; a new history begins", state_.store_path());
  }

  // Made before the store: its thread tells the loop through it that it has notes.
  notice_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  store::OpenOptions store_options;
  // The jobs run whether or not their history can be written: a write that fails for a
  // reason that passes (another process's lock, a full disk) waits in memory and is made once
  // the store works again, and status says so meanwhile. A lock held longer than a second is a
  // fault: a fire does not wait for it longer.
  store_options.defer_failed_writes = true;
  store_options.busy_timeout = std::chrono::seconds(1);
  store_options.on_note = [fd = notice_fd_] {
    const std::uint64_t one = 1;
    (void)::write(fd, &one, sizeof one);
  };
  auto opened = store::open_sqlite(state_.store_path(), store_options);
  if (!opened) {
    return opened.error();
  }
  store_ = std::move(*opened);
  // The history holds the steps' output: for the daemon's user only.
  for (const char* suffix : {"", "-wal", "-shm"}) {
    chmod((state_.store_path() + suffix).c_str(), store_mode);
  }

  // What the last daemon left: its processes (if it was killed) and its running executions.
  // It is gone: it would hold the lock otherwise. Those in its cgroup go with the cgroup; those
  // of a daemon that had none (or of an older version) by their token.
  const exec::Containment containment = exec::contain_steps(cgroup_name(config_.state_dir));
  containment_ = containment.description;
  log.info("process containment: {}", containment_);
  if (previous > 0 && previous != getpid()) {
    if (const int killed = containment.killed + kill_orphans(previous); killed > 0) {
      log.warn("killed {} process{} left running by the previous jobsd (pid {})", killed,
               killed == 1 ? "" : "es", previous);
    }
  }
  if (auto marked = store_->mark_interrupted(now_ms()); !marked) {
    return marked.error();
  } else if (*marked > 0) {
    log.warn("{} execution{} running when jobsd last stopped marked interrupted", *marked,
             *marked == 1 ? " was" : "s were");
  }
  // Read before the first fire: a paused job must not run because its pause was not known.
  auto pauses = store_->paused_jobs();
  if (!pauses) {
    return pauses.error();
  }
  for (auto& p : *pauses) {
    paused_[p.job_id] = std::move(p);
  }

  // Many executions at once need many descriptors (pipes, logs): use the hard limit.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  exec::become_subreaper();
  // Wake at the instant asked for, not up to 50 us later (the default timer slack).
  prctl(PR_SET_TIMERSLACK, 1UL);

  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  signal_fd_ = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
  timer_fd_ = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
  if (epoll_fd_ < 0 || signal_fd_ < 0 || timer_fd_ < 0 || notice_fd_ < 0) {
    return failure(system_error("cannot set up the event loop"));
  }
  for (int fd : {signal_fd_, timer_fd_, notice_fd_}) {
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.fd = fd;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &e);
  }

  if (options_.create_jobs_dir && !fs::exists(config_.jobs_dir, ec)) {
    fs::create_directories(fs::path(config_.jobs_dir).parent_path(), ec);
    if (mkdir(config_.jobs_dir.c_str(), 0750) != 0) {
      return failure(system_error("cannot make the jobs folder " + config_.jobs_dir));
    }
    log.info("made the jobs folder {}: it is the default one and did not exist", config_.jobs_dir);
  }
  if (!fs::is_directory(config_.jobs_dir, ec)) {
    return failure("the jobs folder " + config_.jobs_dir + " does not exist");
  }
  auto watcher = Watcher::open(config_.jobs_dir);
  if (!watcher) {
    return watcher.error();
  }
  watcher_ = std::move(*watcher);
  epoll_event e{};
  e.events = EPOLLIN;
  e.data.fd = watcher_->fd();
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, watcher_->fd(), &e);

  for (char** env = environ; *env != nullptr; ++env) {
    const std::string entry = *env;
    const size_t eq = entry.find('=');
    if (eq != std::string::npos && !entry.starts_with("NOTIFY_SOCKET=") &&
        !entry.starts_with("WATCHDOG_")) {
      environment_.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
    }
  }
  load_one_offs();
  reload(true);

  if (auto listening = listen_socket(); !listening) {
    return listening.error();
  }
  tokens_ = std::make_unique<Tokens>(config_.state_dir + "/tokens.json");
  if (auto read = tokens_->load(); !read) {
    return read.error();
  }
  if (config_.http) {
    if (auto listening = start_http(); !listening) {
      return listening.error();
    }
    log.info("HTTP API on {}{}", config_.http->listen,
             config_.http->cert_file.empty() ? "" : " (TLS)");
  }
  run_reboot_jobs();
  maintenance();
  check_clocks();
  watchdog_every_ = watchdog_period_ms() / 2;
  watchdog_next_ = steady_ms() + watchdog_every_;
  log.info("ready: {} jobs, socket {}", jobs_.size(), config_.socket);
  notify_systemd("READY=1\nSTATUS=" + std::to_string(jobs_.size()) + " jobs");
  if (options_.ready) {
    options_.ready();
  }
  return true;
}

int Daemon::run() {
  while (!(stopping_ && running_.empty())) {
    loop_once();
  }
  if (store_->health().waiting > 0) {
    store_->flush();
  }
  report_faults();
  if (const auto h = store_->health(); h.waiting > 0) {
    logs_->daemon().error("{} write{} to the history store that waited in memory {} lost: {}",
                          h.waiting, h.waiting == 1 ? "" : "s", h.waiting == 1 ? "is" : "are",
                          h.fault);
  }
  report_refusals(true);
  write_metrics_file(true);
  logs_->daemon().info("stopped");
  notify_systemd("STOPPING=1");
  ::unlink(config_.socket.c_str());
  return 0;
}

void Daemon::loop_once() {
  arm_timer();
  epoll_event events[64];
  const int n = epoll_wait(epoll_fd_, events, 64, poll_timeout_ms());
  if (n < 0 && errno != EINTR) {
    logs_->daemon().error("epoll_wait: {}", std::strerror(errno));
  }
  for (int i = 0; i < n; ++i) {
    const int fd = events[i].data.fd;
    if (fd == signal_fd_) {
      on_signal();
    } else if (fd == timer_fd_) {
      std::uint64_t expirations;
      // ECANCELED: the wall clock was set; check_clocks() sees by how much.
      (void)::read(timer_fd_, &expirations, sizeof expirations);
      timer_armed_ = -1;
    } else if (fd == notice_fd_) {
      std::uint64_t count;
      (void)::read(notice_fd_, &count, sizeof count);
    } else if (watcher_ && fd == watcher_->fd()) {
      if (watcher_->read_changes()) {
        schedule_reload();
      }
    } else if (fd == listen_fd_) {
      accept_clients();
    } else if (http_ && http_->on_event(fd)) {
      // its epoll set, or a bridge the HTTP side waits on
    } else if (Connection* c = connection(fd)) {
      if (events[i].events & EPOLLIN) {
        on_readable(*c);
      }
      if ((c = connection(fd)) != nullptr && (events[i].events & EPOLLOUT)) {
        on_writable(*c);
      }
      if ((c = connection(fd)) != nullptr && (events[i].events & (EPOLLHUP | EPOLLERR)) &&
          !(events[i].events & EPOLLIN)) {
        close_connection(fd);
      }
    }
  }
  drain_notices();
  report_faults();
  if (http_) {
    // MHD's timeouts and the streams' keepalives; before pump_all, which pumps the follow
    // streams the requests MHD handles here start.
    http_->run_due();
  }
  pump_all();
  sweep_followers();
  close_finished();
  const std::int64_t steady = steady_ms();
  if (read_done_) {
    finish_reload();
  }
  if (reload_at_ != 0 && steady >= reload_at_ && !reading_.joinable()) {
    start_reload();
  }
  check_clocks();
  handle_fires();
  dispatch();
  claim_queued();
  logs_->flush_zones();
  write_metrics_file();
  expire_slow_clients();
  if (watchdog_every_ > 0 && steady >= watchdog_next_) {
    notify_systemd("WATCHDOG=1");
    watchdog_next_ = steady + watchdog_every_;
  }
  if (!stopping_ && now_ms() >= next_maintenance_) {
    maintenance();
  }
  if (stopping_ && !interrupting_ && steady >= stop_deadline_) {
    interrupting_ = true;
    if (!running_.empty()) {
      logs_->daemon().warn("the grace period ended: interrupting {} execution{}", running_.size(),
                           running_.size() == 1 ? "" : "s");
    }
    for (auto& [id, x] : running_) {
      x->interrupted = true;
      x->cancel.cancel();
    }
  }
}

void Daemon::arm_timer() {
  std::optional<std::int64_t> next;
  const auto consider = [&](std::int64_t ms) { next = next ? std::min(*next, ms) : ms; };
  if (!stopping_) {
    if (const auto due = scheduler_.next_due()) {
      consider(*due * 1000);
    }
    if (!delayed_.empty()) {
      consider(delayed_.front().run_at_ms);
    }
    for (const auto& o : one_offs_) {
      consider(o.at * 1000);
    }
    for (const auto& [id, p] : paused_) {
      if (p.until_ms) {
        consider(*p.until_ms);
      }
    }
    consider(next_maintenance_);
  }
  // Always armed, so that a change of the wall clock (TFD_TIMER_CANCEL_ON_SET) wakes the loop.
  const std::int64_t at = next.value_or(now_ms() + 24LL * 60 * 60 * 1000);
  if (at == timer_armed_) {
    return;
  }
  itimerspec spec{};
  spec.it_value.tv_sec = std::max<std::int64_t>(at, 1) / 1000;
  spec.it_value.tv_nsec = std::max<std::int64_t>(at, 1) % 1000 * 1000000;
  if (timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &spec, nullptr) !=
      0) {
    logs_->daemon().error("timerfd_settime: {}", std::strerror(errno));
  }
  timer_armed_ = at;
}

int Daemon::poll_timeout_ms() {
  if (!pending_pumps_.empty()) {
    // A follower whose client took everything while pump_all ran (a bridge drains at once):
    // it reads on now, not at the next wake, which may never come.
    return 0;
  }
  const std::int64_t now = steady_ms();
  std::optional<std::int64_t> until;
  const auto consider = [&](std::int64_t at) {
    if (at > 0) {
      until = until ? std::min(*until, at) : at;
    }
  };
  if (!reading_.joinable()) {
    consider(reload_at_); // else the read's end wakes the loop (notice_fd_)
  }
  if (stopping_ && !interrupting_) {
    consider(stop_deadline_);
  }
  if (watchdog_every_ > 0) {
    consider(watchdog_next_);
  }
  if (const auto clients = next_client_deadline()) {
    consider(*clients);
  }
  if (!config_.metrics.textfile.empty() && metrics_.changed()) {
    consider(metrics_written_ + metrics_file_every_ms);
  }
  if (const auto http = http_ ? http_->deadline() : std::nullopt) {
    consider(*http);
  }
  if (!until) {
    return -1;
  }
  return static_cast<int>(std::clamp<std::int64_t>(*until - now, 0, 1 << 30));
}

void Daemon::on_signal() {
  signalfd_siginfo info{};
  while (::read(signal_fd_, &info, sizeof info) == sizeof info) {
    switch (info.ssi_signo) {
    case SIGTERM:
    case SIGINT:
      if (!stopping_) {
        stopping_ = true;
        stop_deadline_ = steady_ms() + config_.grace_period.count() * 1000;
        if (running_.empty()) {
          logs_->daemon().info("{}: stopping", sigabbrev_np(static_cast<int>(info.ssi_signo)));
        } else {
          logs_->daemon().info("{}: stopping; waiting up to {} for {} running execution{}",
                               sigabbrev_np(static_cast<int>(info.ssi_signo)),
                               base::format_duration(config_.grace_period.count()), running_.size(),
                               running_.size() == 1 ? "" : "s");
        }
        notify_systemd("STOPPING=1");
        // What waits in the queues never starts: recorded as interrupted, fire and all.
        for (const auto& p : queues_.take_all()) {
          record_unstarted(p, "interrupted", "jobsd stopped before it started");
          forget_active(p.job->id, p.execution_id);
        }
        delayed_.clear();
      } else if (!interrupting_) {
        logs_->daemon().info("{} again: interrupting now",
                             sigabbrev_np(static_cast<int>(info.ssi_signo)));
        stop_deadline_ = 0;
      }
      break;
    case SIGHUP:
      logs_->daemon().info("SIGHUP: reloading");
      reload(false);
      if (http_) {
        if (auto reread = http_->reload_tls(); !reread) {
          logs_->daemon().error("http: {}", reread.error().message);
        }
      }
      break;
    case SIGCHLD:
      exec::reap_orphans();
      break;
    default:
      break;
    }
  }
}

void Daemon::report_faults() {
  for (const auto& note : store_->take_notes()) {
    if (note.problem) {
      metrics_.store_fault();
      logs_->daemon().error("{}", note.text);
    } else {
      logs_->daemon().info("{}", note.text);
    }
  }
  logs_->report_lost();
}

void Daemon::check_clocks() {
  const std::int64_t real = clock_ms(CLOCK_REALTIME);
  const std::int64_t boot = clock_ms(CLOCK_BOOTTIME);
  const std::int64_t mono = clock_ms(CLOCK_MONOTONIC);
  const std::int64_t real_boot = real - boot; // changes when the wall clock is set
  const std::int64_t boot_mono = boot - mono; // grows while the host is suspended
  if (clocks_known_) {
    const std::int64_t jumped = real_boot - last_real_boot_;
    const std::int64_t slept = boot_mono - last_boot_mono_;
    // In whole seconds, rounded: each offset is read from two clocks, a moment apart.
    const auto seconds = [](std::int64_t ms) { return base::format_duration((ms + 500) / 1000); };
    if (slept > jump_threshold_ms) {
      logs_->daemon().warn("the host was suspended for {}", seconds(slept));
      scheduler_.missed(Gap::suspended, (real - slept) / 1000, real / 1000);
    }
    if (jumped > jump_threshold_ms) {
      logs_->daemon().warn("the wall clock jumped forward by {}", seconds(jumped));
      scheduler_.missed(Gap::clock_jump, (real - jumped) / 1000, real / 1000);
    } else if (jumped < -jump_threshold_ms) {
      logs_->daemon().warn("the wall clock went back by {}; fires already handled do not run again",
                           seconds(-jumped));
    }
  }
  clocks_known_ = true;
  last_real_boot_ = real_boot;
  last_boot_mono_ = boot_mono;
}

void Daemon::handle_fires() {
  if (stopping_) {
    return;
  }
  const std::int64_t now = now_ms();
  std::vector<std::string> notes;
  const auto fires = scheduler_.take_due(now / 1000, &notes);
  for (const auto& note : notes) {
    logs_->daemon().warn("{}", note);
  }
  for (const auto& f : fires) {
    fire(f, now);
  }
  while (!delayed_.empty() && delayed_.front().run_at_ms <= now) {
    std::pop_heap(delayed_.begin(), delayed_.end(), later_run);
    const Fire f = std::move(delayed_.back());
    delayed_.pop_back();
    metrics_.fire_late(static_cast<double>(now - f.run_at_ms) / 1000);
    const auto job = jobs_.find(f.job->id);
    if (job == jobs_.end() || !job->second->enabled) {
      logs_->daemon().info("job {}: the fire of {} waited for its jitter; the job is gone or "
                           "disabled now",
                           f.job->id, tz::format_utc(f.instant));
      continue;
    }
    start_fire(job->second, f.instant, f.catchup ? "catchup" : "schedule", "");
  }
  if (std::any_of(one_offs_.begin(), one_offs_.end(),
                  [&](const OneOff& o) { return o.at * 1000 <= now; })) {
    std::vector<OneOff> due;
    std::erase_if(one_offs_, [&](const OneOff& o) {
      if (o.at * 1000 > now) {
        return false;
      }
      due.push_back(o);
      return true;
    });
    save_one_offs();
    for (const auto& o : due) {
      const auto job = jobs_.find(o.job_id);
      if (job == jobs_.end()) {
        logs_->daemon().warn("the run of job {} scheduled for {} by {} did not start: the job is "
                             "gone",
                             o.job_id, tz::format_utc(o.at), o.user);
        continue;
      }
      // A run asked for is not a fire of the schedule: it claims no fire (that instant may be
      // one of the job's own).
      std::string which;
      std::string skip = paused_reason(o.job_id, o.at * 1000);
      const bool busy = active(o.job_id, &which);
      if (skip.empty() && busy && job->second->concurrency == jobs::Concurrency::forbid) {
        skip = "concurrency: forbid: execution " + which + " is still running";
      }
      if (!skip.empty()) {
        Pending p;
        p.execution_id = engine::new_execution_id();
        p.job = job->second;
        p.scheduled = o.at;
        p.trigger = "manual";
        p.triggered_by = o.user;
        record_unstarted(p, "skipped", skip);
        continue;
      }
      if (busy && job->second->concurrency == jobs::Concurrency::replace) {
        replace(*job->second, "replaced by the run scheduled for " + tz::format_utc(o.at));
      }
      enqueue(job->second, o.at, "manual", o.user, false);
    }
  }
  // After the fires: those due before a pause's end were skipped for it.
  end_pauses(now);
}

std::string Daemon::paused_reason(const std::string& job_id, std::int64_t at_ms) const {
  const auto it = paused_.find(job_id);
  if (it == paused_.end() || (it->second.until_ms && at_ms >= *it->second.until_ms)) {
    return {};
  }
  const auto& p = it->second;
  return "paused by " + p.user +
         (p.until_ms ? " until " + tz::format_utc(*p.until_ms / 1000) : std::string()) +
         (p.reason.empty() ? "" : ": " + p.reason);
}

void Daemon::end_pauses(std::int64_t now) {
  for (auto it = paused_.begin(); it != paused_.end();) {
    if (!it->second.until_ms || *it->second.until_ms > now) {
      ++it;
      continue;
    }
    if (auto r = store_->resume_job(it->first); !r) {
      logs_->daemon().error("{}", r.error().message);
    }
    logs_->daemon().info("job {}: paused until {}: resumed", it->first,
                         tz::format_utc(*it->second.until_ms / 1000));
    it = paused_.erase(it);
  }
}

void Daemon::fire(const Fire& f, std::int64_t now) {
  const auto& job = *f.job;
  if (!f.skip.empty()) {
    skip_fire(job, f.instant, f.skip);
    return;
  }
  if (f.run_at_ms > now) {
    delayed_.push_back(f);
    std::push_heap(delayed_.begin(), delayed_.end(), later_run);
    return;
  }
  if (!f.catchup) {
    metrics_.fire_late(static_cast<double>(now - f.run_at_ms) / 1000);
  }
  start_fire(f.job, f.instant, f.catchup ? "catchup" : "schedule", "");
}

bool Daemon::active(const std::string& job_id, std::string* which) const {
  const auto it = active_.find(job_id);
  if (it == active_.end() || it->second.empty()) {
    return false;
  }
  if (which != nullptr) {
    *which = *it->second.begin();
  }
  return true;
}

void Daemon::forget_active(const std::string& job_id, const std::string& execution_id) {
  const auto it = active_.find(job_id);
  if (it != active_.end()) {
    it->second.erase(execution_id);
    if (it->second.empty()) {
      active_.erase(it);
    }
  }
}

void Daemon::start_fire(const JobPtr& job, std::int64_t instant, const std::string& trigger,
                        const std::string& by) {
  std::string which;
  std::string reason = paused_reason(job->id, instant * 1000);
  const bool busy = active(job->id, &which);
  if (reason.empty() && busy && job->concurrency == jobs::Concurrency::forbid) {
    reason = "concurrency: forbid: execution " + which + " is still " +
             (running_.count(which) ? "running" : "queued");
  }
  if (!reason.empty()) {
    skip_fire(*job, instant, reason);
    logs_->daemon().info("job {}: fire of {} skipped: {}", job->id, tz::format_utc(instant),
                         reason);
    return;
  }
  if (busy && job->concurrency == jobs::Concurrency::replace) {
    replace(*job, "replaced by the fire of " + tz::format_utc(instant));
  }
  enqueue(job, instant, trigger, by);
}

void Daemon::skip_fire(const jobs::JobDefinition& job, std::int64_t instant,
                       const std::string& reason) {
  if (auto r = store_->record_skipped_fire(job.id, instant * 1000, reason); !r) {
    logs_->daemon().error("{}", r.error().message);
  }
  metrics_.fire_not_run(job.id, store::missed_reason(reason));
  if (job.zone) {
    logs_->zone(*job.zone, instant, "skip " + job.id + ": " + reason);
  }
}

void Daemon::replace(const jobs::JobDefinition& job, const std::string& reason) {
  for (auto& p : queues_.remove_job(job.id)) {
    record_unstarted(p, "cancelled", reason + " before it started");
    forget_active(job.id, p.execution_id);
  }
  for (auto& [id, x] : running_) {
    if (x->pending.job->id == job.id) {
      cancel_execution(*x, reason);
    }
  }
}

std::string Daemon::enqueue(const JobPtr& job, std::optional<std::int64_t> instant,
                            const std::string& trigger, const std::string& by, bool claim) {
  const std::string id = engine::new_execution_id();
  if (instant && claim) {
    // Claimed as it begins, in the same transaction (one wait for the disk before it starts),
    // or by claim_queued() if it has to wait in its queue.
    unclaimed_.push_back(id);
  }
  Pending p;
  p.execution_id = id;
  p.job = job;
  p.scheduled = instant;
  p.trigger = trigger;
  p.triggered_by = by;
  p.queued_ms = now_ms();
  p.claimed = !claim; // nothing to claim: the recorder just begins it
  active_[job->id].insert(id);
  metrics_.note_change();
  if (job->zone) {
    logs_->zone(*job->zone, p.queued_ms / 1000,
                "queue " + job->id + " " + id + " (" + trigger + (by.empty() ? "" : " by " + by) +
                    (instant ? ", fire of " + tz::format_utc(*instant) : std::string()) + ")");
  }
  queues_.push(std::move(p));
  return id;
}

void Daemon::claim_queued() {
  std::vector<store::FireClaim> claims;
  for (const auto& id : unclaimed_) {
    if (const Pending* p = queues_.find(id)) {
      claims.push_back({p->job->id, *p->scheduled * 1000, id});
    }
  }
  unclaimed_.clear();
  if (claims.empty()) {
    return;
  }
  auto claimed = store_->claim_fires(claims);
  if (!claimed) {
    // The history is failing (a full disk, a lock): the jobs run all the same, and say so.
    logs_->daemon().error("{}; running them anyway", claimed.error().message);
  }
  for (size_t i = 0; i < claims.size(); ++i) {
    Pending* p = queues_.find(claims[i].execution_id);
    if (!claimed || (*claimed)[i]) {
      p->claimed = true;
      continue;
    }
    logs_->daemon().warn("job {}: the fire of {} ran already; not run again", claims[i].job_id,
                         tz::format_utc(claims[i].scheduled_ms / 1000));
    forget_active(claims[i].job_id, claims[i].execution_id);
    queues_.remove(claims[i].execution_id);
  }
}

void Daemon::record_unstarted(const Pending& p, const std::string& status,
                              const std::string& reason) {
  store::ExecutionRecord e;
  e.execution_id = p.execution_id;
  e.job_id = p.job->id;
  e.job_name = p.job->name;
  e.status = "running";
  e.timezone = zone_of(*p.job);
  e.trigger = p.trigger;
  e.triggered_by = p.triggered_by;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  e.host = host;
  if (p.scheduled) {
    e.scheduled_ms = *p.scheduled * 1000;
  }
  e.start_ms = now_ms();
  auto begun = store_->begin_execution(e);
  e.status = status;
  e.end_ms = e.start_ms;
  e.error_message = reason;
  if (auto done = begun ? store_->finish_execution(e) : begun; !done) {
    logs_->daemon().error("{}", done.error().message);
  }
  metrics_.execution_ended(p.job->id, status, std::nullopt, *e.end_ms);
  if (p.job->zone) {
    logs_->zone(*p.job->zone, e.start_ms / 1000,
                "end " + p.job->id + " " + p.execution_id + " " + status + ": " + reason);
  }
  // Those waiting for it (trigger --wait) get its record now.
  const ipc::Json record = execution_json(p.execution_id);
  std::erase_if(followers_, [&](const Follower& f) {
    if (f.execution_id != p.execution_id) {
      return false;
    }
    if (Connection* c = client(f)) {
      send(*c, ipc::reply(f.request_id, record));
    }
    return true;
  });
}

void Daemon::dispatch() {
  while (!stopping_) {
    auto p = queues_.pop([&](const Pending& q) {
      if (q.job->concurrency != jobs::Concurrency::replace) {
        return true;
      }
      // A replaced execution is still ending: the new one waits for it.
      const auto it = active_.find(q.job->id);
      return it == active_.end() ||
             std::none_of(it->second.begin(), it->second.end(),
                          [&](const std::string& id) { return running_.count(id) > 0; });
    });
    if (!p) {
      return;
    }
    const std::string id = p->execution_id;
    auto x = std::make_unique<Execution>();
    x->pending = std::move(*p);
    // Read here: a reload may change the secrets while the execution's thread starts.
    x->secrets = engine::secrets_for(*x->pending.job, secrets_);
    x->integrations = config_.integrations;
    x->integrations.secrets = secrets_;
    x->started_ms = now_ms();
    x->attempt_id = id;
    Execution& ref = *x;
    running_[id] = std::move(x);
    attempts_[id] = id;
    metrics_.note_change();
    // Those who follow the job (logs -f JOB) follow this execution now.
    for (auto& f : followers_) {
      if (f.job_wide && f.execution_id.empty() && f.job_id == ref.pending.job->id) {
        f.execution_id = id;
        f.log_path.clear();
        f.offset = 0;
        if (Connection* c = client(f)) {
          send(*c, ipc::event(f.request_id, {{"execution_start", {{"execution_id", id}}}}));
        }
      }
      ref.watched = ref.watched || (f.execution_id == id && f.send_log);
    }
    try {
      ref.thread = std::thread([this, &ref] { work(ref); });
    } catch (const std::system_error& e) {
      logs_->daemon().error("job {}: cannot start a thread for execution {}: {}",
                            ref.pending.job->id, id, e.what());
      record_unstarted(ref.pending, "failed", std::string("cannot start: ") + e.what());
      std::lock_guard lock(ref.mutex);
      ref.results.clear();
      post({Notice::Kind::done, id});
    }
  }
}

void Daemon::work(Execution& x) {
  const jobs::JobDefinition& job = *x.pending.job;
  engine::RunOptions o;
  o.execution_id = x.pending.execution_id;
  o.trigger = x.pending.trigger;
  o.triggered_by = x.pending.triggered_by;
  o.scheduled_time = x.pending.scheduled;
  o.environment = environment_;
  o.secrets = x.secrets;
  o.integrations = &x.integrations;
  o.kill_grace = config_.kill_grace;
  o.cancel = &x.cancel;
  engine::Recorder recorder(store_.get(), state_, nullptr, [this](const std::string& message) {
    logs_->daemon().warn("{}", message);
  });
  recorder.set_jsonl_rotation(config_.logs.max_size, config_.logs.max_files);
  recorder.claim_fires(x.pending.scheduled && !x.pending.claimed);
  Live live(*this, x, recorder);
  std::vector<engine::JobResult> results;
  try {
    results = engine::run_with_retries(job, o, live);
  } catch (const std::exception& e) {
    // A bug: the execution fails, the daemon goes on.
    logs_->daemon().error("job {}: execution {}: internal error: {}", job.id, x.attempt_id,
                          e.what());
  }
  {
    std::lock_guard lock(x.mutex);
    x.results = std::move(results);
  }
  post({Notice::Kind::done, x.pending.execution_id});
}

void Daemon::post(Notice n) {
  {
    std::lock_guard lock(notices_mutex_);
    notices_.push_back(std::move(n));
  }
  const std::uint64_t one = 1;
  (void)::write(notice_fd_, &one, sizeof one);
}

void Daemon::drain_notices() {
  std::vector<Notice> notices;
  {
    std::lock_guard lock(notices_mutex_);
    notices.swap(notices_);
  }
  for (const auto& n : notices) {
    const auto it = running_.find(n.execution_id);
    if (it == running_.end()) {
      continue;
    }
    switch (n.kind) {
    case Notice::Kind::attempt: {
      std::lock_guard lock(it->second->mutex);
      attempts_[it->second->attempt_id] = n.execution_id;
      break;
    }
    case Notice::Kind::log:
      it->second->log_noticed = false;
      pump_followers(n.execution_id, false);
      break;
    case Notice::Kind::done:
      finished(n.execution_id);
      break;
    }
  }
}

void Daemon::finished(const std::string& execution_id) {
  const auto it = running_.find(execution_id);
  Execution& x = *it->second;
  if (x.thread.joinable()) {
    x.thread.join();
  }
  const JobPtr job = x.pending.job;
  queues_.finished(zone_of(*job));
  forget_active(job->id, execution_id);
  std::optional<engine::JobResult> last;
  if (x.duplicate) {
    logs_->daemon().warn("job {}: the fire of {} ran already; not run again", job->id,
                         tz::format_utc(x.pending.scheduled.value_or(0)));
  } else if (!x.results.empty()) {
    last = x.results.back();
  }
  if (last) {
    // As recorded: cancelled by the shutdown is interrupted (see Live).
    const std::string status = x.interrupted && last->status == engine::Status::cancelled
                                   ? "interrupted"
                                   : engine::to_string(last->status);
    logs_->daemon().info("job {}: execution {} {} in {}", job->id, last->execution_id, status,
                         duration_text(last->duration_seconds()));
    metrics_.execution_ended(
        job->id, status, last->duration_seconds(),
        std::chrono::duration_cast<std::chrono::milliseconds>(last->end.time_since_epoch())
            .count());
    if (job->zone) {
      logs_->zone(*job->zone, now_ms() / 1000,
                  "end " + job->id + " " + last->execution_id + " " + status + " in " +
                      duration_text(last->duration_seconds()) +
                      (last->error_message.empty() ? "" : ": " + last->error_message));
    }
  }
  pump_followers(execution_id, true);
  for (auto a = attempts_.begin(); a != attempts_.end();) {
    a = a->second == execution_id ? attempts_.erase(a) : std::next(a);
  }
  running_.erase(it);
  metrics_.note_change(); // jobs_running
  if (last && last->status == engine::Status::success && !stopping_) {
    run_after(job->id);
  }
}

void Daemon::run_after(const std::string& upstream) {
  const auto it = downstream_.find(upstream);
  if (it == downstream_.end()) {
    return;
  }
  for (const auto& id : it->second) {
    const auto job = jobs_.find(id);
    if (job == jobs_.end() || !job->second->enabled) {
      continue;
    }
    // With several upstream jobs, the job runs once each of them has succeeded.
    auto& done = upstream_done_[id];
    done.insert(upstream);
    const auto& after = job->second->after;
    if (!std::all_of(after.begin(), after.end(),
                     [&](const std::string& up) { return done.count(up) > 0; })) {
      continue;
    }
    done.clear();
    if (const std::string paused = paused_reason(id, now_ms()); !paused.empty()) {
      logs_->daemon().info("job {}: not run after {}: {}", id, upstream, paused);
      continue;
    }
    std::string which;
    if (active(id, &which)) {
      if (job->second->concurrency == jobs::Concurrency::forbid) {
        logs_->daemon().info("job {}: not run after {}: concurrency: forbid: execution {} is "
                             "still running",
                             id, upstream, which);
        continue;
      }
      if (job->second->concurrency == jobs::Concurrency::replace) {
        replace(*job->second, "replaced by a run after " + upstream);
      }
    }
    enqueue(job->second, std::nullopt, "after", upstream);
  }
}

void Daemon::run_reboot_jobs() {
  // One instant per boot stands for its @reboot fires: the first start of jobsd in this boot
  // writes it down, later starts in the same boot read it, and the store's unique key on
  // (job, instant) lets each job's @reboot run once.
  const std::string path = config_.state_dir + "/boot";
  const std::string id = boot_id();
  std::string known_id;
  std::int64_t instant = 0;
  {
    std::ifstream in(path);
    in >> known_id >> instant;
  }
  if (id.empty() || known_id != id || instant <= 0) {
    instant = now_ms() / 1000;
    if (auto w = jobs::write_file_atomically(path, id + " " + std::to_string(instant) + "\n"); !w) {
      logs_->daemon().error("{}", w.error().message);
    }
  }
  for (const auto& [job_id, job] : jobs_) {
    const bool reboot = std::any_of(job->schedule.compiled.begin(), job->schedule.compiled.end(),
                                    [](const cron::Schedule& s) { return s.is_reboot(); });
    if (reboot && job->enabled) {
      logs_->daemon().info("job {}: @reboot", job_id);
      start_fire(job, instant, "schedule", "");
    }
  }
}

void Daemon::maintenance() {
  const std::int64_t now = now_ms();
  next_maintenance_ = now + maintenance_every_ms;
  store::Retention r;
  r.max_per_job = config_.max_per_job;
  r.max_age_ms = config_.max_history_age * 1000;
  if (auto pruned = store_->prune(r, now); !pruned) {
    logs_->daemon().error("{}", pruned.error().message);
  } else if (*pruned > 0) {
    logs_->daemon().info("retention: {} old execution{} deleted from the history", *pruned,
                         *pruned == 1 ? "" : "s");
  }
  if (const int removed = logs_->prune(now / 1000, state_.log_dir()); removed > 0) {
    logs_->daemon().info("retention: {} old log file{} deleted", removed, removed == 1 ? "" : "s");
  }
}

void Daemon::cancel_execution(Execution& x, const std::string& reason) {
  {
    std::lock_guard lock(x.mutex);
    x.cancel_reason = reason;
  }
  x.cancel.cancel();
}

void Daemon::write_metrics_file(bool now) {
  const std::string& path = config_.metrics.textfile;
  const std::int64_t steady = steady_ms();
  if (path.empty() || !metrics_.changed() ||
      (!now && steady < metrics_written_ + metrics_file_every_ms)) {
    return;
  }
  metrics_written_ = steady;
  // 0644: node_exporter runs as a user of its own. Never through a link planted there.
  const auto written = jobs::write_file_atomically(path, metrics_text(), 0644);
  const std::string error = written ? "" : written.error().place() + written.error().message;
  // A failed write is tried again 15 s later (a full disk passes); it is told once.
  if (written) {
    metrics_.clear_changed();
    if (!metrics_file_error_.empty()) {
      logs_->daemon().info("metrics.textfile {} is written again", path);
    }
  } else if (error != metrics_file_error_) {
    logs_->daemon().error("metrics.textfile: {} (tried again every {}s; told again once it "
                          "works)",
                          error, metrics_file_every_ms / 1000);
  }
  metrics_file_error_ = error;
}

void Daemon::save_one_offs() {
  ipc::Json list = ipc::Json::array();
  for (const auto& o : one_offs_) {
    list.push_back({{"job", o.job_id}, {"at", o.at}, {"user", o.user}});
  }
  if (auto w =
          jobs::write_file_atomically(config_.state_dir + "/scheduled.json", list.dump(2) + "\n");
      !w) {
    logs_->daemon().error("{}", w.error().message);
  }
}

void Daemon::load_one_offs() {
  std::ifstream in(config_.state_dir + "/scheduled.json");
  if (!in) {
    return;
  }
  const ipc::Json list = ipc::Json::parse(in, nullptr, false);
  if (!list.is_array()) {
    logs_->daemon().error("{}/scheduled.json is not a JSON list; the runs it held are lost",
                          config_.state_dir);
    return;
  }
  for (const auto& item : list) {
    if (item.is_object() && item.value("job", ipc::Json()).is_string() &&
        item.value("at", ipc::Json()).is_number_integer()) {
      one_offs_.push_back({item["job"].get<std::string>(), item["at"].get<std::int64_t>(),
                           item.value("user", std::string())});
    }
  }
}

} // namespace jobsd
