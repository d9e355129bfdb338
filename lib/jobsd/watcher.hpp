#pragma once

// Noticing changes to the jobs folder with inotify, for live reload. The watcher only says that
// something changed; the daemon then re-reads the folder (comparing each file's identity and
// times), so that no event pattern (editors' atomic-rename saves, git checkout, a symlink swap of
// the whole folder, an overflowing event queue) can be misread.

#include <base/error.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace jobsd {

class Watcher {
public:
  // Starts watching the folder `dir` and every folder below it (hidden ones such as .git
  // excepted), following symbolic links to folders. The folder holding `dir` is watched too, for
  // events naming `dir` (removed, moved away, re-created), and so is the folder holding each
  // symbolic link on the way to it, so that replacing a link (ln -sfn new jobs) is seen; then
  // every watch is rebuilt from the path as it now resolves. (A real folder higher up being
  // renamed is not seen: watching every folder up to / would wake the daemon for all of them.)
  // Errors name the folder and the system error: "cannot watch /x/y: No such file or
  // directory", "cannot watch /x/y: too many inotify watches (fs.inotify.max_user_watches)".
  static base::Result<std::unique_ptr<Watcher>> open(const std::string& dir);
  virtual ~Watcher() = default;

  // Readable (poll/epoll) when events are pending; read_changes() may still find that none of
  // them matters.
  virtual int fd() const = 0;

  // Reads what is pending without blocking. True when something under the folder changed that
  // may matter for job files: a file created, written and closed, moved in or out, deleted, or
  // its attributes changed; a folder created, moved or deleted (watches are added for new
  // folders, and their files count as changed); the folder or a link on its path replaced; the
  // event queue overflowing. Events about hidden files and editors' swap, backup and autosave
  // files (".x.swp", "x~", "4913", "#x#") alone return false.
  virtual bool read_changes() = 0;

  // For tests: how many inotify watches are held (0 for fakes).
  virtual size_t watch_count() const { return 0; }
};

} // namespace jobsd
