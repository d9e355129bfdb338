// jobs-step-shim: the shim of one step where there is no cgroup (exec/shim.hpp). run_process
// starts it from the image embedded in the exec library, after it has made it the child subreaper
// of the step and started the step as its child:
//
//   jobs-step-shim STEP_PID RUNNER_PID   (descriptor 3: where to say how many it killed)
//
// A static program of plain system calls: it starts in a fraction of a millisecond.
#include <exec/shim.hpp>
#include <exec/tree.hpp>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <set>
#include <string_view>

namespace {

// How long the shim waits, at the step's end, for what it killed to be gone (as the end of a
// cgroup does: only a process in uninterruptible sleep takes longer).
constexpr std::chrono::seconds end_wait{10};

// Reaps every child that has ended; `status` gets the status of `step` when it is one of them.
// Returns false once there is no child left.
bool reap(pid_t step, int& status) {
  for (;;) {
    int s = 0;
    const pid_t pid = ::waitpid(-1, &s, WNOHANG);
    if (pid == step) {
      status = s;
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

pid_t number(const char* text) {
  pid_t value = 0;
  const std::string_view s(text);
  const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), value);
  return error == std::errc() && end == s.data() + s.size() && value > 0 ? value : 0;
}

} // namespace

int main(int argc, char** argv) {
  const pid_t step = argc == 3 ? number(argv[1]) : 0;
  const pid_t runner = argc == 3 ? number(argv[2]) : 0;
  siginfo_t probe{};
  if (step == 0 || runner == 0 ||
      ::waitid(P_PID, static_cast<id_t>(step), &probe, WEXITED | WNOHANG | WNOWAIT) != 0) {
    std::fprintf(stderr, "usage: jobs-step-shim STEP_PID RUNNER_PID: started by jobsd and "
                         "jobsctl only, with the step as its child\n");
    return 2;
  }
  // Its name in ps and top: it was started from a memfd, which names it after a descriptor.
  prctl(PR_SET_NAME, "jobs-step-shim");
  // Started with every signal blocked (run_process forks so): taken here one by one.
  sigset_t wanted;
  sigemptyset(&wanted);
  for (int sig : {SIGCHLD, SIGTERM, exec::shim_kill_signal}) {
    sigaddset(&wanted, sig);
  }
  sigprocmask(SIG_BLOCK, &wanted, nullptr);
  const pid_t self = getpid();
  // The runner died before its death could signal this shim (PR_SET_PDEATHSIG).
  if (getppid() != runner) {
    exec::kill_descendants(self);
  }
  int status = -1;
  while (status == -1) {
    const int sig = sigwaitinfo(&wanted, nullptr);
    if (sig == SIGTERM) {
      exec::signal_descendants(self, SIGTERM);
    } else if (sig == exec::shim_kill_signal) {
      exec::kill_descendants(self);
    }
    if (!reap(step, status)) {
      break; // no child left, the step reaped among them
    }
  }
  // What the step left: killed, and reaped as it comes back to the shim, for a bounded time.
  std::set<pid_t> left;
  const auto deadline = std::chrono::steady_clock::now() + end_wait;
  for (;;) {
    for (pid_t pid : exec::kill_descendants(self)) {
      left.insert(pid);
    }
    if (!reap(step, status)) {
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
