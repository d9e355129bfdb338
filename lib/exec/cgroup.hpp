#pragma once

// The cgroup v2 files run_process uses to hold a step's processes: where this process's cgroup
// is, and killing a cgroup whole (cgroup.kill, Linux 5.14) and waiting until it is empty
// (cgroup.events). Only the core files: no controller is needed, none is enabled.

#include <base/error.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace exec::cgroup {

// The cgroup v2 path of a process ("/system.slice/jobsd.service", "/" for the root) from the text
// of /proc/PID/cgroup: its "0::" line. nullopt when there is none (no cgroup v2 mounted).
std::optional<std::string> own_path(std::string_view proc_cgroup);

// Where the cgroup v2 hierarchy is mounted ("/sys/fs/cgroup", "/sys/fs/cgroup/unified" on a
// hybrid host), from the text of /proc/self/mountinfo; nullopt when it is not. Only a mount of the
// hierarchy's root counts (a bind mount of a sub-cgroup does not map paths as /proc says them).
std::optional<std::string> mount_point(std::string_view mountinfo);

// Whether the text of a cgroup.events file says that processes are left ("populated 1").
bool populated(std::string_view events);

// The folder of this process's own cgroup v2 (mount point + own path), or an error saying why
// there is none.
base::Result<std::string> own_folder();

// Sends `sig` to every process of the cgroup at `folder` (not to those of cgroups under it).
// Returns how many it signalled.
int signal(const std::string& folder, int sig);

// Kills every process of the cgroup at `folder` and of the cgroups under it (cgroup.kill), waits
// up to `wait` for them to be gone (cgroup.events), then removes the folders. Returns how many
// processes it killed (counted before the kill), or an error naming the folder; a cgroup that is
// not there is no error. A folder that cannot be removed yet (a process in uninterruptible sleep)
// is an error.
base::Result<int> kill_and_remove(const std::string& folder, std::chrono::milliseconds wait);

} // namespace exec::cgroup
