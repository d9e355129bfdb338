#pragma once

// A process's descendants, found through /proc/PID/task/TID/children: what a step's shim
// (shim_main.cpp) signals and kills, and what jobsd kills of a shim the previous jobsd left.
// Plain system calls and the standard containers only: the shim is a static program.

#include <sys/types.h>

#include <vector>

namespace exec {

// The children of `pid` (of any of its threads).
std::vector<pid_t> children_of(pid_t pid);

// Sends `sig` to every descendant of `root`.
void signal_descendants(pid_t root, int sig);

// Stops (SIGSTOP) every descendant of `root`, so that none forks any more, until a pass finds
// none new; then kills them all (SIGKILL). Returns the pids it killed (not the zombies). Only a
// process that may signal them (the same user, or root) finds them all.
std::vector<pid_t> kill_descendants(pid_t root);

} // namespace exec
