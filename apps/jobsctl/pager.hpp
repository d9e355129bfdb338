#pragma once

#include <sys/types.h>

#include <string>

namespace jobsctl {

// While it exists, standard output goes through the pager (history and logs on a terminal):
// $PAGER run by sh, or `less -FRX` when PAGER is unset; none when PAGER is empty or "cat", when
// standard output is not a terminal, or when not `wanted` (--no-pager, logs -f). Quitting the
// pager early is no error: what is left to print goes nowhere. Ctrl-C is the pager's meanwhile.
class Pager {
public:
  explicit Pager(bool wanted);
  ~Pager();
  Pager(const Pager&) = delete;
  Pager& operator=(const Pager&) = delete;

  // Ends standard output's pipe and waits for the pager to end. Returns `code`, or, when the
  // pager could not run at all (sh's exit status 126 or 127), says so and returns 2.
  int finish(int code);

private:
  std::string command_;
  pid_t pid_ = 0;
};

} // namespace jobsctl
