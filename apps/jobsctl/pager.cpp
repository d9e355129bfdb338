#include "pager.hpp"

#include "output.hpp"

#include <base/exit_codes.hpp>
#include <base/text.hpp>
#include <exec/process.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <iostream>

namespace jobsctl {

Pager::Pager(bool wanted) {
  if (!wanted || !stdout_is_terminal()) {
    return;
  }
  const char* pager = std::getenv("PAGER");
  const char* path = std::getenv("PATH");
  if (pager == nullptr && exec::find_program("less", path != nullptr ? path : "").empty()) {
    return; // a minimal system without less: no pager rather than an error
  }
  // LESS, if set, is left as it is: less reads it before these options.
  command_ = pager == nullptr ? "less -FRX" : pager;
  if (const auto trimmed = base::trim(command_); trimmed.empty() || trimmed == "cat") {
    return;
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return;
  }
  std::cout.flush();
  pid_ = fork();
  if (pid_ == 0) {
    // As git does: a PAGER of plain less shows the colours too. A LESS of the user's is kept.
    setenv("LESS", "FRX", 0);
    dup2(fds[0], STDIN_FILENO);
    execl("/bin/sh", "sh", "-c", command_.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[0]);
  if (pid_ < 0) {
    close(fds[1]);
    pid_ = 0;
    return;
  }
  dup2(fds[1], STDOUT_FILENO);
  close(fds[1]);
  // A pager that quits before the end leaves writes failing with EPIPE, not a signal.
  std::signal(SIGPIPE, SIG_IGN);
  // less takes Ctrl-C for itself; jobsctl ends when it does.
  std::signal(SIGINT, SIG_IGN);
}

Pager::~Pager() {
  finish(base::exit_code::ok);
}

int Pager::finish(int code) {
  if (pid_ == 0) {
    return code;
  }
  std::cout.flush();
  // /dev/null in place of the pipe: the pager sees its end, and what a pager that quit early
  // left unwritten in the buffers goes nowhere.
  if (const int null = open("/dev/null", O_WRONLY | O_CLOEXEC); null >= 0) {
    dup2(null, STDOUT_FILENO);
    close(null);
  } else {
    close(STDOUT_FILENO);
  }
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = 0;
  if (WIFEXITED(status) && WEXITSTATUS(status) >= 126) {
    std::cerr << "jobsctl: the pager " << base::quoted(command_) << " did not run (exit status "
              << WEXITSTATUS(status) << "); --no-pager or an empty PAGER prints without one\n";
    return base::exit_code::usage;
  }
  return code;
}

} // namespace jobsctl
