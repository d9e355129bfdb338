#include <jobsd/watcher.hpp>

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <set>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace jobsd {

namespace fs = std::filesystem;

namespace {

// One mask for every watch: inotify keeps one watch per inode, and adding a watch again replaces
// its mask, so a folder that is both in the tree and the holder of a link must not get two.
// IN_EXCL_UNLINK: an editor's unlinked-but-open file no longer reports its writes.
constexpr std::uint32_t folder_events = IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO |
                                        IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB |
                                        IN_ONLYDIR | IN_EXCL_UNLINK;

constexpr int max_links = 40; // the kernel's own limit before ELOOP

// Entries whose changes cannot matter: hidden ones (.git, .x.yaml.swp, .x.yaml.tmp), backups
// (x.yaml~), vim's probe of whether it may write the folder (4913), emacs' autosaves (#x.yaml#).
bool ignored(std::string_view name) {
  return name.empty() || name.front() == '.' || name.back() == '~' || name == "4913" ||
         (name.size() > 1 && name.front() == '#' && name.back() == '#');
}

// A folder, not a link to one: the loader follows no link inside the jobs folder
// (jobs/folder.hpp), so neither does the watch.
bool is_folder(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string describe(int err) {
  if (err == ENOSPC) {
    return "too many inotify watches (fs.inotify.max_user_watches)";
  }
  if (err == EMFILE) {
    // inotify_init1 says EMFILE both for the process's open files and for the user's instances.
    return std::string(std::strerror(err)) + " (or fs.inotify.max_user_instances)";
  }
  return std::strerror(err);
}

class InotifyWatcher final : public Watcher {
public:
  InotifyWatcher(int fd, std::string root) : fd_(fd), root_(std::move(root)) {}
  ~InotifyWatcher() override { ::close(fd_); }
  InotifyWatcher(const InotifyWatcher&) = delete;
  InotifyWatcher& operator=(const InotifyWatcher&) = delete;

  int fd() const override { return fd_; }
  size_t watch_count() const override { return watches_.size(); }
  bool read_changes() override;

  // Watches the path to the root and the tree below it from scratch. The error that made the
  // root unwatchable, or that exhausted the watches; 0 when none.
  int start();

private:
  struct Watch {
    std::string path;            // the folder as reached from the root (or the holder's path)
    bool tree = false;           // a folder of the tree, whose entries' changes matter
    std::set<std::string> names; // entries on the path to the root: a change means rebuild
  };

  int add(const std::string& path, std::uint32_t extra);
  void add_tree(const std::string& path);
  void watch_path(const fs::path& path, int links);
  void watch_name(const fs::path& folder, const std::string& name);
  void drop(const std::string& path);
  bool handle(const inotify_event& ev);

  int fd_;
  std::string root_; // absolute, as given: through the links, which are re-resolved on rebuild
  int root_wd_ = -1;
  int error_ = 0;
  bool rebuild_ = false;
  std::unordered_map<int, Watch> watches_;
};

int InotifyWatcher::start() {
  error_ = 0;
  watch_path(root_, 0);
  add_tree(root_);
  return error_;
}

int InotifyWatcher::add(const std::string& path, std::uint32_t extra) {
  const int wd = inotify_add_watch(fd_, path.c_str(), folder_events | extra);
  const int err = errno;
  if (wd < 0 && (err == ENOSPC || path == root_) && error_ == 0) {
    error_ = err;
  }
  return wd;
}

void InotifyWatcher::add_tree(const std::string& path) {
  const int wd = add(path, 0);
  if (wd < 0) {
    return; // gone already, or unreadable: its parent's events still tell
  }
  if (path == root_) {
    root_wd_ = wd;
  }
  auto& watch = watches_[wd];
  if (watch.tree) {
    return; // the same folder reached again, through a link: a loop, or an alias
  }
  watch.tree = true;
  watch.path = path;
  std::error_code ec;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    std::error_code type_ec;
    if (!ignored(name) && it->symlink_status(type_ec).type() == fs::file_type::directory) {
      add_tree(path + "/" + name);
    }
  }
}

// Watches the folder holding each symbolic link on `path` and the folder holding its last entry,
// resolving the links as the kernel does. A missing entry is watched for from its parent, so
// that a removed root is noticed when it comes back.
void InotifyWatcher::watch_path(const fs::path& path, int links) {
  std::vector<std::string> parts;
  for (const auto& part : path.relative_path()) {
    if (!part.empty() && part != ".") {
      parts.push_back(part.string());
    }
  }
  fs::path done = "/"; // resolved: holds no link
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] == "..") {
      done = done.parent_path();
      continue;
    }
    const auto next = done / parts[i];
    struct stat st {};
    if (::lstat(next.c_str(), &st) != 0) {
      watch_name(done, parts[i]);
      return;
    }
    if (S_ISLNK(st.st_mode)) {
      watch_name(done, parts[i]);
      char target[PATH_MAX];
      const auto n = ::readlink(next.c_str(), target, sizeof target);
      if (n < 0 || links >= max_links) {
        return;
      }
      auto rest = done / std::string(target, static_cast<size_t>(n)); // absolute targets replace
      for (size_t j = i + 1; j < parts.size(); ++j) {
        rest /= parts[j];
      }
      watch_path(rest, links + 1);
      return;
    }
    done = next;
  }
  if (done.has_relative_path()) {
    watch_name(done.parent_path(), done.filename().string());
  }
}

void InotifyWatcher::watch_name(const fs::path& folder, const std::string& name) {
  // The holder is a resolved folder; not following a link there keeps the watch on it.
  const int wd = add(folder.string(), IN_DONT_FOLLOW);
  if (wd >= 0) {
    auto& watch = watches_[wd];
    if (watch.path.empty()) {
      watch.path = folder.string();
    }
    watch.names.insert(name);
  }
}

// Stops watching `path` and the folders below it. The kernel then queues IN_IGNORED for each;
// those wds are unknown by then and skipped. Watch descriptors are allocated cyclically, so an
// old one is not reused for a new folder while its events may still be queued.
void InotifyWatcher::drop(const std::string& path) {
  const auto below = path + "/";
  for (auto it = watches_.begin(); it != watches_.end();) {
    auto& watch = it->second;
    if (watch.tree && (watch.path == path || watch.path.starts_with(below))) {
      if (watch.names.empty()) {
        inotify_rm_watch(fd_, it->first);
        it = watches_.erase(it);
        continue;
      }
      watch.tree = false;
    }
    ++it;
  }
}

// One event: whether it matters. Sets rebuild_ when the path to the root may resolve differently.
bool InotifyWatcher::handle(const inotify_event& ev) {
  if (ev.mask & IN_Q_OVERFLOW) {
    rebuild_ = true; // events were lost, folder creations among them maybe
    return true;
  }
  const auto found = watches_.find(ev.wd);
  if (found == watches_.end()) {
    return false; // the last events of a watch dropped already
  }
  auto& watch = found->second;
  const std::string name = ev.len > 0 ? ev.name : ""; // NUL-padded
  if (!name.empty() && watch.names.count(name)) {
    rebuild_ = true;
    return true;
  }
  if (ev.mask & IN_IGNORED) {
    // The kernel removed the watch: the folder was deleted or unmounted. For a folder of the
    // tree, its parent reports that; the root and the holders of links are found anew.
    const bool on_path = ev.wd == root_wd_ || !watch.names.empty();
    watches_.erase(found);
    rebuild_ = rebuild_ || on_path;
    return on_path;
  }
  if (!watch.tree) {
    return false;
  }
  if (name.empty()) {
    constexpr std::uint32_t gone = IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT;
    if ((ev.mask & gone) && ev.wd == root_wd_) {
      rebuild_ = true;
      return true;
    }
    if (ev.mask & (IN_MOVE_SELF | IN_UNMOUNT)) {
      // A folder reached through a link was moved, or a mount on a subfolder went away: its
      // parent in the tree saw nothing. (A plain subfolder's move was handled at its parent's
      // IN_MOVED_FROM, which came first and dropped this watch.)
      const auto path = watch.path;
      drop(path);
      if (is_folder(path)) {
        add_tree(path);
      }
      return true;
    }
    // Deleted (IN_IGNORED follows), or made unreadable, say.
    return (ev.mask & (IN_DELETE_SELF | IN_ATTRIB)) != 0;
  }
  if (ignored(name)) {
    return false;
  }
  const auto path = watch.path + "/" + name;
  if (ev.mask & (IN_CREATE | IN_MOVED_TO)) {
    // A rename over an entry reports no IN_DELETE for the entry replaced: drop what was there.
    drop(path);
    if (is_folder(path)) {
      add_tree(path);
    }
  } else if (ev.mask & (IN_DELETE | IN_MOVED_FROM)) {
    drop(path);
  } else if ((ev.mask & IN_ATTRIB) && (ev.mask & IN_ISDIR)) {
    add_tree(path); // a folder that could not be read may be now; a no-op when watched
  }
  return true;
}

bool InotifyWatcher::read_changes() {
  // Large enough for many events, each at most sizeof(inotify_event) + NAME_MAX + 1.
  alignas(inotify_event) char buffer[16 * 1024];
  bool changed = false;
  for (;;) {
    const auto n = ::read(fd_, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      if (!rebuild_) {
        return changed;
      }
      // Once drained, so a burst of events about the path costs one rebuild. What changed
      // meanwhile is seen by the caller's re-reading of the folder, which comes after. Adding a
      // watch again returns its wd unchanged, so only the watches no longer wanted are removed:
      // removing all would queue an IN_IGNORED for each, overflowing the queue of a large tree,
      // which means rebuilding again.
      rebuild_ = false;
      const auto old = std::move(watches_);
      watches_.clear();
      root_wd_ = -1;
      start();
      for (const auto& [wd, watch] : old) {
        if (!watches_.count(wd)) {
          inotify_rm_watch(fd_, wd);
        }
      }
      continue; // to drain the IN_IGNORED of the watches removed
    }
    for (size_t at = 0; at < static_cast<size_t>(n);) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buffer + at);
      // With a rebuild pending, the watches are about to be redone anyway.
      changed = (!rebuild_ && handle(*ev)) || changed;
      at += sizeof(inotify_event) + ev->len;
    }
  }
}

} // namespace

base::Result<std::unique_ptr<Watcher>> Watcher::open(const std::string& dir) {
  const auto fail = [&](int err) {
    return base::Error{"cannot watch " + dir + ": " + describe(err), {}, {}, 1};
  };
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return fail(errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    return fail(ENOTDIR);
  }
  std::error_code ec;
  auto root = fs::absolute(dir, ec).string();
  if (ec) {
    return fail(ec.value());
  }
  while (root.size() > 1 && root.back() == '/') {
    root.pop_back();
  }
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    return fail(errno);
  }
  auto watcher = std::make_unique<InotifyWatcher>(fd, std::move(root));
  if (const int err = watcher->start()) {
    return fail(err);
  }
  return std::unique_ptr<Watcher>(std::move(watcher));
}

} // namespace jobsd
