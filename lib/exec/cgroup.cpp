#include <exec/cgroup.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace exec::cgroup {

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

base::Error failure(std::string message) {
  base::Error e;
  e.message = std::move(message);
  return e;
}

base::Error error(const std::string& what, int err) {
  return failure(what + ": " + std::strerror(err));
}

// mountinfo escapes a space, tab, newline and backslash in a path as \ooo.
std::string unescape(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    const auto octal = [&](size_t at) { return field[at] >= '0' && field[at] <= '7'; };
    if (field[i] == '\\' && i + 3 < field.size() && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                      (field[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

// The cgroup folders at and under `folder`, the deepest first (the order rmdir needs).
void folders_below(const std::filesystem::path& folder, std::vector<std::string>& out) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(folder, ec)) {
    if (e.is_directory(ec) && !e.is_symlink(ec)) {
      folders_below(e.path(), out);
    }
  }
  out.push_back(folder.string());
}

int count_processes(const std::string& folder) {
  std::ifstream in(folder + "/cgroup.procs");
  int count = 0;
  for (std::string line; std::getline(in, line);) {
    count += !line.empty();
  }
  return count;
}

// Waits until the cgroup at `folder` (and those under it) holds no process, at most until
// `deadline`. cgroup.events signals each change of "populated" with POLLPRI.
bool wait_empty(const std::string& folder, std::chrono::steady_clock::time_point deadline) {
  const int fd = ::open((folder + "/cgroup.events").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return errno == ENOENT && !std::filesystem::exists(folder);
  }
  bool empty = false;
  for (;;) {
    char text[256];
    const ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
    if (n >= 0 && !populated(std::string_view(text, static_cast<size_t>(n)))) {
      empty = true;
      break;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (n < 0 || left.count() <= 0) {
      break;
    }
    pollfd p{fd, POLLPRI, 0};
    ::poll(&p, 1, static_cast<int>(left.count()) + 1);
  }
  ::close(fd);
  return empty;
}

} // namespace

std::optional<std::string> own_path(std::string_view proc_cgroup) {
  while (!proc_cgroup.empty()) {
    const size_t end = std::min(proc_cgroup.find('\n'), proc_cgroup.size());
    const std::string_view line = proc_cgroup.substr(0, end);
    if (line.starts_with("0::")) {
      return std::string(line.substr(3));
    }
    proc_cgroup.remove_prefix(std::min(end + 1, proc_cgroup.size()));
  }
  return std::nullopt;
}

std::optional<std::string> mount_point(std::string_view mountinfo) {
  std::istringstream lines{std::string(mountinfo)};
  for (std::string line; std::getline(lines, line);) {
    // ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER_OPTIONS
    std::istringstream fields(line);
    std::string id, parent, device, root, point, field;
    fields >> id >> parent >> device >> root >> point;
    while (fields >> field && field != "-") {
    }
    std::string type;
    fields >> type;
    if (type == "cgroup2" && root == "/") {
      return unescape(point);
    }
  }
  return std::nullopt;
}

bool populated(std::string_view events) {
  std::istringstream lines{std::string(events)};
  for (std::string line; std::getline(lines, line);) {
    if (line == "populated 1") {
      return true;
    }
  }
  return false;
}

base::Result<std::string> own_folder() {
  const auto mount = mount_point(read_text("/proc/self/mountinfo"));
  if (!mount) {
    return failure("no cgroup v2 hierarchy is mounted");
  }
  const auto path = own_path(read_text("/proc/self/cgroup"));
  if (!path) {
    return failure("/proc/self/cgroup names no cgroup v2 (no \"0::\" line)");
  }
  std::string folder = *mount + (*path == "/" ? "" : *path);
  if (access((folder + "/cgroup.procs").c_str(), F_OK) != 0) {
    return error(folder + "/cgroup.procs", errno);
  }
  return folder;
}

int signal(const std::string& folder, int sig) {
  std::ifstream in(folder + "/cgroup.procs");
  int count = 0;
  for (pid_t pid = 0; in >> pid;) {
    count += ::kill(pid, sig) == 0;
  }
  return count;
}

base::Result<int> kill_and_remove(const std::string& folder, std::chrono::milliseconds wait) {
  std::vector<std::string> folders;
  folders_below(folder, folders);
  if (!std::filesystem::exists(folder)) {
    return 0;
  }
  int killed = 0;
  for (const auto& f : folders) {
    killed += count_processes(f);
  }
  if (killed > 0) {
    const int fd = ::open((folder + "/cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "1", 1) != 1) {
      const int err = errno;
      if (fd >= 0) {
        ::close(fd);
      }
      return error("cannot kill the processes of " + folder + " (cgroup.kill)", err);
    }
    ::close(fd);
    if (!wait_empty(folder, std::chrono::steady_clock::now() + wait)) {
      return failure("processes of " + folder + " still run " + std::to_string(wait.count()) +
                     " ms after cgroup.kill");
    }
  }
  for (const auto& f : folders) {
    if (::rmdir(f.c_str()) != 0 && errno != ENOENT) {
      return error("cannot remove " + f, errno);
    }
  }
  return killed;
}

} // namespace exec::cgroup
