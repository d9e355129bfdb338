#include <base/duration.hpp>
#include <files/files.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <map>
#include <set>
#include <system_error>
#include <utility>

namespace files {

namespace {

base::Error error(std::string message) {
  base::Error e;
  e.message = std::move(message);
  return e;
}

std::string describe(int err) {
  return std::generic_category().message(err);
}

std::string human_size(std::int64_t bytes) {
  if (bytes < 1024) {
    return std::to_string(bytes) + " B";
  }
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  auto value = static_cast<double>(bytes) / 1024.0;
  size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(units)) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  return text;
}

std::string count_files(std::int64_t n) {
  return std::to_string(n) + (n == 1 ? " file" : " files");
}

// Path helpers on absolute, normal paths ("/" or "/a/b", never a trailing '/').

std::vector<std::string> split(std::string_view path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    const size_t end = std::min(path.find('/', i), path.size());
    if (end > i) {
      parts.emplace_back(path.substr(i, end - i));
    }
    i = end + 1;
  }
  return parts;
}

std::string child(const std::string& dir, std::string_view name) {
  return (dir == "/" ? "/" : dir + "/") + std::string(name);
}

std::string parent_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

std::string name_of(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

bool inside(const std::string& path, const std::string& root) {
  if (root == "/") {
    return true;
  }
  return path.compare(0, root.size(), root) == 0 &&
         (path.size() == root.size() || path[root.size()] == '/');
}

bool inside_any(const std::string& path, const std::vector<std::string>& roots) {
  for (const auto& root : roots) {
    if (inside(path, root)) {
      return true;
    }
  }
  return false;
}

// Removes "." and empty components and applies ".." lexically ("/.." is "/").
std::string lexical_normal(std::string_view path, bool* dotdot = nullptr) {
  std::vector<std::string> out;
  for (auto& part : split(path)) {
    if (part == ".") {
      continue;
    }
    if (part == "..") {
      if (dotdot != nullptr) {
        *dotdot = true;
      }
      if (!out.empty()) {
        out.pop_back();
      }
      continue;
    }
    out.push_back(std::move(part));
  }
  std::string joined;
  for (const auto& part : out) {
    joined += "/" + part;
  }
  return joined.empty() ? "/" : joined;
}

bool has_glob(std::string_view name) {
  return name.find_first_of("*?[") != std::string::npos;
}

// Follows every symlink of an absolute normal path, as the kernel would; the part that does not
// exist is appended as it is.
base::Result<std::string> resolve(const std::string& normal) {
  auto parts = split(normal);
  std::vector<std::string> todo(parts.rbegin(), parts.rend());
  std::string out = "/";
  bool missing = false;
  int links = 0;
  while (!todo.empty()) {
    const std::string part = todo.back();
    todo.pop_back();
    if (part == ".") {
      continue;
    }
    if (part == "..") {
      out = parent_of(out);
      continue;
    }
    std::string next = child(out, part);
    if (missing) {
      out = std::move(next);
      continue;
    }
    struct stat st {};
    if (lstat(next.c_str(), &st) != 0) {
      if (errno != ENOENT && errno != ENOTDIR) {
        return error("cannot resolve " + next + ": " + describe(errno));
      }
      missing = true;
      out = std::move(next);
      continue;
    }
    if (!S_ISLNK(st.st_mode)) {
      out = std::move(next);
      continue;
    }
    if (++links > 40) {
      return error("cannot resolve " + normal + ": " + describe(ELOOP));
    }
    std::string target(static_cast<size_t>(st.st_size > 0 ? st.st_size : 4096) + 1, '\0');
    const ssize_t n = readlink(next.c_str(), target.data(), target.size());
    if (n < 0) {
      return error("cannot read the symlink " + next + ": " + describe(errno));
    }
    target.resize(static_cast<size_t>(n));
    if (!target.empty() && target[0] == '/') {
      out = "/";
    }
    auto more = split(target);
    todo.insert(todo.end(), more.rbegin(), more.rend());
  }
  return out;
}

std::string read_link(const std::string& path) {
  std::string target(4096, '\0');
  const ssize_t n = readlink(path.c_str(), target.data(), target.size());
  target.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return target;
}

struct Roots {
  std::vector<std::string> given;    // for messages
  std::vector<std::string> lexical;  // normal, symlinks not resolved
  std::vector<std::string> resolved; // what is checked
};

base::Result<Roots> make_roots(const std::vector<std::string>& allowed) {
  if (allowed.empty()) {
    return error("no allowed_paths are configured; file steps are refused");
  }
  Roots roots;
  for (const auto& root : allowed) {
    if (root.empty() || root[0] != '/') {
      return error("allowed_paths entry \"" + root + "\" is not an absolute path");
    }
    roots.given.push_back(root);
    roots.lexical.push_back(lexical_normal(root));
    auto resolved = resolve(roots.lexical.back());
    if (!resolved) {
      return resolved.error();
    }
    roots.resolved.push_back(std::move(*resolved));
  }
  return roots;
}

std::string list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += (out.empty() ? "" : ", ") + item;
  }
  return out;
}

base::Result<std::string> confine_with(const std::string& path, const Roots& roots) {
  if (path.empty()) {
    return error("an empty path is refused; file steps need absolute paths");
  }
  if (path[0] != '/') {
    return error(path + " is a relative path; file steps need absolute paths");
  }
  bool dotdot = false;
  const std::string normal = lexical_normal(path, &dotdot);
  auto resolved = resolve(normal);
  if (!resolved) {
    return resolved.error();
  }
  if (inside_any(*resolved, roots.resolved)) {
    return resolved;
  }
  if (!inside_any(normal, roots.lexical) && !inside_any(normal, roots.resolved)) {
    if (dotdot) {
      // Was the path inside before its first ".."? Then ".." is what takes it out.
      std::string before = "/";
      for (const auto& part : split(path)) {
        if (part == "..") {
          break;
        }
        before = part == "." ? before : child(before, part);
      }
      if (inside_any(before, roots.lexical) || inside_any(before, roots.resolved)) {
        return error(path + " escapes allowed_paths through ..");
      }
    }
    return error(path + " is outside allowed_paths (" + list(roots.given) + ")");
  }
  // Lexically inside, physically outside: name the first symlink that leads out.
  std::string prefix = "/";
  for (const auto& part : split(normal)) {
    prefix = child(prefix, part);
    struct stat st {};
    if (lstat(prefix.c_str(), &st) != 0) {
      break;
    }
    if (S_ISLNK(st.st_mode)) {
      auto target = resolve(prefix);
      if (target && !inside_any(*target, roots.resolved)) {
        return error(prefix + " -> " + *target + " is a symlink out of allowed_paths");
      }
    }
  }
  return error(path + " resolves to " + *resolved + ", outside allowed_paths (" +
               list(roots.given) + ")");
}

// A new file (or symlink) next to `target`, removed unless released.
class TempFile {
public:
  TempFile() = default;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    close_fd();
    if (!path_.empty()) {
      unlink(path_.c_str());
    }
  }

  // Creates a regular file (mode before the umask) or, with `link_text`, a symlink.
  std::optional<base::Error> create(const std::string& target, mode_t mode,
                                    const std::string* link_text = nullptr) {
    static std::atomic<unsigned> counter{0};
    const std::string dir = parent_of(target);
    const std::string name = name_of(target).substr(0, 200);
    for (int attempt = 0; attempt < 100; ++attempt) {
      std::string candidate = child(dir, "." + name + ".tmp-" + std::to_string(getpid()) + "-" +
                                             std::to_string(counter++));
      if (link_text != nullptr) {
        if (symlink(link_text->c_str(), candidate.c_str()) == 0) {
          path_ = std::move(candidate);
          return std::nullopt;
        }
      } else {
        fd_ = open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd_ >= 0) {
          path_ = std::move(candidate);
          return std::nullopt;
        }
      }
      if (errno != EEXIST) {
        return error("cannot create a temporary file in " + dir + ": " + describe(errno));
      }
    }
    return error("cannot create a temporary file in " + dir + ": " + describe(EEXIST));
  }

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

  std::optional<base::Error> close_checked() {
    const int fd = fd_;
    fd_ = -1;
    if (fd >= 0 && close(fd) != 0) {
      return error("cannot write " + path_ + ": " + describe(errno));
    }
    return std::nullopt;
  }

  void release() { path_.clear(); }

private:
  void close_fd() {
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
  }

  std::string path_;
  int fd_ = -1;
};

class Fd {
public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  int get() const { return fd_; }

private:
  int fd_;
};

std::optional<base::Error> write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return error("cannot write " + path + ": " + describe(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return std::nullopt;
}

std::optional<base::Error> sync_folder(const std::string& dir) {
  const Fd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || fsync(fd.get()) != 0) {
    return error("cannot sync the folder " + dir + ": " + describe(errno));
  }
  return std::nullopt;
}

std::string exists_message(const std::string& target) {
  return target + " already exists; set overwrite to replace it";
}

// Renames `from` to `to`; without `overwrite`, never replaces an existing `to`.
// Returns the errno (0: done).
int rename_to(const std::string& from, const std::string& to, bool overwrite) {
  if (overwrite) {
    return rename(from.c_str(), to.c_str()) == 0 ? 0 : errno;
  }
  if (renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
    return 0;
  }
  if (errno != EINVAL && errno != ENOSYS) {
    return errno;
  }
  // The file system cannot rename without replacing: check, then rename.
  struct stat st {};
  if (lstat(to.c_str(), &st) == 0) {
    return EEXIST;
  }
  return rename(from.c_str(), to.c_str()) == 0 ? 0 : errno;
}

std::optional<base::Error> place(TempFile& temp, const std::string& target, bool overwrite) {
  const int err = rename_to(temp.path(), target, overwrite);
  if (err == EEXIST) {
    return error(exists_message(target));
  }
  if (err != 0) {
    return error("cannot create " + target + ": " + describe(err));
  }
  temp.release();
  return std::nullopt;
}

// Creates `dir` and its missing parents (the caller has confined it).
std::optional<base::Error> make_folders(const std::string& dir) {
  std::string prefix = "/";
  for (const auto& part : split(dir)) {
    prefix = child(prefix, part);
    if (mkdir(prefix.c_str(), 0777) != 0 && errno != EEXIST) {
      return error("cannot create the folder " + prefix + ": " + describe(errno));
    }
  }
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return error("cannot create the folder " + dir + ": " + describe(ENOTDIR));
  }
  return std::nullopt;
}

enum class Kind { file, folder, link };

struct Entry {
  std::string path; // its folder resolved, its name not: a symlink is the link itself
  std::string rel;  // relative to the literal part of the source
  Kind kind = Kind::file;
  struct stat st {};
  std::string link; // a symlink's text
};

std::optional<base::Error> copy_file(const Entry& entry, const std::string& target, bool overwrite,
                                     bool durable) {
  const Fd in(open(entry.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st {};
  if (in.get() < 0 || fstat(in.get(), &st) != 0) {
    return error("cannot read " + entry.path + ": " + describe(errno));
  }
  TempFile temp;
  if (auto failed = temp.create(target, 0600)) {
    return failed;
  }
  std::string buffer(1 << 17, '\0');
  while (true) {
    const ssize_t n = read(in.get(), buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return error("cannot read " + entry.path + ": " + describe(errno));
    }
    if (n == 0) {
      break;
    }
    if (auto failed =
            write_all(temp.fd(), std::string_view(buffer.data(), static_cast<size_t>(n)), target)) {
      return failed;
    }
  }
  if (geteuid() == 0) {
    // Root keeps the owner, as cp -p does; a failure here is not worth failing the copy.
    (void)!fchown(temp.fd(), st.st_uid, st.st_gid);
  }
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (fchmod(temp.fd(), st.st_mode & 07777) != 0 || futimens(temp.fd(), times) != 0 ||
      (durable && fsync(temp.fd()) != 0)) {
    return error("cannot write " + target + ": " + describe(errno));
  }
  if (auto failed = temp.close_checked()) {
    return failed;
  }
  return place(temp, target, overwrite);
}

std::optional<base::Error> copy_link(const Entry& entry, const std::string& target,
                                     bool overwrite) {
  TempFile temp;
  if (auto failed = temp.create(target, 0, &entry.link)) {
    return failed;
  }
  const struct timespec times[2] = {entry.st.st_atim, entry.st.st_mtim};
  utimensat(AT_FDCWD, temp.path().c_str(), times, AT_SYMLINK_NOFOLLOW);
  return place(temp, target, overwrite);
}

std::optional<base::Error> set_folder_times(const Entry& entry, const std::string& target) {
  const struct timespec times[2] = {entry.st.st_atim, entry.st.st_mtim};
  if (chmod(target.c_str(), entry.st.st_mode & 07777) != 0 ||
      utimensat(AT_FDCWD, target.c_str(), times, 0) != 0) {
    return error("cannot set the mode and time of " + target + ": " + describe(errno));
  }
  return std::nullopt;
}

base::Result<std::vector<std::string>> list_folder(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    return error("cannot list " + dir + ": " + describe(errno));
  }
  std::vector<std::string> names;
  while (const dirent* e = readdir(d)) {
    const std::string_view name = e->d_name;
    if (name != "." && name != "..") {
      names.emplace_back(name);
    }
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

const char* verb_of(Action action) {
  switch (action) {
  case Action::copy:
    return "copy";
  case Action::move:
    return "move";
  case Action::remove:
    return "delete";
  case Action::archive:
    return "archive";
  }
  return "";
}

// Expands the sources into entries, checking each against the roots.
class Collector {
public:
  Collector(const Request& request, const Roots& roots, std::optional<std::int64_t> cutoff,
            std::string exclude)
      : request_(request), roots_(roots), cutoff_(cutoff), exclude_(std::move(exclude)) {}

  std::vector<Entry> entries;
  std::vector<std::string> notes;

  std::optional<base::Error> add_source(const std::string& source) {
    auto checked = confine_with(source, roots_);
    if (!checked) {
      return checked.error();
    }
    auto parts = split(lexical_normal(source));
    if (parts.empty()) {
      return error("/ cannot be a source");
    }
    size_t first_glob = parts.size();
    for (size_t i = 0; i < parts.size(); ++i) {
      if (parts[i].find("**") != std::string::npos && parts[i] != "**") {
        return error(source + ": ** must be a whole name, as in /logs/**/*.log");
      }
      if (parts[i] == "**" && !request_.recursive) {
        return error(source + ": ** needs recursive");
      }
      if (first_glob == parts.size() && has_glob(parts[i])) {
        first_glob = i;
      }
    }
    literal_ = first_glob == parts.size();
    const size_t base_size = literal_ ? parts.size() - 1 : first_glob;
    std::string base = "/";
    for (size_t i = 0; i < base_size; ++i) {
      base = child(base, parts[i]);
    }
    auto resolved = confine_with(base, roots_);
    if (!resolved) {
      return resolved.error();
    }
    struct stat st {};
    if (stat(resolved->c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return std::nullopt;
    }
    const std::vector<std::string> rest(parts.begin() + static_cast<std::ptrdiff_t>(base_size),
                                        parts.end());
    return walk(*resolved, "", rest, 0);
  }

private:
  static std::string join_rel(const std::string& rel, const std::string& name) {
    return rel.empty() ? name : rel + "/" + name;
  }

  std::optional<base::Error> walk(const std::string& dir, const std::string& rel,
                                  const std::vector<std::string>& rest, size_t i) {
    const std::string& part = rest[i];
    const bool last = i + 1 == rest.size();
    if (part == "**" && !last) {
      if (auto failed = walk(dir, rel, rest, i + 1)) {
        return failed;
      }
      auto names = list_folder(dir);
      if (!names) {
        return names.error();
      }
      for (const auto& name : *names) {
        struct stat st {};
        const std::string path = child(dir, name);
        if (name[0] != '.' && lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
          if (auto failed = walk(path, join_rel(rel, name), rest, i)) {
            return failed;
          }
        }
      }
      return std::nullopt;
    }
    std::vector<std::string> names;
    if (has_glob(part)) {
      // A trailing ** is every name, each folder with its contents (recursive is on).
      const std::string pattern = part == "**" ? "*" : part;
      auto all = list_folder(dir);
      if (!all) {
        return all.error();
      }
      for (auto& name : *all) {
        if (fnmatch(pattern.c_str(), name.c_str(), FNM_PERIOD) == 0) {
          names.push_back(std::move(name));
        }
      }
    } else {
      names.push_back(part);
    }
    for (const auto& name : names) {
      const std::string path = child(dir, name);
      struct stat st {};
      if (lstat(path.c_str(), &st) != 0) {
        continue; // a literal name that does not exist, or a file gone since the listing
      }
      if (last) {
        if (auto failed = match(path, join_rel(rel, name), st, true)) {
          return failed;
        }
      } else if (S_ISDIR(st.st_mode)) {
        if (auto failed = walk(path, join_rel(rel, name), rest, i + 1)) {
          return failed;
        }
      } else if (S_ISLNK(st.st_mode)) {
        auto target = confine_with(path, roots_);
        if (!target) {
          return target.error();
        }
        struct stat tst {};
        if (stat(target->c_str(), &tst) == 0 && S_ISDIR(tst.st_mode)) {
          if (auto failed = walk(*target, join_rel(rel, name), rest, i + 1)) {
            return failed;
          }
        }
      }
    }
    return std::nullopt;
  }

  bool old_enough(const struct stat& st) const { return !cutoff_ || st.st_mtim.tv_sec < *cutoff_; }

  // `top`: matched by the source itself, not found inside a matched folder.
  std::optional<base::Error> match(const std::string& path, const std::string& rel,
                                   const struct stat& st, bool top) {
    if (path == exclude_ || seen_.count(path) != 0) {
      return std::nullopt;
    }
    Entry entry{path, rel, Kind::file, st, {}};
    if (S_ISLNK(st.st_mode)) {
      // A link a source names must lead inside allowed_paths; one found inside a folder is acted
      // on as a link wherever it leads (copied, moved, archived or deleted as a link, never
      // followed), so that one such link does not fail the whole folder.
      if (auto target = confine_with(path, roots_); !target && top) {
        return target.error();
      }
      entry.kind = Kind::link;
      entry.link = read_link(path);
    } else if (S_ISDIR(st.st_mode)) {
      if (!request_.recursive) {
        if (top && literal_) {
          return error(path + " is a folder; set recursive to " + verb_of(request_.action) +
                       " folders");
        }
        notes.push_back("skipped folder " + path + " (recursive is off)");
        return std::nullopt;
      }
      seen_.insert(path);
      if (!cutoff_) {
        entry.kind = Kind::folder;
        entries.push_back(std::move(entry));
      }
      auto names = list_folder(path);
      if (!names) {
        return names.error();
      }
      for (const auto& name : *names) {
        const std::string inner = child(path, name);
        struct stat ist {};
        if (lstat(inner.c_str(), &ist) == 0) {
          if (auto failed = match(inner, join_rel(rel, name), ist, false)) {
            return failed;
          }
        }
      }
      return std::nullopt;
    } else if (!S_ISREG(st.st_mode)) {
      return error(path + " is not a regular file, folder or symlink");
    }
    seen_.insert(path);
    if (old_enough(st)) {
      entries.push_back(std::move(entry));
    }
    return std::nullopt;
  }

  const Request& request_;
  const Roots& roots_;
  std::optional<std::int64_t> cutoff_;
  std::string exclude_;
  std::set<std::string> seen_;
  bool literal_ = false;
};

std::string size_note(const Entry& entry) {
  if (entry.kind == Kind::link) {
    return "(symlink to " + entry.link + ")";
  }
  return "(" + human_size(entry.st.st_size) + ")";
}

std::int64_t size_of(const Entry& entry) {
  return entry.kind == Kind::file ? static_cast<std::int64_t>(entry.st.st_size) : 0;
}

struct Context {
  const Request& request;
  const Roots& roots;
  exec::CancelToken* cancel;
  std::int64_t total = 0; // files to act on
  Outcome outcome;

  std::optional<base::Error> check_cancel() const {
    if (cancel != nullptr && cancel->cancelled()) {
      return error("cancelled after " + std::to_string(outcome.files) + " of " +
                   std::to_string(total) + " files");
    }
    return std::nullopt;
  }

  void count(const Entry& entry, std::string line) {
    outcome.lines.push_back(std::move(line));
    outcome.paths.push_back(entry.path);
    outcome.files += 1;
    outcome.bytes += size_of(entry);
  }
};

std::int64_t count_non_folders(const std::vector<Entry>& entries) {
  std::int64_t n = 0;
  for (const auto& entry : entries) {
    n += entry.kind == Kind::folder ? 0 : 1;
  }
  return n;
}

// Deletes the entries: files and links first, then folders, deepest first.
std::optional<base::Error> delete_entries(Context& context, const std::vector<Entry>& entries,
                                          bool count) {
  const bool dry = context.request.dry_run;
  for (const auto& entry : entries) {
    if (entry.kind == Kind::folder) {
      continue;
    }
    if (auto cancelled = context.check_cancel()) {
      return cancelled;
    }
    if (!dry && unlink(entry.path.c_str()) != 0) {
      return error("cannot delete " + entry.path + ": " + describe(errno));
    }
    std::string line = (dry ? "would delete " : "deleted ") + entry.path + " " + size_note(entry);
    if (count) {
      context.count(entry, std::move(line));
    } else {
      context.outcome.lines.push_back(std::move(line));
    }
  }
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    if (it->kind != Kind::folder) {
      continue;
    }
    if (!dry && rmdir(it->path.c_str()) != 0) {
      return error("cannot delete the folder " + it->path + ": " + describe(errno));
    }
    context.outcome.lines.push_back((dry ? "would delete folder " : "deleted folder ") + it->path);
  }
  return std::nullopt;
}

struct Target {
  const Entry* entry;
  std::string path;
};

base::Result<std::vector<Target>> plan_targets(const Context& context,
                                               const std::vector<Entry>& entries) {
  const Request& request = context.request;
  const std::string verb = verb_of(request.action);
  auto destination = confine_with(request.destination, context.roots);
  if (!destination) {
    return destination.error();
  }
  struct stat dst {};
  const bool exists = stat(destination->c_str(), &dst) == 0;
  const bool to_file = request.sources.size() == 1 && !has_glob(request.sources[0]) &&
                       entries.size() == 1 && entries[0].kind != Kind::folder &&
                       request.destination.back() != '/' && !(exists && S_ISDIR(dst.st_mode));
  if (!to_file && exists && !S_ISDIR(dst.st_mode)) {
    return error("the destination " + *destination + " is not a folder");
  }
  std::map<std::string, std::string> parents; // as planned -> confined
  std::map<std::string, const Entry*> taken;
  std::vector<Target> targets;
  for (const auto& entry : entries) {
    if (entry.kind == Kind::folder && inside(*destination, entry.path)) {
      return error("the destination " + *destination + " is inside " + entry.path +
                   ", which is a source");
    }
    const std::string planned = to_file ? *destination : *destination + "/" + entry.rel;
    const std::string parent = parent_of(planned);
    auto known = parents.find(parent);
    if (known == parents.end()) {
      auto confined = confine_with(parent, context.roots);
      if (!confined) {
        return confined.error();
      }
      known = parents.emplace(parent, *confined).first;
    }
    std::string target = child(known->second, name_of(planned));
    auto [at, fresh] = taken.emplace(target, &entry);
    if (!fresh) {
      return error("both " + at->second->path + " and " + entry.path + " would " + verb + " to " +
                   target);
    }
    struct stat tst {};
    if (lstat(target.c_str(), &tst) == 0) {
      if (entry.kind == Kind::folder) {
        if (!S_ISDIR(tst.st_mode)) {
          return error(target + " exists and is not a folder");
        }
      } else if (S_ISDIR(tst.st_mode)) {
        return error(target + " is a folder");
      } else if (tst.st_dev == entry.st.st_dev && tst.st_ino == entry.st.st_ino) {
        return error(entry.path + " and " + target + " are the same file");
      } else if (!request.overwrite) {
        return error(exists_message(target));
      }
    }
    if (entry.kind == Kind::link && !entry.link.empty() && entry.link[0] != '/' &&
        confine_with(entry.path, context.roots)) {
      // A relative link points elsewhere from its new place: one that led inside must still
      // point inside (one that led out, found inside a folder, goes as it is).
      auto pointed = confine_with(child(parent_of(target), entry.link), context.roots);
      if (!pointed) {
        return error(target + " -> " + entry.link + " would be a symlink out of allowed_paths");
      }
    }
    targets.push_back({&entry, std::move(target)});
  }
  return targets;
}

std::optional<base::Error> copy_or_move(Context& context, const std::vector<Entry>& entries) {
  const Request& request = context.request;
  const bool move = request.action == Action::move;
  const bool dry = request.dry_run;
  auto targets = plan_targets(context, entries);
  if (!targets) {
    return targets.error();
  }
  std::vector<const Target*> folders;
  for (const auto& target : *targets) {
    const Entry& entry = *target.entry;
    if (entry.kind == Kind::folder) {
      if (!dry) {
        if (auto failed = make_folders(target.path)) {
          return failed;
        }
      }
      folders.push_back(&target);
      continue;
    }
    if (auto cancelled = context.check_cancel()) {
      return cancelled;
    }
    if (!dry) {
      if (auto failed = make_folders(parent_of(target.path))) {
        return failed;
      }
      int err = move ? rename_to(entry.path, target.path, request.overwrite) : EXDEV;
      if (err == EXDEV) {
        // Copy, or move across file systems: copy (durably, when the source goes next).
        auto failed = entry.kind == Kind::link
                          ? copy_link(entry, target.path, request.overwrite)
                          : copy_file(entry, target.path, request.overwrite, move);
        if (failed) {
          return failed;
        }
        err = move && unlink(entry.path.c_str()) != 0 ? errno : 0;
        if (err != 0) {
          return error("cannot delete " + entry.path + " after copying it to " + target.path +
                       ": " + describe(err));
        }
      } else if (err == EEXIST) {
        return error(exists_message(target.path));
      } else if (err != 0) {
        return error("cannot move " + entry.path + " to " + target.path + ": " + describe(err));
      }
    }
    const std::string verb =
        move ? (dry ? "would move " : "moved ") : (dry ? "would copy " : "copied ");
    context.count(entry, verb + entry.path + " -> " + target.path + " " + size_note(entry));
  }
  if (dry) {
    return std::nullopt;
  }
  for (auto it = folders.rbegin(); it != folders.rend(); ++it) {
    if (auto failed = set_folder_times(*(*it)->entry, (*it)->path)) {
      return failed;
    }
  }
  if (move) {
    for (auto it = folders.rbegin(); it != folders.rend(); ++it) {
      const std::string& path = (*it)->entry->path;
      if (rmdir(path.c_str()) != 0) {
        return error("cannot delete the folder " + path +
                     " after moving its files: " + describe(errno));
      }
    }
  }
  return std::nullopt;
}

std::string common_folder(const std::vector<Entry>& entries) {
  std::string common = parent_of(entries.front().path);
  for (const auto& entry : entries) {
    while (!inside(entry.path, common) || entry.path == common) {
      common = parent_of(common);
    }
  }
  return common;
}

class ArchiveWriter {
public:
  ArchiveWriter() : archive_(archive_write_new()) {}
  ArchiveWriter(const ArchiveWriter&) = delete;
  ArchiveWriter& operator=(const ArchiveWriter&) = delete;
  ~ArchiveWriter() { archive_write_free(archive_); }

  std::optional<base::Error> open(int fd, const std::string& name) {
    if (archive_write_add_filter_gzip(archive_) != ARCHIVE_OK ||
        archive_write_set_format_pax_restricted(archive_) != ARCHIVE_OK ||
        archive_write_open_fd(archive_, fd) != ARCHIVE_OK) {
      return failure(name);
    }
    return std::nullopt;
  }

  std::optional<base::Error> add(const Entry& entry, const std::string& name,
                                 const std::string& archive_name) {
    struct archive_entry* header = archive_entry_new();
    archive_entry_copy_pathname(header, name.c_str());
    archive_entry_set_perm(header, entry.st.st_mode & 07777);
    archive_entry_set_mtime(header, entry.st.st_mtim.tv_sec, entry.st.st_mtim.tv_nsec);
    archive_entry_set_uid(header, entry.st.st_uid);
    archive_entry_set_gid(header, entry.st.st_gid);
    switch (entry.kind) {
    case Kind::folder:
      archive_entry_set_filetype(header, AE_IFDIR);
      break;
    case Kind::link:
      archive_entry_set_filetype(header, AE_IFLNK);
      archive_entry_copy_symlink(header, entry.link.c_str());
      break;
    case Kind::file:
      archive_entry_set_filetype(header, AE_IFREG);
      archive_entry_set_size(header, entry.st.st_size);
      break;
    }
    const int written = archive_write_header(archive_, header);
    archive_entry_free(header);
    if (written < ARCHIVE_WARN) {
      return failure(archive_name);
    }
    if (entry.kind != Kind::file) {
      return std::nullopt;
    }
    const Fd in(::open(entry.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (in.get() < 0) {
      return error("cannot read " + entry.path + ": " + describe(errno));
    }
    // The header holds the size: write exactly that many bytes.
    auto left = static_cast<std::int64_t>(entry.st.st_size);
    std::string buffer(1 << 17, '\0');
    while (left > 0) {
      const ssize_t n =
          read(in.get(), buffer.data(), static_cast<size_t>(std::min<std::int64_t>(left, 1 << 17)));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        return error("cannot read " + entry.path + ": " + describe(errno));
      }
      if (n == 0) {
        return error(entry.path + " shrank while it was archived");
      }
      if (archive_write_data(archive_, buffer.data(), static_cast<size_t>(n)) < 0) {
        return failure(archive_name);
      }
      left -= n;
    }
    return std::nullopt;
  }

  std::optional<base::Error> close(const std::string& name) {
    if (archive_write_close(archive_) != ARCHIVE_OK) {
      return failure(name);
    }
    return std::nullopt;
  }

private:
  base::Error failure(const std::string& name) const {
    const char* what = archive_error_string(archive_);
    return error("cannot write " + name + ": " + (what != nullptr ? what : "libarchive failed"));
  }

  struct archive* archive_;
};

std::optional<base::Error> make_archive(Context& context, const std::string& destination,
                                        const std::vector<Entry>& entries) {
  const Request& request = context.request;
  const bool dry = request.dry_run;
  if (request.remove_sources) {
    for (const auto& entry : entries) {
      if (entry.kind == Kind::folder && inside(destination, entry.path)) {
        return error("the archive " + destination + " is inside " + entry.path +
                     ", which remove_sources would delete");
      }
    }
  }
  const std::string common = common_folder(entries);
  const size_t cut = common == "/" ? 1 : common.size() + 1;
  std::int64_t bytes = 0;
  for (const auto& entry : entries) {
    bytes += size_of(entry);
  }
  TempFile temp;
  ArchiveWriter writer;
  if (!dry) {
    if (auto failed = make_folders(parent_of(destination))) {
      return failed;
    }
    if (auto failed = temp.create(destination, 0666)) {
      return failed;
    }
    if (auto failed = writer.open(temp.fd(), destination)) {
      return failed;
    }
  }
  std::int64_t added = 0;
  for (const auto& entry : entries) {
    const std::string name = entry.path.substr(cut) + (entry.kind == Kind::folder ? "/" : "");
    if (entry.kind != Kind::folder) {
      if (auto cancelled = context.check_cancel()) {
        return cancelled;
      }
    }
    if (!dry) {
      if (auto failed = writer.add(entry, name, destination)) {
        return failed;
      }
    }
    if (entry.kind != Kind::folder) {
      ++added;
      context.outcome.lines.push_back((dry ? "would add " : "added ") + entry.path + " as " + name +
                                      " " + size_note(entry));
    }
  }
  if (!dry) {
    if (auto failed = writer.close(destination)) {
      return failed;
    }
    if (fsync(temp.fd()) != 0) {
      return error("cannot write " + destination + ": " + describe(errno));
    }
    if (auto failed = temp.close_checked()) {
      return failed;
    }
    if (auto failed = place(temp, destination, request.overwrite)) {
      return failed;
    }
    if (auto failed = sync_folder(parent_of(destination))) {
      return failed;
    }
  }
  for (const auto& entry : entries) {
    if (entry.kind != Kind::folder) {
      context.outcome.paths.push_back(entry.path);
    }
  }
  context.outcome.files = added;
  context.outcome.bytes = bytes;
  context.outcome.lines.push_back((dry ? "would archive " : "archived ") + count_files(added) +
                                  " (" + human_size(bytes) + ") into " + destination);
  if (request.remove_sources) {
    return delete_entries(context, entries, false);
  }
  return std::nullopt;
}

} // namespace

base::Result<std::string> confine(const std::string& path,
                                  const std::vector<std::string>& allowed) {
  auto roots = make_roots(allowed);
  if (!roots) {
    return roots.error();
  }
  return confine_with(path, *roots);
}

std::optional<base::Error> write_atomically(const std::string& path, std::string_view content,
                                            const std::vector<std::string>& allowed) {
  auto target = confine(path, allowed);
  if (!target) {
    return target.error();
  }
  TempFile temp;
  if (auto failed = temp.create(*target, 0666)) {
    return failed;
  }
  struct stat st {};
  if (stat(target->c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
      fchmod(temp.fd(), st.st_mode & 07777) != 0) {
    return error("cannot write " + *target + ": " + describe(errno));
  }
  if (auto failed = write_all(temp.fd(), content, *target)) {
    return failed;
  }
  if (fsync(temp.fd()) != 0) {
    return error("cannot write " + *target + ": " + describe(errno));
  }
  if (auto failed = temp.close_checked()) {
    return failed;
  }
  if (auto failed = place(temp, *target, true)) {
    return failed;
  }
  return sync_folder(parent_of(*target));
}

base::Result<Outcome> run(const Request& request, exec::CancelToken* cancel) {
  auto roots = make_roots(request.allowed_paths);
  if (!roots) {
    return roots.error();
  }
  const std::string verb = verb_of(request.action);
  if (request.sources.empty()) {
    return error(verb + " needs at least one source");
  }
  if (request.action != Action::remove && request.destination.empty()) {
    return error(verb + " needs a destination");
  }
  std::optional<std::int64_t> cutoff;
  if (request.older_than) {
    if (*request.older_than < 0) {
      return error("older_than must not be negative");
    }
    const std::int64_t now = request.now != 0 ? request.now : std::time(nullptr);
    cutoff = now - *request.older_than;
  }
  std::string archive_path;
  if (request.action == Action::archive) {
    auto destination = confine_with(request.destination, *roots);
    if (!destination) {
      return destination.error();
    }
    archive_path = *destination;
    struct stat st {};
    if (lstat(archive_path.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        return error("the archive " + archive_path + " is a folder");
      }
      if (!request.overwrite) {
        return error(exists_message(archive_path));
      }
    }
  }
  Collector collector(request, *roots, cutoff, archive_path);
  for (const auto& source : request.sources) {
    if (auto failed = collector.add_source(source)) {
      return *failed;
    }
  }
  Context context{request, *roots, cancel, count_non_folders(collector.entries), {}};
  context.outcome.lines = collector.notes;
  if (collector.entries.empty()) {
    std::string line = "no file matched " + list(request.sources);
    if (request.older_than) {
      line += " older than " + base::format_duration(*request.older_than);
    }
    context.outcome.lines.push_back(std::move(line));
    return std::move(context.outcome);
  }
  std::optional<base::Error> failed;
  switch (request.action) {
  case Action::copy:
  case Action::move:
    failed = copy_or_move(context, collector.entries);
    break;
  case Action::remove:
    failed = delete_entries(context, collector.entries, true);
    break;
  case Action::archive:
    failed = make_archive(context, archive_path, collector.entries);
    break;
  }
  if (failed) {
    return *failed;
  }
  return std::move(context.outcome);
}

} // namespace files
