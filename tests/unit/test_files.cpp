#include "support/temp_dir.hpp"

#include <exec/process.hpp>
#include <files/files.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

namespace fs = std::filesystem;

namespace {

constexpr std::int64_t now = 1'700'000'000;

void write(const fs::path& path, const std::string& content,
           std::optional<std::int64_t> mtime = std::nullopt) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
  if (mtime) {
    const struct timespec times[2] = {{*mtime, 0}, {*mtime, 0}};
    REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
  }
}

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::int64_t mtime_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(lstat(path.c_str(), &st) == 0);
  return st.st_mtim.tv_sec;
}

mode_t mode_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Every entry under `root` with its type, size, mode, mtime (ns) and link target.
std::string tree(const fs::path& root) {
  std::map<std::string, std::string> lines;
  for (const auto& item : fs::recursive_directory_iterator(root)) {
    struct stat st {};
    REQUIRE(lstat(item.path().c_str(), &st) == 0);
    std::string line = std::to_string(st.st_mode) + " " + std::to_string(st.st_size) + " " +
                       std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
    if (S_ISLNK(st.st_mode)) {
      line += " -> " + fs::read_symlink(item.path()).string();
    }
    lines[fs::relative(item.path(), root).string()] = line;
  }
  std::string out;
  for (const auto& [name, line] : lines) {
    out += name + " " + line + "\n";
  }
  return out;
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& item : fs::directory_iterator(dir)) {
    names.push_back(item.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// name -> content ("" for folders, "-> target" for symlinks), in archive order.
std::vector<std::pair<std::string, std::string>> read_archive(const fs::path& path) {
  std::vector<std::pair<std::string, std::string>> out;
  struct archive* a = archive_read_new();
  archive_read_support_filter_gzip(a);
  archive_read_support_format_tar(a);
  REQUIRE(archive_read_open_filename(a, path.c_str(), 10240) == ARCHIVE_OK);
  struct archive_entry* entry = nullptr;
  while (archive_read_next_header(a, &entry) == ARCHIVE_OK) {
    std::string content;
    if (archive_entry_filetype(entry) == AE_IFLNK) {
      content = std::string("-> ") + archive_entry_symlink(entry);
    } else {
      char buffer[4096];
      la_ssize_t n = 0;
      while ((n = archive_read_data(a, buffer, sizeof buffer)) > 0) {
        content.append(buffer, static_cast<size_t>(n));
      }
    }
    out.emplace_back(archive_entry_pathname(entry), content);
  }
  archive_read_free(a);
  return out;
}

files::Request request(files::Action action, const fs::path& allowed,
                       std::vector<std::string> sources, const fs::path& destination = {}) {
  files::Request r;
  r.action = action;
  r.sources = std::move(sources);
  r.destination = destination.string();
  r.allowed_paths = {allowed.string()};
  r.now = now;
  return r;
}

std::string refusal(const files::Request& r) {
  auto outcome = files::run(r, nullptr);
  REQUIRE_FALSE(outcome.ok());
  return outcome.error().message;
}

} // namespace

TEST_SUITE("files") {
  TEST_CASE("copy with a glob keeps mode and mtime") {
    test::TempDir dir;
    const auto src = dir.path / "src";
    const auto out = dir.path / "out";
    write(src / "a.csv", "hello", now - 100);
    write(src / "b.csv", std::string(1300, 'x'), now - 200);
    write(src / "c.txt", "no");
    write(src / ".hidden.csv", "no");
    fs::permissions(src / "a.csv", fs::perms(0640));

    auto outcome = files::run(
        request(files::Action::copy, dir.path, {(src / "*.csv").string()}, out), nullptr);
    REQUIRE(outcome.ok());
    CHECK(outcome->lines == std::vector<std::string>{"copied " + (src / "a.csv").string() + " -> " +
                                                         (out / "a.csv").string() + " (5 B)",
                                                     "copied " + (src / "b.csv").string() + " -> " +
                                                         (out / "b.csv").string() + " (1.3 KiB)"});
    CHECK(outcome->paths ==
          std::vector<std::string>{(src / "a.csv").string(), (src / "b.csv").string()});
    CHECK(outcome->files == 2);
    CHECK(outcome->bytes == 1305);
    CHECK(names_in(out) == std::vector<std::string>{"a.csv", "b.csv"});
    CHECK(read(out / "a.csv") == "hello");
    CHECK(mode_of(out / "a.csv") == 0640);
    CHECK(mtime_of(out / "a.csv") == now - 100);
    CHECK(mtime_of(out / "b.csv") == now - 200);
    CHECK(read(src / "a.csv") == "hello");
  }

  TEST_CASE("copy one file to a file path, into a folder, or to a new folder ending in /") {
    test::TempDir dir;
    const auto file = dir.path / "src" / "a.csv";
    write(file, "abc");
    fs::create_directories(dir.path / "existing");

    REQUIRE(files::run(request(files::Action::copy, dir.path, {file.string()},
                               dir.path / "new" / "renamed.csv"),
                       nullptr)
                .ok());
    CHECK(read(dir.path / "new" / "renamed.csv") == "abc");

    REQUIRE(
        files::run(request(files::Action::copy, dir.path, {file.string()}, dir.path / "existing"),
                   nullptr)
            .ok());
    CHECK(read(dir.path / "existing" / "a.csv") == "abc");

    REQUIRE(files::run(request(files::Action::copy, dir.path, {file.string()},
                               (dir.path / "folder").string() + "/"),
                       nullptr)
                .ok());
    CHECK(read(dir.path / "folder" / "a.csv") == "abc");
  }

  TEST_CASE("nothing matched is not an error") {
    test::TempDir dir;
    const auto pattern = (dir.path / "*.csv").string();
    auto outcome =
        files::run(request(files::Action::copy, dir.path, {pattern}, dir.path / "out"), nullptr);
    REQUIRE(outcome.ok());
    CHECK(outcome->files == 0);
    CHECK(outcome->lines == std::vector<std::string>{"no file matched " + pattern});
    CHECK_FALSE(fs::exists(dir.path / "out"));
  }

  TEST_CASE("move with a glob") {
    test::TempDir dir;
    const auto src = dir.path / "src";
    const auto out = dir.path / "out";
    write(src / "a.log", "aaa", now - 50);
    write(src / "b.log", "bb");
    write(src / "keep.txt", "k");

    auto outcome = files::run(
        request(files::Action::move, dir.path, {(src / "*.log").string()}, out), nullptr);
    REQUIRE(outcome.ok());
    CHECK(outcome->lines.front() ==
          "moved " + (src / "a.log").string() + " -> " + (out / "a.log").string() + " (3 B)");
    CHECK(outcome->files == 2);
    CHECK(outcome->bytes == 5);
    CHECK(names_in(src) == std::vector<std::string>{"keep.txt"});
    CHECK(read(out / "a.log") == "aaa");
    CHECK(mtime_of(out / "a.log") == now - 50);
  }

  TEST_CASE("move across file systems copies and deletes") {
    struct stat tmp {
    }, shm{};
    if (stat("/tmp", &tmp) != 0 || stat("/dev/shm", &shm) != 0 || tmp.st_dev == shm.st_dev ||
        access("/dev/shm", W_OK) != 0) {
      MESSAGE("skipped: /dev/shm is not a separate, writable file system");
      return;
    }
    test::TempDir dir;
    std::string name = "/dev/shm/jobs-test-XXXXXX";
    const fs::path other = mkdtemp(name.data());
    write(dir.path / "a.log", "across", now - 10);
    fs::permissions(dir.path / "a.log", fs::perms(0604));
    fs::create_symlink("a.log", dir.path / "link");

    auto r = request(files::Action::move, dir.path,
                     {(dir.path / "a.log").string(), (dir.path / "link").string()}, other);
    r.allowed_paths.push_back(other.string());
    auto outcome = files::run(r, nullptr);
    const bool ok = outcome.ok();
    const bool gone = !fs::exists(dir.path / "a.log") && !fs::is_symlink(dir.path / "link");
    const std::string content = read(other / "a.log");
    const auto mtime = mtime_of(other / "a.log");
    const auto mode = mode_of(other / "a.log");
    const auto link = fs::read_symlink(other / "link").string();
    fs::remove_all(other);
    CHECK(ok);
    CHECK(gone);
    CHECK(content == "across");
    CHECK(mtime == now - 10);
    CHECK(mode == 0604);
    CHECK(link == "a.log");
  }

  TEST_CASE("delete with a glob; folders only with recursive") {
    test::TempDir dir;
    const auto src = dir.path / "src";
    write(src / "a.log", "aaa");
    write(src / "b.txt", "b");
    write(src / "logs.log" / "inner.log", "iii");

    auto outcome =
        files::run(request(files::Action::remove, dir.path, {(src / "*.log").string()}), nullptr);
    REQUIRE(outcome.ok());
    CHECK(outcome->lines ==
          std::vector<std::string>{"skipped folder " + (src / "logs.log").string() +
                                       " (recursive is off)",
                                   "deleted " + (src / "a.log").string() + " (3 B)"});
    CHECK(names_in(src) == std::vector<std::string>{"b.txt", "logs.log"});

    CHECK(refusal(request(files::Action::remove, dir.path, {(src / "logs.log").string()})) ==
          (src / "logs.log").string() + " is a folder; set recursive to delete folders");

    auto r = request(files::Action::remove, dir.path, {(src / "logs.log").string()});
    r.recursive = true;
    outcome = files::run(r, nullptr);
    REQUIRE(outcome.ok());
    CHECK(outcome->lines == std::vector<std::string>{
                                "deleted " + (src / "logs.log" / "inner.log").string() + " (3 B)",
                                "deleted folder " + (src / "logs.log").string()});
    CHECK(outcome->files == 1);
    CHECK(names_in(src) == std::vector<std::string>{"b.txt"});
  }

  TEST_CASE("older_than takes only files older than now - older_than") {
    test::TempDir dir;
    write(dir.path / "old.log", "old", now - 3 * 86400);
    write(dir.path / "edge.log", "edge", now - 86400);
    write(dir.path / "new.log", "new", now - 3600);
    write(dir.path / "sub" / "old.log", "old", now - 3 * 86400);

    auto r = request(files::Action::remove, dir.path, {(dir.path / "*.log").string()});
    r.older_than = 86400;
    auto outcome = files::run(r, nullptr);
    REQUIRE(outcome.ok());
    CHECK(outcome->lines ==
          std::vector<std::string>{"deleted " + (dir.path / "old.log").string() + " (3 B)"});
    CHECK(names_in(dir.path) == std::vector<std::string>{"edge.log", "new.log", "sub"});

    // With recursive, folders stay; only their old files go.
    r.sources = {(dir.path / "sub").string()};
    r.recursive = true;
    outcome = files::run(r, nullptr);
    REQUIRE(outcome.ok());
    CHECK(outcome->files == 1);
    CHECK(fs::is_directory(dir.path / "sub"));
    CHECK(fs::is_empty(dir.path / "sub"));

    r.sources = {(dir.path / "*.log").string()};
    r.older_than = 10 * 86400;
    outcome = files::run(r, nullptr);
    REQUIRE(outcome.ok());
    CHECK(outcome->lines ==
          std::vector<std::string>{"no file matched " + r.sources[0] + " older than 10d"});
  }

  TEST_CASE("recursive copy of a folder and ** globs") {
    test::TempDir dir;
    const auto src = dir.path / "src";
    write(src / "top.log", "t");
    write(src / "a" / "x.log", "x");
    write(src / "a" / "b" / "y.log", "y");
    write(src / "a" / "b" / "z.txt", "z");
    write(src / ".git" / "h.log", "h");
    fs::create_directories(src / "a" / "empty");
    fs::create_directory_symlink(src / "a" / "b", src / "a" / "to_b");
    const struct timespec times[2] = {{now - 7, 0}, {now - 7, 0}};
    REQUIRE(utimensat(AT_FDCWD, (src / "a" / "b").c_str(), times, 0) == 0);

    auto r =
        request(files::Action::copy, dir.path, {(src / "**" / "*.log").string()}, dir.path / "out");
    CHECK(refusal(r) == (src / "**" / "*.log").string() + ": ** needs recursive");
    r.recursive = true;
    auto outcome = files::run(r, nullptr);
    REQUIRE(outcome.ok());
    CHECK(outcome->files == 3);
    CHECK(read(dir.path / "out" / "top.log") == "t");
    CHECK(read(dir.path / "out" / "a" / "x.log") == "x");
    CHECK(read(dir.path / "out" / "a" / "b" / "y.log") == "y");
    CHECK_FALSE(fs::exists(dir.path / "out" / "a" / "b" / "z.txt"));
    CHECK_FALSE(fs::exists(dir.path / "out" / ".git"));
    CHECK_FALSE(fs::exists(dir.path / "out" / "a" / "to_b"));

    // A folder with its contents; a symlink to a folder is copied as a link, not descended.
    r.sources = {(src / "a").string()};
    r.destination = (dir.path / "out2").string();
    outcome = files::run(r, nullptr);
    REQUIRE(outcome.ok());
    CHECK(outcome->files == 4);
    CHECK(read(dir.path / "out2" / "a" / "b" / "z.txt") == "z");
    CHECK(fs::is_directory(dir.path / "out2" / "a" / "empty"));
    CHECK(fs::is_symlink(dir.path / "out2" / "a" / "to_b"));
    CHECK(fs::read_symlink(dir.path / "out2" / "a" / "to_b") == src / "a" / "b");
    CHECK(mtime_of(dir.path / "out2" / "a" / "b") == now - 7);
  }

  TEST_CASE("a dry run changes nothing and says what it would do") {
    test::TempDir dir;
    const auto src = dir.path / "src";
    write(src / "a.log", "aaa", now - 5 * 86400);
    write(src / "sub" / "b.log", "bb", now - 5 * 86400);
    write(dir.path / "out" / "a.log", "existing");
    const std::string before = tree(dir.path);

    const std::tuple<files::Action, const char*> cases[] = {
        {files::Action::copy, "would copy "},
        {files::Action::move, "would move "},
        {files::Action::remove, "would delete "},
        {files::Action::archive, "would add "},
    };
    for (auto [action, prefix] : cases) {
      const std::string expected = prefix;
      CAPTURE(expected);
      auto r = request(action, dir.path, {(src / "*").string()},
                       action == files::Action::archive ? dir.path / "out" / "x.tar.gz"
                                                        : dir.path / "out2");
      r.recursive = true;
      r.dry_run = true;
      r.overwrite = true;
      r.remove_sources = true;
      r.older_than = 86400;
      auto outcome = files::run(r, nullptr);
      REQUIRE(outcome.ok());
      CHECK(outcome->files == 2);
      CHECK(outcome->bytes == 5);
      REQUIRE_FALSE(outcome->lines.empty());
      CHECK(outcome->lines.front().rfind(expected + (src / "a.log").string(), 0) == 0);
      for (const auto& line : outcome->lines) {
        CHECK(line.rfind("would ", 0) == 0);
      }
      CHECK(tree(dir.path) == before);
    }

    auto r = request(files::Action::remove, dir.path, {(src / "a.log").string()});
    r.dry_run = true;
    auto outcome = files::run(r, nullptr);
    REQUIRE(outcome.ok());
    CHECK(outcome->lines ==
          std::vector<std::string>{"would delete " + (src / "a.log").string() + " (3 B)"});
    CHECK(tree(dir.path) == before);
  }

  TEST_CASE("overwrite off refuses an existing file, on replaces it") {
    test::TempDir dir;
    write(dir.path / "src" / "a.csv", "new");
    write(dir.path / "src" / "b.csv", "bbb");
    write(dir.path / "out" / "a.csv", "old");
    const auto target = (dir.path / "out" / "a.csv").string();

    for (auto action : {files::Action::copy, files::Action::move}) {
      auto r = request(action, dir.path, {(dir.path / "src" / "*.csv").string()}, dir.path / "out");
      CHECK(refusal(r) == target + " already exists; set overwrite to replace it");
      CHECK(read(target) == "old");
      CHECK_FALSE(fs::exists(dir.path / "out" / "b.csv")); // checked before anything changes
    }

    auto r = request(files::Action::copy, dir.path, {(dir.path / "src" / "a.csv").string()},
                     dir.path / "out");
    r.overwrite = true;
    REQUIRE(files::run(r, nullptr).ok());
    CHECK(read(target) == "new");
    CHECK(names_in(dir.path / "out") == std::vector<std::string>{"a.csv"}); // no temp file left

    write(target, "old");
    r.action = files::Action::move;
    REQUIRE(files::run(r, nullptr).ok());
    CHECK(read(target) == "new");
    CHECK_FALSE(fs::exists(dir.path / "src" / "a.csv"));
  }

  TEST_CASE("archive: tar.gz read back, names relative to the common parent") {
    test::TempDir dir;
    const auto src = dir.path / "src";
    write(src / "a.log", "aaa", now - 20);
    write(src / "sub" / "b.log", "bb");
    fs::create_symlink("a.log", src / "sub" / "link");
    const auto archive = dir.path / "out" / "x.tar.gz";

    auto r = request(files::Action::archive, dir.path,
                     {(src / "a.log").string(), (src / "sub").string()}, archive);
    r.recursive = true;
    auto outcome = files::run(r, nullptr);
    REQUIRE(outcome.ok());
    CHECK(outcome->files == 3);
    CHECK(outcome->bytes == 5);
    CHECK(outcome->lines ==
          std::vector<std::string>{
              "added " + (src / "a.log").string() + " as a.log (3 B)",
              "added " + (src / "sub" / "b.log").string() + " as sub/b.log (2 B)",
              "added " + (src / "sub" / "link").string() + " as sub/link (symlink to a.log)",
              "archived 3 files (5 B) into " + archive.string()});
    CHECK(read_archive(archive) ==
          std::vector<std::pair<std::string, std::string>>{
              {"a.log", "aaa"}, {"sub/", ""}, {"sub/b.log", "bb"}, {"sub/link", "-> a.log"}});
    CHECK(names_in(dir.path / "out") == std::vector<std::string>{"x.tar.gz"});
    CHECK(fs::exists(src / "a.log"));

    CHECK(refusal(r) == archive.string() + " already exists; set overwrite to replace it");
    r.overwrite = true;
    CHECK(files::run(r, nullptr).ok());
  }

  TEST_CASE("archive with remove_sources deletes what it archived") {
    test::TempDir dir;
    const auto src = dir.path / "logs";
    write(src / "a.log", "aaa");
    write(src / "b.log", "bbbb");
    write(src / "keep.txt", "k");
    const auto archive = src / "logs.tar.gz";

    auto r = request(files::Action::archive, dir.path, {(src / "*").string()}, archive);
    r.remove_sources = true;
    auto outcome = files::run(r, nullptr);
    REQUIRE(outcome.ok());
    CHECK(outcome->lines.back() == "deleted " + (src / "keep.txt").string() + " (1 B)");
    CHECK(names_in(src) == std::vector<std::string>{"logs.tar.gz"});
    CHECK(read_archive(archive) == std::vector<std::pair<std::string, std::string>>{
                                       {"a.log", "aaa"}, {"b.log", "bbbb"}, {"keep.txt", "k"}});
  }

  TEST_CASE("refusals name the path") {
    test::TempDir dir;
    const auto data = dir.path / "data";
    const auto secret = dir.path / "secret";
    write(data / "ok.txt", "ok");
    write(secret / "file.txt", "secret");
    const std::string allowed = " is outside allowed_paths (" + data.string() + ")";

    files::Request r =
        request(files::Action::copy, data, {(data / "ok.txt").string()}, data / "out");
    r.allowed_paths.clear();
    CHECK(refusal(r) == "no allowed_paths are configured; file steps are refused");

    CHECK(refusal(request(files::Action::copy, data, {"/etc/passwd"}, data / "out")) ==
          "/etc/passwd" + allowed);
    const std::string escape = (data / ".." / "secret" / "file.txt").string();
    CHECK(refusal(request(files::Action::remove, data, {escape})) ==
          escape + " escapes allowed_paths through ..");
    CHECK(refusal(request(files::Action::copy, data, {(data / "ok.txt").string()}, secret / "x")) ==
          (secret / "x").string() + allowed);
    CHECK(refusal(request(files::Action::copy, data, {"data/ok.txt"}, data / "out")) ==
          "data/ok.txt is a relative path; file steps need absolute paths");
    CHECK(refusal(request(files::Action::copy, data, {(data / "ok.txt").string()}, "out")) ==
          "out is a relative path; file steps need absolute paths");

    // A symlink out, as a folder in the path (source and destination) and matched by a glob.
    fs::create_directory_symlink(secret, data / "door");
    const std::string door =
        (data / "door").string() + " -> " + secret.string() + " is a symlink out of allowed_paths";
    CHECK(refusal(request(files::Action::copy, data, {(data / "door" / "file.txt").string()},
                          data / "out")) == door);
    CHECK(refusal(request(files::Action::copy, data, {(data / "ok.txt").string()},
                          data / "door" / "x")) == door);
    auto removal = request(files::Action::remove, data, {(data / "*").string()});
    removal.recursive = true;
    CHECK(refusal(removal) == door);
    CHECK(fs::exists(data / "ok.txt")); // nothing was deleted
    fs::remove(data / "door");

    fs::create_directories(data / "sub");
    fs::create_symlink(secret / "file.txt", data / "sub" / "evil.txt");
    const std::string evil = (data / "sub" / "evil.txt").string() + " -> " +
                             (secret / "file.txt").string() + " is a symlink out of allowed_paths";
    CHECK(refusal(request(files::Action::copy, data, {(data / "sub" / "*.txt").string()},
                          data / "out")) == evil);
    CHECK_FALSE(fs::exists(data / "out"));
    // Found inside a folder a source names, a link is acted on as a link: copied as one.
    auto copy = request(files::Action::copy, data, {(data / "sub").string()}, data / "out" / "");
    copy.recursive = true;
    REQUIRE(files::run(copy, nullptr).ok());
    CHECK(fs::read_symlink(data / "out" / "sub" / "evil.txt") == secret / "file.txt");
    CHECK(read(secret / "file.txt") == "secret");
  }

  TEST_CASE("a relative symlink must still point inside from its new place") {
    test::TempDir dir;
    const auto data = dir.path / "data";
    write(data / "a" / "target.txt", "t");
    fs::create_directories(data / "a" / "b");
    fs::create_symlink("../target.txt", data / "a" / "b" / "link");
    fs::create_symlink("target.txt", data / "a" / "near");
    CHECK(files::run(
              request(files::Action::copy, data, {(data / "a" / "near").string()}, data / "c" / ""),
              nullptr)
              .ok());
    CHECK(fs::read_symlink(data / "c" / "near") == "target.txt");
    // From data/link, ../target.txt is outside data.
    CHECK(
        refusal(request(files::Action::copy, data, {(data / "a" / "b" / "link").string()}, data)) ==
        (data / "link").string() + " -> ../target.txt would be a symlink out of "
                                   "allowed_paths");
  }

  TEST_CASE("cancel is checked between files") {
    test::TempDir dir;
    write(dir.path / "a.csv", "a");
    write(dir.path / "b.csv", "b");
    exec::CancelToken token;
    token.cancel();
    auto outcome = files::run(
        request(files::Action::copy, dir.path, {(dir.path / "*.csv").string()}, dir.path / "out"),
        &token);
    REQUIRE_FALSE(outcome.ok());
    CHECK(outcome.error().message == "cancelled after 0 of 2 files");
    CHECK_FALSE(fs::exists(dir.path / "out" / "a.csv"));
  }

  TEST_CASE("confine") {
    test::TempDir dir;
    const std::string root = (dir.path / "data").string();
    const std::string other = (dir.path / "other").string();
    fs::create_directories(dir.path / "data" / "sub");
    fs::create_directories(dir.path / "other");
    fs::create_directory_symlink(dir.path / "other", dir.path / "data" / "out");
    fs::create_directory_symlink(dir.path / "data" / "sub", dir.path / "data" / "in");
    fs::create_symlink("/nonexistent/x", dir.path / "data" / "dangling");
    const std::vector<std::string> allowed = {root, "/nonexistent-root/x"};
    const std::string list = " (" + root + ", /nonexistent-root/x)";

    const std::tuple<std::string, std::string, std::string> cases[] = {
        {root, root, ""},
        {root + "/", root, ""},
        {root + "/sub/./file", root + "/sub/file", ""},
        {root + "/sub/../file", root + "/file", ""},
        {root + "/new/deeper/file", root + "/new/deeper/file", ""},
        {root + "/in/file", root + "/sub/file", ""},
        {root + "//sub", root + "/sub", ""},
        {"/nonexistent-root/x/y", "/nonexistent-root/x/y", ""},
        {root + "/..x/y", root + "/..x/y", ""},
        {"/etc/passwd", "", "/etc/passwd is outside allowed_paths" + list},
        {"/etc/../etc/passwd", "", "/etc/../etc/passwd is outside allowed_paths" + list},
        {root + "x", "", root + "x is outside allowed_paths" + list},
        {root + "/../other", "", root + "/../other escapes allowed_paths through .."},
        {root + "/sub/../../other/f", "",
         root + "/sub/../../other/f escapes allowed_paths through .."},
        {root + "/out", "", root + "/out -> " + other + " is a symlink out of allowed_paths"},
        {root + "/out/new/file", "",
         root + "/out -> " + other + " is a symlink out of allowed_paths"},
        {root + "/dangling", "",
         root + "/dangling -> /nonexistent/x is a symlink out of allowed_paths"},
        {"relative/x", "", "relative/x is a relative path; file steps need absolute paths"},
        {"", "", "an empty path is refused; file steps need absolute paths"},
    };
    for (const auto& [path, expected, message] : cases) {
      CAPTURE(path);
      auto confined = files::confine(path, allowed);
      if (message.empty()) {
        REQUIRE(confined.ok());
        CHECK(*confined == expected);
      } else {
        REQUIRE_FALSE(confined.ok());
        CHECK(confined.error().message == message);
      }
    }
    CHECK(files::confine(root, {}).error().message ==
          "no allowed_paths are configured; file steps are refused");
    CHECK(files::confine(root + "/out/x", {root, other}).ok());
  }

  TEST_CASE("write_atomically") {
    test::TempDir dir;
    const auto path = dir.path / "state.json";
    const std::vector<std::string> allowed = {dir.path.string()};
    CHECK_FALSE(files::write_atomically(path.string(), "first", allowed));
    CHECK(read(path) == "first");
    fs::permissions(path, fs::perms(0600));
    CHECK_FALSE(files::write_atomically(path.string(), "second", allowed));
    CHECK(read(path) == "second");
    CHECK(mode_of(path) == 0600);
    CHECK(names_in(dir.path) == std::vector<std::string>{"state.json"});

    auto refused = files::write_atomically("/etc/jobs-test", "x", allowed);
    REQUIRE(refused);
    CHECK(refused->message ==
          "/etc/jobs-test is outside allowed_paths (" + dir.path.string() + ")");
    refused = files::write_atomically((dir.path / "missing" / "f").string(), "x", allowed);
    REQUIRE(refused);
    CHECK(refused->message == "cannot create a temporary file in " +
                                  (dir.path / "missing").string() + ": No such file or directory");
  }
}
