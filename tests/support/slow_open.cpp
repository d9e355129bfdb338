// LD_PRELOAD for test_missed_load.sh: while the file named by JOBS_TEST_SLOW_OPEN exists (at
// most 10 s), opening a file named slow.yaml waits, after creating that name + ".waiting". jobsd's
// load of its jobs folder then lasts as long as the test wants.
#include <dlfcn.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

using Open = int (*)(const char*, int, ...);
const Open real_open = reinterpret_cast<Open>(dlsym(RTLD_NEXT, "open"));
const char* const flag = std::getenv("JOBS_TEST_SLOW_OPEN");

void wait_if_slow(const char* path) {
  const char* slash = std::strrchr(path, '/');
  if (flag == nullptr || std::strcmp(slash == nullptr ? path : slash + 1, "slow.yaml") != 0 ||
      access(flag, F_OK) != 0) {
    return;
  }
  // FLAG.waiting says the wait has begun (a slow start, under a sanitizer, can take seconds).
  const std::string waiting = std::string(flag) + ".waiting";
  if (const int fd = real_open(waiting.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644); fd >= 0) {
    close(fd);
  }
  const timespec tick{0, 10'000'000};
  for (int i = 0; i < 1000 && access(flag, F_OK) == 0; ++i) {
    nanosleep(&tick, nullptr);
  }
}

mode_t mode_of(int flags, va_list args) {
  return (flags & (O_CREAT | O_TMPFILE)) != 0 ? static_cast<mode_t>(va_arg(args, int)) : 0;
}

} // namespace

extern "C" int open(const char* path, int flags, ...) {
  va_list args;
  va_start(args, flags);
  const mode_t mode = mode_of(flags, args);
  va_end(args);
  wait_if_slow(path);
  return real_open(path, flags, mode);
}

// On 64-bit Linux open64 is open.
extern "C" int open64(const char* path, int flags, ...) __attribute__((alias("open")));
