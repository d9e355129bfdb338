#include <jobsd/watcher.hpp>

#include <doctest/doctest.h>
#include <poll.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <support/temp_dir.hpp>

// The kernel queues inotify events before the syscall that causes them returns, so each check
// reads right after the change, without waiting.

namespace {

namespace fs = std::filesystem;

void write_file(const fs::path& path, const std::string& text = "id: x\n") {
  std::ofstream(path) << text;
}

bool readable(const jobsd::Watcher& w) {
  pollfd p{w.fd(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

// The watches the kernel holds for this fd, from /proc, to compare with the watcher's own count.
size_t kernel_watches(int fd) {
  std::ifstream in("/proc/self/fdinfo/" + std::to_string(fd));
  size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    n += line.starts_with("inotify wd:");
  }
  return n;
}

// The jobs folder of a test, inside its temporary folder: the watcher also watches the folder
// holding it, which had better not be /tmp with everyone's events.
fs::path jobs_in(const test::TempDir& t) {
  fs::create_directory(t.path / "jobs");
  return t.path / "jobs";
}

std::unique_ptr<jobsd::Watcher> watch(const fs::path& dir) {
  auto w = jobsd::Watcher::open(dir.string());
  REQUIRE_MESSAGE(w.ok(), w.error().message);
  return std::move(w).value();
}

} // namespace

TEST_SUITE("jobsd.watcher") {
  TEST_CASE("a new file, and a file rewritten in place") {
    test::TempDir t;
    const auto dir = jobs_in(t);
    auto w = watch(dir);
    CHECK_FALSE(readable(*w));
    CHECK_FALSE(w->read_changes());

    write_file(dir / "x.yaml");
    CHECK(readable(*w));
    CHECK(w->read_changes());
    CHECK_FALSE(readable(*w)); // all of it read
    CHECK_FALSE(w->read_changes());

    write_file(dir / "x.yaml", "id: y\n");
    CHECK(w->read_changes());
  }

  TEST_CASE("an editor's save counts by its rename, not by its temporary file") {
    test::TempDir t;
    const auto dir = jobs_in(t);
    write_file(dir / "x.yaml");
    auto w = watch(dir);
    for (const char* temp : {".x.yaml.tmp", "x.yaml~", ".x.yaml.swp", "4913", "#x.yaml#"}) {
      CAPTURE(temp);
      write_file(dir / temp, "id: new\n");
      CHECK_FALSE(w->read_changes());
      fs::rename(dir / temp, dir / "x.yaml");
      CHECK(w->read_changes());
    }
    // Vim's probe of the folder: created and deleted.
    write_file(dir / "4913", "");
    fs::remove(dir / "4913");
    CHECK_FALSE(w->read_changes());
  }

  TEST_CASE("a file deleted, or its mode changed") {
    test::TempDir t;
    const auto dir = jobs_in(t);
    write_file(dir / "x.yaml");
    write_file(dir / "y.yaml");
    auto w = watch(dir);
    fs::remove(dir / "x.yaml");
    CHECK(w->read_changes());
    fs::permissions(dir / "y.yaml", fs::perms::none);
    CHECK(w->read_changes());
  }

  TEST_CASE("new subfolders are watched, with what they hold by then") {
    test::TempDir t;
    const auto dir = jobs_in(t);
    test::TempDir outside;
    auto w = watch(dir);

    fs::create_directory(dir / "a");
    CHECK(w->read_changes());
    write_file(dir / "a" / "x.yaml");
    CHECK(w->read_changes());

    // Created faster than the watcher reads: the file in it was never an event of its own.
    fs::create_directories(dir / "b" / "c");
    write_file(dir / "b" / "c" / "x.yaml");
    CHECK(w->read_changes());
    write_file(dir / "b" / "c" / "y.yaml");
    CHECK(w->read_changes());

    // A whole prepared tree moved in.
    fs::create_directories(outside.path / "ready" / "deeper");
    write_file(outside.path / "ready" / "deeper" / "x.yaml");
    fs::rename(outside.path / "ready", dir / "ready");
    CHECK(w->read_changes());
    write_file(dir / "ready" / "deeper" / "y.yaml");
    CHECK(w->read_changes());
    CHECK(w->watch_count() == kernel_watches(w->fd()));
  }

  TEST_CASE("hidden folders are not watched, hidden files do not count") {
    test::TempDir t;
    const auto dir = jobs_in(t);
    fs::create_directories(dir / ".git" / "objects");
    auto w = watch(dir);
    const auto watches = w->watch_count();

    write_file(dir / ".git" / "objects" / "ab");
    CHECK_FALSE(readable(*w));
    fs::create_directory(dir / ".git" / "refs");
    write_file(dir / ".git" / "refs" / "main");
    CHECK_FALSE(readable(*w));

    fs::create_directory(dir / ".cache");
    CHECK_FALSE(w->read_changes());
    write_file(dir / ".cache" / "x.yaml");
    write_file(dir / ".foo.yaml");
    CHECK_FALSE(w->read_changes());
    CHECK(w->watch_count() == watches);
  }

  TEST_CASE("subfolders deleted or moved out take their watches with them") {
    test::TempDir t;
    const auto dir = jobs_in(t);
    test::TempDir outside;
    auto w = watch(dir);
    const auto watches = w->watch_count();
    for (int i = 0; i < 100; ++i) {
      fs::create_directories(dir / "sub" / "deeper");
      write_file(dir / "sub" / "deeper" / "x.yaml");
      CHECK(w->read_changes());
      CHECK(w->watch_count() == watches + 2);
      fs::remove_all(dir / "sub");
      CHECK(w->read_changes());
      CHECK(w->watch_count() == watches);
    }
    CHECK(kernel_watches(w->fd()) == watches);

    fs::create_directories(dir / "sub" / "deeper");
    CHECK(w->read_changes());
    fs::rename(dir / "sub", outside.path / "sub");
    CHECK(w->read_changes());
    CHECK(w->watch_count() == watches);
    CHECK(kernel_watches(w->fd()) == watches);
    write_file(outside.path / "sub" / "deeper" / "x.yaml");
    CHECK_FALSE(readable(*w));
  }

  TEST_CASE("a subfolder renamed in the tree is watched under its new name") {
    test::TempDir t;
    const auto dir = jobs_in(t);
    fs::create_directories(dir / "a" / "b");
    auto w = watch(dir);
    const auto watches = w->watch_count();
    fs::rename(dir / "a", dir / "c");
    CHECK(w->read_changes());
    write_file(dir / "c" / "b" / "x.yaml");
    CHECK(w->read_changes());
    fs::remove_all(dir / "c");
    CHECK(w->read_changes());
    CHECK(w->watch_count() == watches - 2);
    CHECK(kernel_watches(w->fd()) == w->watch_count());
  }

  TEST_CASE("a bulk change, as by git checkout") {
    test::TempDir t;
    const auto dir = jobs_in(t);
    fs::create_directory(dir / "sub");
    for (int i = 0; i < 500; ++i) {
      write_file(dir / "sub" / (std::to_string(i) + ".yaml"));
    }
    auto w = watch(dir);
    for (int i = 0; i < 500; ++i) {
      const auto file = dir / "sub" / (std::to_string(i) + ".yaml");
      fs::remove(file);
      write_file(file, "id: new\n");
    }
    CHECK(w->read_changes());
    CHECK_FALSE(readable(*w));
  }

  TEST_CASE("an overflowing event queue counts as a change, and watching goes on") {
    test::TempDir t;
    const auto dir = jobs_in(t);
    write_file(dir / "a.yaml");
    write_file(dir / "b.yaml");
    auto w = watch(dir);
    // Alternating files, as the kernel merges an event that repeats the last one queued.
    std::ifstream in("/proc/sys/fs/inotify/max_queued_events");
    int limit = 0;
    in >> limit;
    REQUIRE(limit > 0);
    for (int i = 0; i <= limit; ++i) {
      ::chmod((dir / (i % 2 ? "a.yaml" : "b.yaml")).c_str(), i % 4 < 2 ? 0644 : 0600);
    }
    CHECK(w->read_changes());
    CHECK_FALSE(readable(*w));
    fs::create_directory(dir / "sub");
    CHECK(w->read_changes());
    write_file(dir / "sub" / "x.yaml");
    CHECK(w->read_changes());
  }

  TEST_CASE("links to folders in the tree are not followed, as the loader does not") {
    test::TempDir t;
    test::TempDir elsewhere;
    fs::create_directory(t.path / "jobs");
    fs::create_directory(elsewhere.path / "shared");
    fs::create_directory_symlink(elsewhere.path / "shared", t.path / "jobs" / "shared");
    fs::create_directory_symlink(".", t.path / "jobs" / "loop");
    auto w = watch(t.path / "jobs");
    const size_t watches = w->watch_count();
    write_file(elsewhere.path / "shared" / "x.yaml");
    CHECK_FALSE(w->read_changes());
    // A link made later is an entry of the folder (a change), not a folder to watch.
    fs::create_directory_symlink("/", t.path / "jobs" / "root");
    CHECK(w->read_changes());
    CHECK(w->watch_count() == watches);
    CHECK(kernel_watches(w->fd()) == w->watch_count());
  }

  TEST_CASE("a swap of the folder's symbolic link rebuilds the watches") {
    test::TempDir t;
    fs::create_directory(t.path / "jobs.v1");
    fs::create_directory(t.path / "jobs.v2");
    fs::create_directory_symlink("jobs.v1", t.path / "jobs");
    auto w = watch(t.path / "jobs");
    write_file(t.path / "jobs" / "x.yaml");
    CHECK(w->read_changes());

    // ln -sfn jobs.v2 jobs
    fs::create_directory_symlink("jobs.v2", t.path / "jobs.tmp");
    fs::rename(t.path / "jobs.tmp", t.path / "jobs");
    CHECK(w->read_changes());
    CHECK_FALSE(readable(*w));
    write_file(t.path / "jobs.v2" / "y.yaml");
    CHECK(w->read_changes());
    write_file(t.path / "jobs.v1" / "z.yaml");
    CHECK_FALSE(readable(*w));
    CHECK(kernel_watches(w->fd()) == w->watch_count());
  }

  TEST_CASE("a swap of a link higher on the path rebuilds the watches") {
    test::TempDir t;
    fs::create_directories(t.path / "releases" / "1" / "jobs");
    fs::create_directories(t.path / "releases" / "2" / "jobs");
    fs::create_directory_symlink("releases/1", t.path / "current");
    auto w = watch(t.path / "current" / "jobs");

    fs::create_directory_symlink("releases/2", t.path / "current.tmp");
    fs::rename(t.path / "current.tmp", t.path / "current");
    CHECK(w->read_changes());
    write_file(t.path / "releases" / "2" / "jobs" / "x.yaml");
    CHECK(w->read_changes());
    write_file(t.path / "releases" / "1" / "jobs" / "x.yaml");
    CHECK_FALSE(readable(*w));

    // The link removed, then made again: the folder is gone in between.
    fs::remove(t.path / "current");
    CHECK(w->read_changes());
    fs::create_directory_symlink("releases/1", t.path / "current");
    CHECK(w->read_changes());
    write_file(t.path / "releases" / "1" / "jobs" / "y.yaml");
    CHECK(w->read_changes());
    write_file(t.path / "releases" / "2" / "jobs" / "y.yaml");
    CHECK_FALSE(readable(*w));
    CHECK(kernel_watches(w->fd()) == w->watch_count());
  }

  TEST_CASE("the folder removed or moved away, and back again") {
    test::TempDir t;
    fs::create_directory(t.path / "jobs");
    auto w = watch(t.path / "jobs");

    fs::remove_all(t.path / "jobs");
    CHECK(w->read_changes());
    CHECK_FALSE(readable(*w));
    fs::create_directory(t.path / "jobs");
    CHECK(w->read_changes());
    write_file(t.path / "jobs" / "x.yaml");
    CHECK(w->read_changes());

    fs::rename(t.path / "jobs", t.path / "jobs.old");
    CHECK(w->read_changes());
    write_file(t.path / "jobs.old" / "y.yaml");
    CHECK_FALSE(readable(*w));
    fs::rename(t.path / "jobs.old", t.path / "jobs");
    CHECK(w->read_changes());
    write_file(t.path / "jobs" / "z.yaml");
    CHECK(w->read_changes());

    write_file(t.path / "other"); // next to the folder: no change to it
    CHECK_FALSE(w->read_changes());
    CHECK(kernel_watches(w->fd()) == w->watch_count());
  }

  TEST_CASE("a folder that cannot be watched") {
    auto w = jobsd::Watcher::open("/nonexistent-jobs-dir/y");
    REQUIRE_FALSE(w.ok());
    CHECK(w.error().message == "cannot watch /nonexistent-jobs-dir/y: No such file or directory");

    test::TempDir t;
    write_file(t.path / "x.yaml");
    w = jobsd::Watcher::open((t.path / "x.yaml").string());
    REQUIRE_FALSE(w.ok());
    CHECK(w.error().message ==
          "cannot watch " + (t.path / "x.yaml").string() + ": Not a directory");
  }

  TEST_CASE("running out of inotify watches names the limit") {
    // The limit is lowered for a child in a user namespace of its own, where it is its own (not
    // the machine's) to change.
    test::TempDir t;
    for (const char* sub : {"a", "b", "c", "d", "e"}) {
      fs::create_directory(t.path / sub);
    }
    int out[2];
    REQUIRE(::pipe(out) == 0);
    const uid_t uid = ::getuid();
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      std::string message = "skipped: no user namespace";
      if (::unshare(CLONE_NEWUSER) == 0) {
        std::ofstream("/proc/self/uid_map") << "0 " << uid << " 1\n";
        std::ofstream("/proc/sys/user/max_inotify_watches") << "3\n";
        auto w = jobsd::Watcher::open(t.path.string());
        message = w.ok() ? "opened" : w.error().message;
      }
      [[maybe_unused]] const auto n = ::write(out[1], message.data(), message.size());
      ::_exit(0);
    }
    ::close(out[1]);
    std::string message;
    char buffer[512];
    for (ssize_t n; (n = ::read(out[0], buffer, sizeof buffer)) > 0;) {
      message.append(buffer, static_cast<size_t>(n));
    }
    ::close(out[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (message.starts_with("skipped")) {
      MESSAGE(message);
      return;
    }
    CHECK(message == "cannot watch " + t.path.string() + ": too many inotify watches " +
                         "(fs.inotify.max_user_watches)");
  }
}
