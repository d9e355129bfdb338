#include <exec/cgroup.hpp>
#include <exec/process.hpp>

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <support/temp_dir.hpp>

namespace {

bool gone(pid_t pid) {
  return !std::filesystem::exists("/proc/" + std::to_string(pid));
}

} // namespace

TEST_SUITE("exec::cgroup") {
  TEST_CASE("own_path is the 0:: line of /proc/PID/cgroup") {
    struct Case {
      const char* text;
      std::optional<std::string> path;
    };
    const Case cases[] = {
        {"0::/system.slice/jobsd.service\n", "/system.slice/jobsd.service"},
        // A hybrid host: v1 controllers first, the v2 line last.
        {"9:name=systemd:/\n4:memory:/x/y\n1:cpu:/\n0::/\n", "/"},
        {"0::/user.slice/a b.scope", "/user.slice/a b.scope"}, // no final newline
        {"4:memory:/x\n1:cpu:/\n", std::nullopt},              // cgroup v1 only
        {"", std::nullopt},
    };
    for (const auto& c : cases) {
      CAPTURE(c.text);
      CHECK(exec::cgroup::own_path(c.text) == c.path);
    }
  }

  TEST_CASE("mount_point is the cgroup2 mount of the hierarchy's root") {
    const std::string hybrid =
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
    CHECK(exec::cgroup::mount_point(hybrid) == "/sys/fs/cgroup/unified");
    // Optional fields before the separator; a bind mount of a sub-cgroup (root not "/") first.
    const std::string pure =
        "50 20 0:27 /system.slice /mnt/x rw shared:9 - cgroup2 cgroup2 rw\n"
        "30 24 0:27 / /sys/fs/cgroup rw,nosuid shared:9 master:1 - cgroup2 cgroup2 rw,nsdelegate\n";
    CHECK(exec::cgroup::mount_point(pure) == "/sys/fs/cgroup");
    CHECK(exec::cgroup::mount_point("30 24 0:27 / /a\\040b\\134c rw - cgroup2 none rw\n") ==
          "/a b\\c");
    CHECK(exec::cgroup::mount_point("32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw\n") ==
          std::nullopt);
    CHECK(exec::cgroup::mount_point("") == std::nullopt);
  }

  TEST_CASE("populated reads cgroup.events") {
    CHECK(exec::cgroup::populated("populated 1\nfrozen 0\n"));
    CHECK_FALSE(exec::cgroup::populated("populated 0\nfrozen 0\n"));
    CHECK_FALSE(exec::cgroup::populated(""));
  }

  TEST_CASE("with a cgroup, no process a step starts outlives it, whatever its environment") {
    const std::string name = "jobs-unit-" + std::to_string(getpid());
    const auto own = exec::cgroup::own_folder();
    if (geteuid() != 0 || !own) {
      MESSAGE("skipped: needs root and a cgroup v2");
      return;
    }
    // What a crashed run left: a process in a step's cgroup of the tree.
    const std::string tree = *own + "/" + name;
    std::filesystem::create_directories(tree + "/left");
    const std::string procs = tree + "/left/cgroup.procs";
    const pid_t left = fork();
    if (left == 0) {
      const int fd = ::open(procs.c_str(), O_WRONLY);
      if (fd < 0 || ::write(fd, "0", 1) != 1) {
        _exit(126);
      }
      execlp("sleep", "sleep", "1000", static_cast<char*>(nullptr));
      _exit(127);
    }
    const auto entered = [&] {
      std::ifstream in(procs);
      pid_t pid = 0;
      return static_cast<bool>(in >> pid);
    };
    for (int i = 0; i < 1000 && !entered(); ++i) {
      usleep(1000);
    }
    const exec::Containment c = exec::contain_steps(name);
    REQUIRE(c.kind == exec::Containment::Kind::cgroup);
    CHECK(c.description == "cgroup v2 " + tree);
    CHECK(c.killed == 1);
    CHECK(waitpid(left, nullptr, 0) == left);

    exec::become_subreaper();
    test::TempDir dir("jobs-cgroup");
    const auto pids = dir.path / "pids";
    exec::ProcessSpec spec;
    spec.argv = {"sh", "-c",
                 "for i in 1 2 3; do env -i setsid sleep 1000 & echo $! >> " + pids.string() +
                     "; done; echo $JOBS_STEP_TOKEN"};
    spec.env = {{"PATH", "/usr/local/bin:/usr/bin:/bin"}};
    const auto r = exec::run_process(spec);
    CHECK(r.exit_code == 0);
    CHECK(r.out == "\n"); // no token: the cgroup holds the processes
    CHECK(r.leftovers == 3);
    std::ifstream in(pids);
    int count = 0;
    for (pid_t pid = 0; in >> pid; ++count) {
      CAPTURE(pid);
      CHECK(gone(pid));
    }
    CHECK(count == 3);
    // The step's cgroup is gone; the tree stays until release_steps.
    CHECK(std::distance(std::filesystem::directory_iterator(tree),
                        std::filesystem::directory_iterator{}) > 0);
    for (const auto& e : std::filesystem::directory_iterator(tree)) {
      CHECK_FALSE(e.is_directory());
    }
    CHECK(exec::release_steps() == 0);
    CHECK_FALSE(std::filesystem::exists(tree));
  }
}
