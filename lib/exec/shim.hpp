#pragma once

// The shim that holds a step's processes where there is no cgroup (see contain_steps): a small
// program (shim_main.cpp) between the runner and the step, the child subreaper of everything the
// step starts, so that no process of the step can leave its subtree (setsid, double forks and an
// emptied environment change nothing to parentage). It relays the step's exit status, kills what
// is left when the step's first process ends, passes SIGTERM on to the whole subtree, and kills
// it on shim_kill_signal: the runner's second stage after a timeout or a cancel, and the runner's
// death (PR_SET_PDEATHSIG).
//
// The program is embedded in this library and run from a memfd: nothing to install next to
// jobsd, no /proc needed to start it, and always the version of the runner that starts it.

#include <base/error.hpp>

#include <csignal>

namespace exec {

// The signal that makes a shim kill its subtree.
inline constexpr int shim_kill_signal = SIGUSR1;

// A descriptor (close-on-exec) of the shim program, to start it with fexecve; made at the first
// call, then the same. An error says why it cannot be had.
base::Result<int> shim_program();

} // namespace exec
