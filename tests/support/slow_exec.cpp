// LD_PRELOAD for test_restart_lock.sh: while the file named by JOBS_TEST_SLOW_EXEC exists (at
// most 10 s), execve and fexecve wait before they exec. A child of jobsd is then held between
// fork and exec, sharing jobsd's descriptors, as any step is for an instant.
#include <dlfcn.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>

namespace {

using Execve = int (*)(const char*, char* const[], char* const[]);
using Fexecve = int (*)(int, char* const[], char* const[]);
// Looked up before any fork: dlsym is not async-signal-safe.
const Execve real_execve = reinterpret_cast<Execve>(dlsym(RTLD_NEXT, "execve"));
const Fexecve real_fexecve = reinterpret_cast<Fexecve>(dlsym(RTLD_NEXT, "fexecve"));
const char* const flag = std::getenv("JOBS_TEST_SLOW_EXEC");

void wait_while_flagged() {
  const timespec tick{0, 10'000'000};
  for (int i = 0; flag != nullptr && i < 1000 && access(flag, F_OK) == 0; ++i) {
    nanosleep(&tick, nullptr);
  }
}

} // namespace

extern "C" int execve(const char* path, char* const argv[], char* const envp[]) {
  wait_while_flagged();
  return real_execve(path, argv, envp);
}

extern "C" int fexecve(int fd, char* const argv[], char* const envp[]) {
  wait_while_flagged();
  return real_fexecve(fd, argv, envp);
}
