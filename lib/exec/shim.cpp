#include <exec/shim.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

namespace exec {

namespace {

bool available = false;

// How long a shim waits, at the step's end, for what it killed to be gone (as the cgroup's
// end does: only a process in uninterruptible sleep takes longer).
constexpr std::chrono::seconds end_wait{10};

// The state letter of /proc/PID/stat (R, S, Z...), 'X' when the process is gone.
char state_of(pid_t pid) {
  const int fd = ::open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return 'X';
  }
  char text[512];
  const ssize_t n = ::read(fd, text, sizeof text);
  ::close(fd);
  // pid (comm) state ...: comm may hold spaces and parentheses; it ends at the last ')'.
  const std::string_view stat(text, n > 0 ? static_cast<size_t>(n) : 0);
  const size_t close = stat.rfind(')');
  return close == std::string_view::npos || close + 2 >= stat.size() ? 'X' : stat[close + 2];
}

// Sends `sig` to every live descendant of `root`.
void signal_descendants(pid_t root, int sig) {
  std::vector<pid_t> todo{root};
  for (size_t i = 0; i < todo.size(); ++i) {
    for (pid_t child : children_of(todo[i])) {
      ::kill(child, sig);
      todo.push_back(child);
    }
  }
}

// Reaps every child that has ended; `status` gets the status of `step` when it is one of them.
// Returns false once there is no child left.
bool reap(pid_t step, int& status, bool& step_ended) {
  for (;;) {
    int s = 0;
    const pid_t pid = ::waitpid(-1, &s, WNOHANG);
    if (pid == step) {
      status = s;
      step_ended = true;
    }
    if (pid < 0 && errno == EINTR) {
      continue;
    }
    if (pid <= 0) {
      return !(pid < 0 && errno == ECHILD);
    }
  }
}

// Ends this process as the step ended: with its exit code, or killed by its signal.
[[noreturn]] void relay(int status) {
  if (WIFEXITED(status)) {
    _exit(WEXITSTATUS(status));
  }
  const int sig = WTERMSIG(status);
  // Not a core of the shim for a step that dumped one.
  const rlimit none{0, 0};
  setrlimit(RLIMIT_CORE, &none);
  std::signal(sig, SIG_DFL);
  sigset_t just;
  sigemptyset(&just);
  sigaddset(&just, sig);
  sigprocmask(SIG_UNBLOCK, &just, nullptr);
  raise(sig);
  _exit(128 + sig);
}

// The shim of the step `step` (its child), started by the runner `runner`: see shim.hpp. Writes
// how many processes it killed at the step's end to descriptor 3.
[[noreturn]] void shim(pid_t step, pid_t runner) {
  siginfo_t probe{};
  if (::waitid(P_PID, static_cast<id_t>(step), &probe, WEXITED | WNOHANG | WNOWAIT) != 0) {
    std::fprintf(stderr, "%s: process %d is not a child of this shim\n",
                 std::string(shim_argument).c_str(), static_cast<int>(step));
    _exit(2);
  }
  // Started with every signal blocked (run_process forks so): they are taken here one by one.
  sigset_t wanted;
  sigemptyset(&wanted);
  for (int sig : {SIGCHLD, SIGTERM, shim_kill_signal}) {
    sigaddset(&wanted, sig);
  }
  sigprocmask(SIG_BLOCK, &wanted, nullptr);
  const pid_t self = getpid();
  // The runner died before its death could signal this shim (PR_SET_PDEATHSIG).
  if (getppid() != runner) {
    kill_descendants(self);
  }
  int status = 0;
  bool ended = false;
  while (!ended) {
    const int sig = sigwaitinfo(&wanted, nullptr);
    if (sig == SIGTERM) {
      signal_descendants(self, SIGTERM);
    } else if (sig == shim_kill_signal) {
      kill_descendants(self);
    }
    if (!reap(step, status, ended)) {
      break; // no child left: the step was reaped by nobody else, so it has ended
    }
  }
  // What the step left: killed, and reaped as it comes back to this shim, for a bounded time.
  std::set<pid_t> left;
  const auto deadline = std::chrono::steady_clock::now() + end_wait;
  for (;;) {
    for (pid_t pid : kill_descendants(self)) {
      left.insert(pid);
    }
    if (!reap(step, status, ended)) {
      break;
    }
    const auto wait = deadline - std::chrono::steady_clock::now();
    if (wait <= std::chrono::steady_clock::duration::zero()) {
      break;
    }
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
    const timespec until{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    sigtimedwait(&wanted, nullptr, &until);
  }
  const int count = static_cast<int>(left.size());
  [[maybe_unused]] const ssize_t n = ::write(3, &count, sizeof count);
  relay(status);
}

} // namespace

void run_shim_if_asked(int argc, char** argv) {
  if (argc < 2 || argv[1] != shim_argument) {
    available = true;
    return;
  }
  const auto number = [](const char* text) {
    pid_t value = 0;
    const std::string_view s(text);
    const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), value);
    return error == std::errc() && end == s.data() + s.size() && value > 0 ? value : 0;
  };
  const pid_t step = argc == 4 ? number(argv[2]) : 0;
  const pid_t runner = argc == 4 ? number(argv[3]) : 0;
  if (step == 0 || runner == 0) {
    std::fprintf(stderr, "usage: %s STEP_PID RUNNER_PID (started by run_process only)\n",
                 std::string(shim_argument).c_str());
    _exit(2);
  }
  shim(step, runner);
}

bool shims_available() {
  return available;
}

std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = opendir(tasks.c_str());
  if (dir == nullptr) {
    return out;
  }
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') {
      continue;
    }
    // "12 345 ", read with plain system calls: this runs after every step.
    const int fd = ::open((tasks + "/" + e->d_name + "/children").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    pid_t child = 0;
    char text[4096];
    for (ssize_t n; (n = ::read(fd, text, sizeof text)) > 0;) {
      for (ssize_t i = 0; i < n; ++i) {
        if (text[i] >= '0' && text[i] <= '9') {
          child = child * 10 + (text[i] - '0');
        } else if (child != 0) {
          out.push_back(child);
          child = 0;
        }
      }
    }
    ::close(fd);
    if (child != 0) {
      out.push_back(child);
    }
  }
  closedir(dir);
  return out;
}

std::vector<pid_t> kill_descendants(pid_t root) {
  // Stopped, a process forks no more; its children are read after its stop, in the next pass.
  std::set<pid_t> stopped;
  for (int pass = 0; pass < 100; ++pass) {
    bool fresh = false;
    std::vector<pid_t> todo{root};
    for (size_t i = 0; i < todo.size(); ++i) {
      for (pid_t child : children_of(todo[i])) {
        if (stopped.insert(child).second) {
          ::kill(child, SIGSTOP);
          fresh = true;
        }
        todo.push_back(child);
      }
    }
    if (!fresh) {
      break;
    }
  }
  std::vector<pid_t> killed;
  for (pid_t pid : stopped) {
    // A zombie has ended already: not counted.
    if (state_of(pid) != 'Z' && ::kill(pid, SIGKILL) == 0) {
      killed.push_back(pid);
    }
  }
  return killed;
}

} // namespace exec
