#include <exec/tree.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <set>
#include <string>
#include <string_view>

namespace exec {

namespace {

// The state letter of /proc/PID/stat (R, S, Z...), 'X' when the process is gone.
char state_of(pid_t pid) {
  const int fd = ::open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return 'X';
  }
  char text[512];
  const ssize_t n = ::read(fd, text, sizeof text);
  ::close(fd);
  // pid (comm) state ...: comm may hold spaces and parentheses; it ends at the last ')'.
  const std::string_view stat(text, n > 0 ? static_cast<size_t>(n) : 0);
  const size_t close = stat.rfind(')');
  return close == std::string_view::npos || close + 2 >= stat.size() ? 'X' : stat[close + 2];
}

} // namespace

std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = opendir(tasks.c_str());
  if (dir == nullptr) {
    return out;
  }
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') {
      continue;
    }
    // "12 345 ", read with plain system calls: this runs after every step.
    const int fd = ::open((tasks + "/" + e->d_name + "/children").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    pid_t child = 0;
    char text[4096];
    for (ssize_t n; (n = ::read(fd, text, sizeof text)) > 0;) {
      for (ssize_t i = 0; i < n; ++i) {
        if (text[i] >= '0' && text[i] <= '9') {
          child = child * 10 + (text[i] - '0');
        } else if (child != 0) {
          out.push_back(child);
          child = 0;
        }
      }
    }
    ::close(fd);
    if (child != 0) {
      out.push_back(child);
    }
  }
  closedir(dir);
  return out;
}

void signal_descendants(pid_t root, int sig) {
  std::vector<pid_t> todo{root};
  for (size_t i = 0; i < todo.size(); ++i) {
    for (pid_t child : children_of(todo[i])) {
      ::kill(child, sig);
      todo.push_back(child);
    }
  }
}

std::vector<pid_t> kill_descendants(pid_t root) {
  // Stopped, a process forks no more; its children are read after its stop, in the next pass.
  std::set<pid_t> stopped;
  for (int pass = 0; pass < 100; ++pass) {
    bool fresh = false;
    std::vector<pid_t> todo{root};
    for (size_t i = 0; i < todo.size(); ++i) {
      for (pid_t child : children_of(todo[i])) {
        if (stopped.insert(child).second) {
          ::kill(child, SIGSTOP);
          fresh = true;
        }
        todo.push_back(child);
      }
    }
    if (!fresh) {
      break;
    }
  }
  std::vector<pid_t> killed;
  for (pid_t pid : stopped) {
    // A zombie has ended already: not counted.
    if (state_of(pid) != 'Z' && ::kill(pid, SIGKILL) == 0) {
      killed.push_back(pid);
    }
  }
  return killed;
}

} // namespace exec
