// jobsctl edit JOB | --new ID: a job file changed in the user's editor, as crontab -e changes a
// crontab: on a private copy, checked against the whole jobs folder before it replaces the file
// (atomically, keeping its mode and owner), and then jobsd told to reload.
#include "commands.hpp"
#include "daemon.hpp"
#include "daemon_config.hpp"
#include "job_folder.hpp"
#include "new_job.hpp"
#include "output.hpp"

#include <base/exit_codes.hpp>
#include <exec/process.hpp>
#include <jobs/edit.hpp>
#include <jobs/folder.hpp>
#include <jobs/loader.hpp>
#include <jobs/trust.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <set>
#include <stdexcept>

extern char** environ;

namespace jobsctl {

namespace {

struct EditOptions {
  JobFolder folder;
  StateOption state;
  DaemonOption daemon;
  ConfigOption config;
  std::string job;
  NewJob created; // --new ID: created.id
};

// What the signal handler removes when jobsctl is interrupted: the copy and its folder. Fixed
// buffers, as a handler may not allocate.
char interrupted_file[PATH_MAX];
char interrupted_dir[PATH_MAX];
volatile std::sig_atomic_t remove_on_signal = 0;

extern "C" void remove_copy_and_die(int sig) {
  if (remove_on_signal != 0) {
    ::unlink(interrupted_file);
    ::rmdir(interrupted_dir);
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// The private copy the editor works on: DIR/NAME, NAME being the job file's, so that editors
// know its format, in a folder of its own (mode 0700) under $TMPDIR. Removed with its folder
// when the Copy ends or jobsctl is interrupted (SIGINT, SIGTERM, SIGHUP), unless kept.
class Copy {
public:
  // Holds `text`, mode 0600. When root makes it for an existing file, it has that file's owner
  // (`like`), so that it loads as the file does (under root, a user's file runs as that user).
  // Throws Exit{2} once the reason is printed when it cannot be made.
  Copy(const std::string& name, const std::string& text, const struct stat* like) {
    std::error_code ec;
    const auto base = std::filesystem::temp_directory_path(ec);
    std::string dir = ((ec ? "/tmp" : base) / "jobsctl-edit.XXXXXX").lexically_normal().string();
    if (dir.size() + name.size() + 2 > PATH_MAX || ::mkdtemp(dir.data()) == nullptr) {
      fail("cannot make a private folder for the copy: " + dir, errno);
    }
    dir_ = dir;
    path_ = dir_ + "/" + name;
    std::strcpy(interrupted_dir, dir_.c_str());
    std::strcpy(interrupted_file, path_.c_str());
    remove_on_signal = 1;
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
      std::signal(sig, remove_copy_and_die);
    }
    const int fd =
        ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      fail("cannot make the copy " + path_, errno);
    }
    if (like != nullptr && ::geteuid() == 0 && ::fchown(fd, like->st_uid, like->st_gid) != 0) {
      const int error = errno;
      ::close(fd);
      fail("cannot give the copy the file's owner", error);
    }
    for (size_t done = 0; done < text.size();) {
      const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        const int error = n < 0 ? errno : EIO;
        ::close(fd);
        fail("cannot write the copy " + path_, error);
      }
      done += static_cast<size_t>(n);
    }
    ::close(fd);
  }

  ~Copy() {
    if (!kept_ && !dir_.empty()) {
      remove_on_signal = 0;
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec); // the editor's swap and backup files too
    }
  }

  Copy(const Copy&) = delete;
  Copy& operator=(const Copy&) = delete;

  const std::string& path() const { return path_; }

  // Leaves the copy in place, for the user to pick up.
  void keep() {
    remove_on_signal = 0;
    kept_ = true;
  }

private:
  [[noreturn]] void fail(const std::string& what, int error) {
    std::cerr << "jobsctl: " << what << ": " << std::strerror(error) << "\n";
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      remove_on_signal = 0;
    }
    throw Exit{base::exit_code::usage};
  }

  std::string dir_;
  std::string path_;
  bool kept_ = false;
};

// Whether `path` is no longer what the copy was made from: the text `original`, or, for a new
// file (null), nothing at all.
bool changed_since(const std::string& path, const std::string* original, std::int64_t limit) {
  if (original == nullptr) {
    std::error_code ec;
    return std::filesystem::exists(std::filesystem::symlink_status(path, ec));
  }
  const auto now = jobs::read_job_file(path, limit);
  return !now || *now != *original;
}

// $VISUAL, else $EDITOR, else `editor` when PATH has one (Debian's choice), else vi.
std::string editor_command() {
  for (const char* name : {"VISUAL", "EDITOR"}) {
    if (const char* value = std::getenv(name); value != nullptr && *value != '\0') {
      return value;
    }
  }
  const char* path = std::getenv("PATH");
  return exec::find_program("editor", path != nullptr ? path : "").empty() ? "vi" : "editor";
}

// Runs `command` on `file` as crontab and git do: sh -c 'COMMAND "$@"' with the file as the one
// argument, so that the command may carry arguments and the file name is never parsed by the
// shell. Meanwhile jobsctl ignores SIGINT and SIGQUIT, which are the editor's to handle. Returns
// what went wrong, or nothing when the editor exits 0.
std::string run_editor(const std::string& command, const std::string& file) {
  std::cout.flush();
  std::cerr.flush();
  const std::string script = command + " \"$@\"";
  const char* argv[] = {"sh", "-c", script.c_str(), command.c_str(), file.c_str(), nullptr};
  posix_spawnattr_t attributes;
  ::posix_spawnattr_init(&attributes);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGQUIT);
  ::posix_spawnattr_setsigdefault(&attributes, &defaults);
  ::posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF);
  struct sigaction ignore {};
  struct sigaction old_int {};
  struct sigaction old_quit {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGINT, &ignore, &old_int);
  ::sigaction(SIGQUIT, &ignore, &old_quit);
  pid_t pid = 0;
  const int spawned =
      ::posix_spawn(&pid, "/bin/sh", nullptr, &attributes, const_cast<char* const*>(argv), environ);
  ::posix_spawnattr_destroy(&attributes);
  int status = 0;
  while (spawned == 0 && ::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGQUIT, &old_quit, nullptr);
  if (spawned != 0) {
    return std::string("could not be started: /bin/sh: ") + std::strerror(spawned);
  }
  if (WIFSIGNALED(status)) {
    return std::string("was killed by ") + ::strsignal(WTERMSIG(status));
  }
  if (WEXITSTATUS(status) != 0) {
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  }
  return {};
}

// A finding of the copy as the user sees it: at `path`, the file the copy stands for.
void relabel(jobs::Diagnostic& d, const std::string& copy, const std::string& path) {
  auto& e = d.error;
  if (e.location.path == copy) {
    e.location.path = path;
  }
  for (auto at = e.message.find(copy); at != std::string::npos;
       at = e.message.find(copy, at + path.size())) {
    e.message.replace(at, copy.size(), path);
  }
}

// Checks the edited copy as validate checks the jobs folder with the copy in place of `path`,
// and prints the findings: the copy's own, shown at `path`, and the errors the edit causes in
// the other files (an `after` that names an id the edit took away). Returns the errors.
size_t check(const EditOptions& o, const std::string& path, const std::string& copy) {
  const auto options = o.folder.load_options();
  std::vector<std::string> others;
  std::error_code ec;
  if (std::filesystem::is_directory(o.folder.dir(), ec)) {
    std::vector<jobs::LoadedFile> problems; // the folder's, the same with or without the edit
    for (auto& p : jobs::list_job_files({o.folder.dir()}, problems, options.daemon_is_root)) {
      if (p != path) {
        others.push_back(std::move(p));
      }
    }
  }
  const auto with = [&](const std::string& file) {
    auto paths = others;
    paths.push_back(file);
    return jobs::load_paths(paths, options);
  };
  // What the other files say without the edit, to tell the errors it causes from those they had.
  std::set<std::string> before;
  const bool exists = std::filesystem::exists(std::filesystem::symlink_status(path, ec));
  for (const auto& f : (exists ? with(path) : jobs::load_paths(others, options)).files) {
    for (const auto& d : f.diagnostics) {
      before.insert(jobs::render(d));
    }
  }
  auto after = with(copy);
  jobs::JobSet mine;
  std::vector<jobs::Diagnostic> caused;
  for (auto& f : after.files) {
    if (f.path == copy) {
      mine.files.push_back(std::move(f));
      continue;
    }
    for (auto& d : f.diagnostics) {
      relabel(d, copy, path);
      if (d.severity == jobs::Severity::error && !before.count(jobs::render(d))) {
        caused.push_back(std::move(d));
      }
    }
  }
  if (mine.files.empty()) {
    throw std::logic_error(copy + " was not among the files checked");
  }
  check_with_config(o.config.load(), mine);
  for (auto& f : mine.files) {
    for (auto& d : f.diagnostics) {
      relabel(d, copy, path);
      std::cerr << jobs::render(d) << "\n";
    }
  }
  for (const auto& d : caused) {
    std::cerr << jobs::render(d) << "\n";
  }
  return mine.error_count() + caused.size();
}

// Whether "Edit again? [Y/n]" is answered yes (the default); end of input is a no.
bool edit_again() {
  std::cerr << "Edit again? [Y/n] ";
  std::string answer;
  if (!std::getline(std::cin, answer)) {
    std::cerr << "\n";
    return false;
  }
  return answer != "n" && answer != "N" && answer != "no";
}

// Has jobsd reload the folder now (it would notice the change by itself, later), when it runs
// on this folder. Why it was not told is a note: the file is written either way.
void tell_jobsd(const EditOptions& o) {
  auto d = connect(o.daemon);
  if (!d.client) {
    std::cerr << "jobsctl: note: " << d.error.message << "; not told to reload\n";
    return;
  }
  auto status = d.client->call("status");
  if (status && status->ok()) {
    const std::string dir = status->result.value("jobs_dir", "");
    if (!o.folder.is(dir)) {
      std::cerr << "jobsctl: note: jobsd at " << o.daemon.path() << " runs on another jobs folder ("
                << dir << "); not told to reload\n";
      return;
    }
  }
  auto reply = d.client->call("reload");
  if (!reply || !reply->ok()) {
    std::cerr << "jobsctl: note: jobsd did not reload: "
              << (reply ? reply->message : reply.error().message) << "\n";
    return;
  }
  print_reload(reply->result);
}

// The file of the job to edit: a regular file of the folder. Anything else is printed as an
// error and throws Exit{2}.
std::string file_to_edit(const EditOptions& o, struct stat& st) {
  const auto set = o.folder.load();
  const std::string path = find_job_path(set, o.job);
  if (path.empty()) {
    std::cerr << "jobsctl: " << no_job(o.folder, set, o.job) << "\n";
    throw Exit{base::exit_code::usage};
  }
  if (::lstat(path.c_str(), &st) != 0) {
    std::cerr << "jobsctl: " << path << ": " << std::strerror(errno) << "\n";
    throw Exit{base::exit_code::usage};
  }
  if (S_ISLNK(st.st_mode)) {
    std::cerr << "jobsctl: " << path
              << " is a symbolic link, which jobsd does not follow in the jobs folder: not "
                 "edited; move the file it points to here instead\n";
    throw Exit{base::exit_code::usage};
  }
  if (!S_ISREG(st.st_mode)) {
    std::cerr << "jobsctl: " << path << " is " << jobs::file_kind(st.st_mode)
              << ", not a regular file: not edited\n";
    throw Exit{base::exit_code::usage};
  }
  return path;
}

int run_edit(const EditOptions& o) {
  const bool creating = !o.created.id.empty();
  if (!creating && o.job.empty()) {
    std::cerr << "jobsctl: edit needs the job to edit (its id or file), or --new ID\n";
    return base::exit_code::usage;
  }
  const std::int64_t limit = o.folder.load_options().max_file_size;
  std::string path;
  std::string start; // what the editor opens
  struct stat st {};
  if (creating) {
    auto file = new_job_file(o.folder, o.created);
    path = std::move(file.path);
    start = std::move(file.text);
  } else {
    path = file_to_edit(o, st);
    auto text = jobs::read_job_file(path, limit);
    if (!text) {
      print_error(text.error());
      return base::exit_code::usage;
    }
    start = std::move(*text);
  }
  const std::string untouched = creating ? path + " is not created" : path + " is unchanged";
  Copy copy(std::filesystem::path(path).filename().string(), start, creating ? nullptr : &st);
  const std::string editor = editor_command();
  std::string text;
  while (true) {
    if (const auto failed = run_editor(editor, copy.path()); !failed.empty()) {
      std::cerr << "jobsctl: the editor (" << editor << ") " << failed << "; " << untouched << "\n";
      return base::exit_code::job_failed;
    }
    auto edited = jobs::read_job_file(copy.path(), limit);
    if (edited && *edited == start) {
      std::cerr << "jobsctl: no changes; " << untouched << "\n";
      return base::exit_code::ok;
    }
    if (!edited) {
      print_error(edited.error());
    }
    const size_t errors = edited ? check(o, path, copy.path()) : 1;
    if (errors == 0) {
      text = std::move(*edited);
      break;
    }
    const std::string count = counted(static_cast<std::int64_t>(errors), "error");
    if (!stdin_is_terminal()) {
      copy.keep();
      std::cerr << "jobsctl: the edit has " << count << "; " << untouched
                << " (no terminal to ask whether to edit again); the edit is kept in "
                << copy.path() << "\n";
      return base::exit_code::usage;
    }
    std::cerr << "jobsctl: the edit has " << count << "\n";
    if (!edit_again()) {
      std::cerr << "jobsctl: " << untouched << "\n";
      return base::exit_code::usage;
    }
  }
  // Only over the file the copy was made from: a change made meanwhile is not overwritten.
  if (changed_since(path, creating ? nullptr : &start, limit)) {
    copy.keep();
    std::cerr << "jobsctl: " << path << " changed on disk while it was being edited: not "
              << "written over; the edit is kept in " << copy.path() << "\n";
    return base::exit_code::job_failed;
  }
  if (creating) {
    std::error_code ec;
    std::filesystem::create_directories(o.folder.dir(), ec);
  }
  if (auto written = jobs::write_file_atomically(path, text); !written) {
    copy.keep();
    print_error(written.error());
    std::cerr << "jobsctl: the edit is kept in " << copy.path() << "\n";
    return base::exit_code::usage;
  }
  std::cout << path << ": " << (creating ? "created" : "written") << "\n";
  tell_jobsd(o);
  return base::exit_code::ok;
}

} // namespace

Run setup_edit(CLI::App& command) {
  auto o = std::make_shared<EditOptions>();
  auto* job = command.add_option("job", o->job, "Job id or file");
  auto* created = command
                      .add_option("--new", o->created.id,
                                  "Edit a new job of this id instead, from the file new writes")
                      ->excludes(job);
  add_new_job_options(command, o->created, created);
  o->folder.add_option(command);
  o->state.add_option(command);
  o->daemon.add_option(command);
  o->config.add_option(command);
  return [o] { return run_edit(*o); };
}

} // namespace jobsctl
