#include <base/redact.hpp>
#include <exec/cgroup.hpp>
#include <exec/process.hpp>
#include <exec/shim.hpp>
#include <exec/tree.hpp>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>

namespace exec {

namespace {

// The children run_process waits for itself; reap_orphans leaves them alone.
std::mutex children_mutex;
std::set<pid_t> children;

// The cgroup under which each step gets its own (contain_steps); empty: the token is used.
std::string steps_cgroup;

// The umask the steps start with when it is not the runner's own (set_step_umask).
std::optional<mode_t> step_umask;

// How long a step's end waits for its killed processes to be gone (only one in uninterruptible
// sleep takes longer).
constexpr std::chrono::seconds cgroup_kill_wait{10};

class Fd {
public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    reset(std::exchange(o.fd_, -1));
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = fd;
  }

private:
  int fd_ = -1;
};

std::string system_error(const std::string& what, int err) {
  return what + ": " + std::strerror(err);
}

// A token no other step of any runner shares: the runner's pid, a counter and random bits.
std::string new_token() {
  static std::atomic<unsigned> counter{0};
  static const unsigned long long salt = std::random_device{}();
  std::ostringstream out;
  out << std::hex << getpid() << "-" << counter.fetch_add(1) << "-" << salt;
  return out.str();
}

// Splits a stream into lines for the sink.
class LineSplitter {
public:
  LineSplitter(Stream stream, const LineSink& sink) : stream_(stream), sink_(sink) {}

  void feed(std::string_view data) {
    if (!sink_) {
      return;
    }
    while (!data.empty()) {
      const size_t nl = data.find('\n');
      if (nl == std::string_view::npos) {
        // A line longer than max_line goes in pieces of max_line, straight from the read buffer
        // when nothing waits before it.
        while (partial_.empty() && data.size() >= max_line) {
          sink_(stream_, data.substr(0, max_line));
          data.remove_prefix(max_line);
        }
        partial_.append(data);
        if (partial_.size() >= max_line) {
          sink_(stream_, partial_);
          partial_.clear();
        }
        return;
      }
      if (partial_.empty()) {
        sink_(stream_, data.substr(0, nl));
      } else {
        partial_.append(data.substr(0, nl));
        sink_(stream_, partial_);
        partial_.clear();
      }
      data.remove_prefix(nl + 1);
    }
  }

  void finish() {
    if (sink_ && !partial_.empty()) {
      sink_(stream_, partial_);
      partial_.clear();
    }
  }

private:
  static constexpr size_t max_line = 64 * 1024;
  Stream stream_;
  const LineSink& sink_;
  std::string partial_;
};

// Removes a step's cgroup, with whatever is left in it, however run_process returns.
struct CgroupRemover {
  const std::string& folder;
  ~CgroupRemover() {
    if (!folder.empty()) {
      (void)cgroup::kill_and_remove(folder, cgroup_kill_wait);
    }
  }
};

struct StartFailure {
  int stage; // 0 chdir, 1 limits, 2 user, 3 exec, 4 cgroup, 5 shim
  int error;
};

struct User {
  uid_t uid;
  gid_t gid;
  std::vector<gid_t> groups;
};

std::optional<User> find_user(const std::string& name, std::string& error) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (getpwnam_r(name.c_str(), &pw, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr) {
    error = "run_as: no user \"" + name + "\" on this machine";
    return std::nullopt;
  }
  User user{pw.pw_uid, pw.pw_gid, {}};
  int count = 64;
  user.groups.resize(static_cast<size_t>(count));
  if (getgrouplist(name.c_str(), pw.pw_gid, user.groups.data(), &count) < 0) {
    user.groups.resize(static_cast<size_t>(count));
    getgrouplist(name.c_str(), pw.pw_gid, user.groups.data(), &count);
  }
  user.groups.resize(static_cast<size_t>(count));
  if (geteuid() != 0 && user.uid != geteuid()) {
    error = "run_as: switching to user \"" + name + "\" needs the runner to be root";
    return std::nullopt;
  }
  return user;
}

// Marks every descriptor from 3 up close-on-exec: the runner's own (its logs, the store, the
// socket, inherited ones) must not reach a step, least of all one running as another user. The
// report pipe stays usable until exec. Falls back to one fcntl per descriptor before Linux 5.11.
void close_on_exec_from_3() {
  if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) {
    return;
  }
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  const int max = r.rlim_cur == RLIM_INFINITY ? 65536 : static_cast<int>(r.rlim_cur);
  for (int fd = 3; fd < max; ++fd) {
    fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
}

// In the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void child(const ProcessSpec& spec, const std::string& program,
                        const std::vector<char*>& argv, const std::vector<char*>& envp,
                        const std::optional<User>& user, int in, int out, int err, int report,
                        int cgroup_procs) {
  const auto fail = [&](int stage) {
    const StartFailure f{stage, errno};
    [[maybe_unused]] const ssize_t n = ::write(report, &f, sizeof f);
    _exit(127);
  };
  // Into the step's cgroup first: everything it will start is born there.
  if (cgroup_procs >= 0 && ::write(cgroup_procs, "0", 1) != 1) {
    fail(4);
  }
  if (step_umask) {
    umask(*step_umask);
  }
  setpgid(0, 0);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    sigaction(sig, &dfl, nullptr);
  }
  dup2(in, 0);
  dup2(out, 1);
  dup2(err, 2);
  close_on_exec_from_3();
  if (!spec.working_directory.empty() && chdir(spec.working_directory.c_str()) != 0) {
    fail(0);
  }
  const auto limit = [&](int resource, std::optional<std::int64_t> value) {
    if (value) {
      const rlimit r{static_cast<rlim_t>(*value), static_cast<rlim_t>(*value)};
      if (setrlimit(resource, &r) != 0) {
        fail(1);
      }
    }
  };
  limit(RLIMIT_AS, spec.limits.memory);
  limit(RLIMIT_CPU, spec.limits.cpu_time);
  limit(RLIMIT_NOFILE, spec.limits.open_files);
  limit(RLIMIT_NPROC, spec.limits.processes);
  if (user) {
    if (setgroups(user->groups.size(), user->groups.data()) != 0 || setgid(user->gid) != 0 ||
        setuid(user->uid) != 0) {
      fail(2);
    }
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(program.c_str(), argv.data(), envp.data());
  fail(3);
  _exit(127);
}

// What the first process of a step without a cgroup needs to become its shim (exec/shim.hpp),
// made before fork.
struct ShimStart {
  int program;             // exec::shim_program()
  std::vector<char*> argv; // "jobs-step-shim", the step's pid, the runner's pid
  std::vector<char*> envp; // the step's JOBS_STEP_TOKEN: the next runner finds it after a crash
  char* step_pid;          // argv[1]: room for the pid, written between fork and exec
  int done;                // where the shim says how many processes it killed (its descriptor 3)
};

// In the child between fork and exec, async-signal-safe calls only: makes itself the child
// subreaper of the step, signalled when the runner's forking thread dies, starts the step (as its
// own child, through child()) and becomes the shim. PR_SET_PDEATHSIG and the subreaper survive
// the exec; a signal that comes before it waits, blocked, for the shim.
[[noreturn]] void shim_then_child(ShimStart& shim, const ProcessSpec& spec,
                                  const std::string& program, const std::vector<char*>& argv,
                                  const std::vector<char*>& envp, const std::optional<User>& user,
                                  int in, int out, int err, int report) {
  const auto fail = [&](pid_t step) {
    const StartFailure f{5, errno};
    if (step > 0) {
      ::kill(step, SIGKILL);
    }
    [[maybe_unused]] const ssize_t n = ::write(report, &f, sizeof f);
    _exit(127);
  };
  setpgid(0, 0);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  prctl(PR_SET_PDEATHSIG, shim_kill_signal);
  const pid_t step = _Fork();
  if (step == 0) {
    child(spec, program, argv, envp, user, in, out, err, report, -1);
  }
  if (step < 0) {
    fail(step);
  }
  char* end = shim.step_pid;
  for (pid_t rest = step; rest > 0; rest /= 10) {
    ++end;
  }
  *end = '\0';
  for (pid_t rest = step; rest > 0; rest /= 10) {
    *--end = static_cast<char>('0' + rest % 10);
  }
  close_on_exec_from_3();
  if ((shim.done == 3 ? fcntl(3, F_SETFD, 0) : dup2(shim.done, 3)) < 0) {
    fail(step);
  }
  fexecve(shim.program, shim.argv.data(), shim.envp.data());
  fail(step);
  _exit(127);
}

std::int64_t remaining_ms(std::chrono::steady_clock::time_point until) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      until - std::chrono::steady_clock::now());
  return std::max<std::int64_t>(0, left.count() + 1);
}

} // namespace

CancelToken::CancelToken() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

CancelToken::~CancelToken() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

void CancelToken::cancel() {
  cancelled_.store(true);
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(fd_, &one, sizeof one);
}

void BoundedBuffer::append(std::string_view data) {
  total_ += data.size();
  const std::uint64_t head_limit = limit_ / 2;
  if (head_.size() < head_limit) {
    const size_t take = std::min<size_t>(data.size(), head_limit - head_.size());
    head_.append(data.substr(0, take));
    data.remove_prefix(take);
  }
  const size_t tail_limit = limit_ - head_limit;
  if (data.empty() || tail_limit == 0) {
    return;
  }
  if (data.size() >= tail_limit) {
    tail_.assign(data.substr(data.size() - tail_limit));
    tail_start_ = 0;
    return;
  }
  // Filled up to the limit, then a ring: each byte is copied once.
  if (tail_.size() < tail_limit) {
    const size_t take = std::min(data.size(), tail_limit - tail_.size());
    tail_.append(data.substr(0, take));
    data.remove_prefix(take);
  }
  while (!data.empty()) {
    const size_t take = std::min(data.size(), tail_limit - tail_start_);
    data.copy(tail_.data() + tail_start_, take);
    tail_start_ = (tail_start_ + take) % tail_limit;
    data.remove_prefix(take);
  }
}

std::string BoundedBuffer::text() const {
  if (total_ <= limit_) {
    return head_ + tail_;
  }
  const std::string_view ring = tail_;
  const std::uint64_t left_out = total_ - head_.size() - tail_.size();
  return head_ + "\n[... " + std::to_string(left_out) + " bytes not kept ...]\n" +
         std::string(ring.substr(tail_start_)) + std::string(ring.substr(0, tail_start_));
}

std::string find_program(const std::string& name, const std::string& path) {
  if (name.find('/') != std::string::npos) {
    return name;
  }
  size_t start = 0;
  while (start <= path.size()) {
    const size_t end = std::min(path.find(':', start), path.size());
    const std::string dir = end == start ? "." : path.substr(start, end - start);
    const std::string candidate = dir + "/" + name;
    struct stat st {};
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return {};
}

void set_step_umask(mode_t mask) {
  const mode_t own = umask(0);
  umask(own);
  step_umask = mask == own ? std::nullopt : std::optional<mode_t>(mask);
}

Containment contain_steps(const std::string& name) {
  Containment c;
  const auto shim_because = [&](const std::string& why) {
    c.description = "a subreaper shim per step (no cgroup: " + why + ")";
    return c;
  };
  const auto own = cgroup::own_folder();
  if (!own) {
    return shim_because(own.error().message);
  }
  const std::string tree = *own + "/" + name;
  const auto killed = cgroup::kill_and_remove(tree, cgroup_kill_wait);
  if (!killed) {
    return shim_because(killed.error().message);
  }
  if (::mkdir(tree.c_str(), 0755) != 0) {
    return shim_because(system_error("cannot make " + tree, errno));
  }
  if (::access((tree + "/cgroup.kill").c_str(), W_OK) != 0) {
    ::rmdir(tree.c_str());
    return shim_because(system_error(tree + "/cgroup.kill (Linux 5.14 and later)", errno));
  }
  steps_cgroup = tree;
  c.kind = Containment::Kind::cgroup;
  c.description = "cgroup v2 " + tree;
  c.killed = *killed;
  return c;
}

int release_steps() {
  const std::string tree = std::exchange(steps_cgroup, {});
  if (tree.empty()) {
    return 0;
  }
  const auto killed = cgroup::kill_and_remove(tree, cgroup_kill_wait);
  return killed ? *killed : 0;
}

void become_subreaper() {
  prctl(PR_SET_CHILD_SUBREAPER, 1);
}

int reap_orphans() {
  int reaped = 0;
  for (pid_t pid : children_of(getpid())) {
    // Under the lock: a child run_process is starting is in `children` before it can exit.
    std::lock_guard lock(children_mutex);
    if (!children.count(pid) && waitpid(pid, nullptr, WNOHANG) == pid) {
      ++reaped;
    }
  }
  return reaped;
}

ProcessResult run_process(const ProcessSpec& spec, const LineSink& sink, CancelToken* cancel) {
  static const bool sigpipe_ignored = [] {
    // Writing to a step whose standard input closed must fail with EPIPE, not end the runner.
    std::signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)sigpipe_ignored;

  ProcessResult result;
  result.start = std::chrono::system_clock::now();
  const auto finish_early = [&](std::string error) {
    result.start_error = std::move(error);
    result.end = std::chrono::system_clock::now();
    return result;
  };
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return finish_early("no program to run");
  }

  std::string path = "/usr/local/bin:/usr/bin:/bin";
  if (const char* own = std::getenv("PATH")) {
    path = own;
  }
  for (const auto& [k, v] : spec.env) {
    if (k == "PATH") {
      path = v;
    }
  }
  const std::string program = find_program(spec.argv[0], path);
  if (program.empty()) {
    return finish_early(spec.argv[0] + " not found in PATH");
  }
  std::optional<User> user;
  if (!spec.run_as.empty()) {
    std::string error;
    user = find_user(spec.run_as, error);
    if (!user) {
      return finish_early(error);
    }
  }

  // Everything the child needs, built before fork. The token names the step's cgroup, or marks
  // its shim and processes when there is none (the next runner finds them after a crash).
  const std::string token = new_token();
  const std::string cgroup = steps_cgroup.empty() ? "" : steps_cgroup + "/" + token;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : spec.env) {
    if (k != "JOBS_STEP_TOKEN") {
      env_strings.push_back(k + "=" + v);
    }
  }
  if (cgroup.empty()) {
    env_strings.push_back("JOBS_STEP_TOKEN=" + token);
  }
  std::vector<char*> envp;
  for (auto& s : env_strings) {
    envp.push_back(s.data());
  }
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = spec.argv;
  std::vector<char*> argv;
  for (auto& s : argv_strings) {
    argv.push_back(s.data());
  }
  argv.push_back(nullptr);

  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    return finish_early(system_error("cannot make a pipe", errno));
  }
  Fd out_read(p[0]), out_write(p[1]);
  if (pipe2(p, O_CLOEXEC) != 0) {
    return finish_early(system_error("cannot make a pipe", errno));
  }
  Fd err_read(p[0]), err_write(p[1]);
  Fd in_read, in_write;
  if (spec.input) {
    if (pipe2(p, O_CLOEXEC) != 0) {
      return finish_early(system_error("cannot make a pipe", errno));
    }
    in_read.reset(p[0]);
    in_write.reset(p[1]);
    fcntl(in_write.get(), F_SETFL, O_NONBLOCK);
  } else {
    in_read.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
  }
  if (pipe2(p, O_CLOEXEC) != 0) {
    return finish_early(system_error("cannot make a pipe", errno));
  }
  Fd report_read(p[0]), report_write(p[1]);

  const CgroupRemover remover{cgroup};
  Fd cgroup_procs;
  if (!cgroup.empty()) {
    if (::mkdir(cgroup.c_str(), 0755) != 0) {
      return finish_early(system_error("cannot make the step's cgroup " + cgroup, errno));
    }
    cgroup_procs.reset(::open((cgroup + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    if (!cgroup_procs) {
      return finish_early(system_error("cannot open " + cgroup + "/cgroup.procs", errno));
    }
  }

  // Without a cgroup the step runs under a shim (exec/shim.hpp) that holds its processes.
  std::optional<ShimStart> shim;
  std::string shim_strings[] = {"jobs-step-shim",
                                std::string(std::numeric_limits<pid_t>::digits10 + 1, '0'),
                                std::to_string(getpid()), "JOBS_STEP_TOKEN=" + token};
  Fd done_read, done_write;
  if (cgroup.empty()) {
    const auto shim_fd = shim_program();
    if (!shim_fd) {
      return finish_early(shim_fd.error().message);
    }
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
      return finish_early(system_error("cannot make a pipe", errno));
    }
    done_read.reset(p[0]);
    done_write.reset(p[1]);
    shim =
        ShimStart{*shim_fd,
                  {shim_strings[0].data(), shim_strings[1].data(), shim_strings[2].data(), nullptr},
                  {shim_strings[3].data(), nullptr},
                  shim_strings[1].data(),
                  done_write.get()};
  }

  // A working directory that is not there is said plainly, whichever way the child starts.
  if (!spec.working_directory.empty()) {
    struct stat st {};
    const int err = stat(spec.working_directory.c_str(), &st) != 0 ? errno
                    : S_ISDIR(st.st_mode)                          ? 0
                                                                   : ENOTDIR;
    if (err != 0) {
      return finish_early(system_error("working_directory " + spec.working_directory, err));
    }
  }
  const auto run_error = [&](int err) {
    std::string what = "cannot run " + program;
    if (err == ENOEXEC) {
      what += " (not an executable format; a script needs a #! line)";
    }
    return system_error(what, err);
  };

  pid_t pid = -1;
  {
    // A signal handler of the runner must not run in the child before it resets them.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int fork_error = 0;
    {
      // Known as ours before it can exit: reap_orphans() (another step's thread, or the
      // daemon's SIGCHLD) must never reap it. The child does not use the lock.
      std::lock_guard lock(children_mutex);
      pid = fork();
      if (pid == 0 && shim) {
        shim_then_child(*shim, spec, program, argv, envp, user, in_read.get(), out_write.get(),
                        err_write.get(), report_write.get());
      }
      if (pid == 0) {
        child(spec, program, argv, envp, user, in_read.get(), out_write.get(), err_write.get(),
              report_write.get(), cgroup_procs.get());
      }
      fork_error = errno;
      if (pid > 0) {
        children.insert(pid);
      }
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (pid < 0) {
      return finish_early(system_error("cannot start " + spec.argv[0], fork_error));
    }
    setpgid(pid, pid);
  }
  out_write.reset();
  err_write.reset();
  in_read.reset();
  report_write.reset();
  cgroup_procs.reset();
  done_write.reset();

  const auto forget_child = [&] {
    std::lock_guard lock(children_mutex);
    children.erase(pid);
  };
  {
    StartFailure failure{};
    ssize_t n;
    do {
      n = ::read(report_read.get(), &failure, sizeof failure);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof failure)) {
      waitpid(pid, nullptr, 0);
      forget_child();
      switch (failure.stage) {
      case 0:
        return finish_early(
            system_error("working_directory " + spec.working_directory, failure.error));
      case 1:
        return finish_early(system_error("limits", failure.error));
      case 2:
        return finish_early(system_error("run_as " + spec.run_as, failure.error));
      case 4:
        return finish_early(system_error("cannot enter the cgroup " + cgroup, failure.error));
      case 5:
        return finish_early(system_error("cannot start the step's shim", failure.error));
      default:
        return finish_early(run_error(failure.error));
      }
    }
  }

  // glibc 2.36 declares pidfd_open without C linkage for C++: call the system call itself.
  Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  BoundedBuffer out_buffer(spec.output_limit), err_buffer(spec.output_limit);
  LineSplitter out_lines(Stream::out, sink), err_lines(Stream::err, sink);
  base::Redactor out_redactor(spec.secrets), err_redactor(spec.secrets);
  const auto started = std::chrono::steady_clock::now();
  // When to send SIGTERM (the timeout) and SIGKILL (the grace period after it); `never`: not.
  const auto never = std::chrono::steady_clock::time_point::max();
  auto term_at = spec.timeout ? started + *spec.timeout : never;
  auto kill_at = never;
  size_t input_written = 0;
  bool exited = false;
  int status = 0;
  rusage usage{};
  // Not zeroed: a step that prints nothing (a daemon may run a thousand at once) costs no
  // resident memory for it.
  constexpr size_t buffer_size = 64 * 1024;
  const auto buffer = std::make_unique_for_overwrite<char[]>(buffer_size);

  const auto stop = [&](bool timed_out) {
    if (kill_at != never) {
      return;
    }
    (timed_out ? result.timed_out : result.cancelled) = true;
    if (shim) {
      ::kill(pid, SIGTERM); // the shim passes it on to every process of the step
    } else {
      cgroup::signal(cgroup, SIGTERM);
    }
    kill_at = std::chrono::steady_clock::now() + spec.kill_grace;
    term_at = never;
  };
  const auto reap = [&] {
    while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
    }
    exited = true;
    forget_child();
    // What the step left behind ends with it: the shim killed it before it ended, and says how
    // many it killed; the cgroup is killed whole.
    if (shim) {
      int killed = 0;
      if (::read(done_read.get(), &killed, sizeof killed) == static_cast<ssize_t>(sizeof killed)) {
        result.leftovers = killed;
      }
    } else if (const auto killed = cgroup::kill_and_remove(cgroup, cgroup_kill_wait)) {
      result.leftovers = *killed;
    }
  };

  fcntl(out_read.get(), F_SETFL, O_NONBLOCK);
  fcntl(err_read.get(), F_SETFL, O_NONBLOCK);
  // A stream that fills its pipe gets a pipe of 1 MiB, so that the step runs ahead of this loop
  // and each wake-up reads more (bench/run-exec, 1 GiB: 0.33 CPU s, not 0.52). Only loud streams:
  // the pages of pipes count against the user's pipe-user-pages-soft, past which new pipes get one
  // page. A refusal keeps the 64 KiB.
  bool out_grown = false, err_grown = false;
  std::vector<pollfd> fds;
  fds.reserve(5);
  while (out_read || err_read || !exited) {
    fds.clear();
    const auto watch = [&](const Fd& fd, short events) {
      if (fd) {
        fds.push_back({fd.get(), events, 0});
      }
    };
    watch(out_read, POLLIN);
    watch(err_read, POLLIN);
    watch(in_write, POLLOUT);
    if (!exited) {
      watch(pidfd, POLLIN);
    }
    if (cancel != nullptr && !result.cancelled && kill_at == never) {
      fds.push_back({cancel->fd(), POLLIN, 0});
    }
    std::int64_t wait = -1;
    if (std::min(term_at, kill_at) != never) {
      wait = remaining_ms(std::min(term_at, kill_at));
    }
    if (exited) {
      // Output of processes that escaped and closed over the pipes: a last second to drain.
      wait = 1000;
    }
    const int ready =
        poll(fds.data(), fds.size(),
             static_cast<int>(std::min<std::int64_t>(wait, std::numeric_limits<int>::max())));
    if (ready < 0 && errno != EINTR) {
      break;
    }
    const auto now = std::chrono::steady_clock::now();
    if (ready == 0 && exited) {
      break; // the drain second passed
    }
    for (const auto& f : fds) {
      if (f.revents == 0) {
        continue;
      }
      if (f.fd == out_read.get() || f.fd == err_read.get()) {
        // Read what the pipe holds (a few reads at most, so the other stream is not starved).
        const bool is_out = f.fd == out_read.get();
        for (int reads = 0; reads < 16; ++reads) {
          const ssize_t got = ::read(f.fd, buffer.get(), buffer_size);
          if (got == static_cast<ssize_t>(buffer_size) && !(is_out ? out_grown : err_grown)) {
            fcntl(f.fd, F_SETPIPE_SZ, 1 << 20);
            (is_out ? out_grown : err_grown) = true;
          }
          if (got > 0) {
            const std::string_view data = (is_out ? out_redactor : err_redactor)
                                              .feed({buffer.get(), static_cast<size_t>(got)});
            (is_out ? out_buffer : err_buffer).append(data);
            (is_out ? out_lines : err_lines).feed(data);
            continue;
          }
          if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
            (is_out ? out_read : err_read).reset();
          }
          if (got < 0 && errno == EINTR) {
            continue;
          }
          break;
        }
      } else if (f.fd == in_write.get()) {
        const std::string& input = *spec.input;
        const ssize_t put = ::write(f.fd, input.data() + input_written,
                                    std::min<size_t>(input.size() - input_written, 65536));
        if (put > 0) {
          input_written += static_cast<size_t>(put);
        }
        if (input_written == input.size() || (put < 0 && errno != EAGAIN && errno != EINTR)) {
          in_write.reset();
        }
      } else if (f.fd == pidfd.get()) {
        reap();
      } else if (cancel != nullptr && f.fd == cancel->fd()) {
        stop(false);
      }
    }
    if (spec.input && in_write && input_written == spec.input->size()) {
      in_write.reset();
    }
    if (exited) {
      term_at = kill_at = never;
    }
    if (now >= term_at) {
      stop(true);
    }
    if (now >= kill_at) {
      result.killed = true;
      if (shim) {
        ::kill(pid, shim_kill_signal);
      } else {
        cgroup::signal(cgroup, SIGKILL);
      }
      kill_at = never;
    }
  }
  if (!exited) {
    ::kill(shim ? pid : -pid, shim ? shim_kill_signal : SIGKILL);
    reap();
  }
  // The end of each stream: what its redactor held back, then its last line.
  const auto end_stream = [](base::Redactor& redactor, BoundedBuffer& kept, LineSplitter& lines) {
    const std::string_view rest = redactor.finish();
    kept.append(rest);
    lines.feed(rest);
    lines.finish();
  };
  end_stream(out_redactor, out_buffer, out_lines);
  end_stream(err_redactor, err_buffer, err_lines);
  reap_orphans();

  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  result.out = out_buffer.text();
  result.err = err_buffer.text();
  result.out_bytes = out_buffer.total();
  result.err_bytes = err_buffer.total();
  result.user_cpu = std::chrono::seconds(usage.ru_utime.tv_sec) +
                    std::chrono::microseconds(usage.ru_utime.tv_usec);
  result.system_cpu = std::chrono::seconds(usage.ru_stime.tv_sec) +
                      std::chrono::microseconds(usage.ru_stime.tv_usec);
  result.max_rss_kb = usage.ru_maxrss;
  result.end = std::chrono::system_clock::now();
  return result;
}

std::vector<std::pair<std::string, std::string>> user_environment(const std::string& name) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (getpwnam_r(name.c_str(), &pw, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr) {
    return {};
  }
  return {{"HOME", pw.pw_dir}, {"USER", pw.pw_name}, {"LOGNAME", pw.pw_name}};
}

} // namespace exec
