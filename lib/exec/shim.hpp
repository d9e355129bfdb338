#pragma once

// The shim that holds a step's processes where there is no cgroup (see contain_steps): a small
// process between the runner and the step, the child subreaper of everything the step starts,
// so that no process of the step can leave its subtree (setsid, double forks and an emptied
// environment change nothing to parentage). It relays the step's exit status, kills what is left
// when the step's first process ends, forwards SIGTERM to the whole subtree, kills it on SIGUSR1
// (the runner's SIGKILL stage) and when the runner dies (PR_SET_PDEATHSIG).
//
// run_process starts it as /proc/self/exe with shim_argument first: every program that runs
// steps calls run_shim_if_asked at the very top of its main.

#include <sys/types.h>

#include <csignal>
#include <string_view>
#include <vector>

namespace exec {

// The first argument that makes a program a step's shim (argv[1]).
inline constexpr std::string_view shim_argument = "--jobs-step-shim";

// The signal that makes a shim kill its subtree: the runner's second stage after a timeout or
// a cancel, and the runner's death.
inline constexpr int shim_kill_signal = SIGUSR1;

// When argv[1] is shim_argument, runs this process as a step's shim and exits with the step's
// status (its exit code, or its signal); else returns, and run_process may start shims from
// this program. Call first thing in main, before anything else runs.
void run_shim_if_asked(int argc, char** argv);

// Whether run_shim_if_asked was called in this program: run_process refuses to start a step
// without a cgroup otherwise, rather than run /proc/self/exe as something it is not.
bool shims_available();

// The children of `pid` (of any of its threads), from /proc/PID/task/TID/children.
std::vector<pid_t> children_of(pid_t pid);

// Stops (SIGSTOP) every descendant of `root`, found through /proc/PID/task/TID/children, so that
// none forks any more, until a pass finds none new; then kills them all (SIGKILL). Returns the
// pids it killed. Only a process that can signal them (the same user, or root) finds them all.
std::vector<pid_t> kill_descendants(pid_t root);

} // namespace exec
