// A tiny program for bench/run-daemon, in two modes:
//
//   stamp FILE
//     Reads CLOCK_REALTIME first thing and appends one line to FILE, in one write(2) so that
//     concurrent stamps do not interleave:
//       JOB_SCHEDULED_TIME <tab> now (UTC ns since the epoch) <tab> JOB_ID <tab> JOB_EXECUTION_ID
//     the three variables as the daemon gives them to every step ("-" when unset). run-daemon
//     computes each fire's lateness from it: now - scheduled.
//
//   stamp --burst N ROUNDS FILE
//     The physical floor of fire precision: ROUNDS times, at the next whole second, posix_spawn
//     N `stamp FILE` at once (JOB_SCHEDULED_TIME set to that second), then wait for them: the
//     lateness a minimal program gets for N processes due at one instant.
//
//   stamp --spawn N P PROGRAM
//     The raw baseline of the daemon's throughput: posix_spawn + waitpid of PROGRAM (no
//     arguments, environment PATH=/usr/bin:/bin) N times, keeping P running at once, as
//     bench_exec's RawSpawn does with P = 1. Prints "N SECONDS RATE" (executions per second).
//
// Uses only the C library, so that little runs before main.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace {

int stamp(const char* path, const timespec& now) {
  const char* scheduled = std::getenv("JOB_SCHEDULED_TIME");
  const char* job = std::getenv("JOB_ID");
  const char* execution = std::getenv("JOB_EXECUTION_ID");
  char line[512];
  const int n = std::snprintf(line, sizeof line, "%s\t%lld%09ld\t%s\t%s\n",
                              scheduled && *scheduled ? scheduled : "-",
                              static_cast<long long>(now.tv_sec), static_cast<long>(now.tv_nsec),
                              job && *job ? job : "-", execution && *execution ? execution : "-");
  if (n <= 0 || static_cast<size_t>(n) >= sizeof line) {
    std::fprintf(stderr, "stamp: line too long\n");
    return 1;
  }
  const int fd = ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "stamp: %s: %s\n", path, std::strerror(errno));
    return 1;
  }
  const ssize_t written = ::write(fd, line, static_cast<size_t>(n));
  ::close(fd);
  if (written != n) {
    std::fprintf(stderr, "stamp: write %s: %s\n", path, std::strerror(errno));
    return 1;
  }
  return 0;
}

double seconds(const timespec& a, const timespec& b) {
  return static_cast<double>(b.tv_sec - a.tv_sec) +
         static_cast<double>(b.tv_nsec - a.tv_nsec) / 1e9;
}

void reap_one() {
  int status = 0;
  pid_t pid;
  while ((pid = waitpid(-1, &status, 0)) < 0 && errno == EINTR) {
  }
  if (pid < 0) {
    std::fprintf(stderr, "stamp: waitpid: %s\n", std::strerror(errno));
    std::exit(1);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "stamp: a child ended with wait status %d\n", status);
    std::exit(1);
  }
}

int spawn_rate(long count, long parallel, char* program) {
  char* argv[] = {program, nullptr};
  char path[] = "PATH=/usr/bin:/bin";
  char* envp[] = {path, nullptr};
  timespec start{}, end{};
  clock_gettime(CLOCK_MONOTONIC, &start);
  long running = 0;
  for (long started = 0; started < count; ++started) {
    if (running == parallel) {
      reap_one();
      --running;
    }
    pid_t pid = 0;
    const int error = posix_spawn(&pid, program, nullptr, nullptr, argv, envp);
    if (error != 0) {
      std::fprintf(stderr, "stamp: posix_spawn %s: %s\n", program, std::strerror(error));
      return 1;
    }
    ++running;
  }
  for (; running > 0; --running) {
    reap_one();
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  const double s = seconds(start, end);
  std::printf("%ld %.6f %.1f\n", count, s, static_cast<double>(count) / s);
  return 0;
}

int burst(long count, long rounds, char* self, char* file) {
  char* argv[] = {self, file, nullptr};
  for (long round = 0; round < rounds; ++round) {
    timespec at{};
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_sec += 1;
    at.tv_nsec = 0;
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, nullptr) == EINTR) {
    }
    std::tm tm{};
    const time_t seconds_at = at.tv_sec;
    gmtime_r(&seconds_at, &tm);
    char scheduled[64];
    std::strftime(scheduled, sizeof scheduled, "JOB_SCHEDULED_TIME=%Y-%m-%dT%H:%M:%S.000Z", &tm);
    char* envp[] = {scheduled, nullptr};
    for (long i = 0; i < count; ++i) {
      pid_t pid = 0;
      const int error = posix_spawn(&pid, self, nullptr, nullptr, argv, envp);
      if (error != 0) {
        std::fprintf(stderr, "stamp: posix_spawn %s: %s\n", self, std::strerror(error));
        return 1;
      }
    }
    for (long i = 0; i < count; ++i) {
      reap_one();
    }
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  if (argc == 2 && argv[1][0] != '-') {
    return stamp(argv[1], now);
  }
  if (argc == 5 && std::strcmp(argv[1], "--spawn") == 0) {
    const long count = std::atol(argv[2]);
    const long parallel = std::atol(argv[3]);
    if (count > 0 && parallel > 0) {
      return spawn_rate(count, parallel, argv[4]);
    }
  }
  if (argc == 5 && std::strcmp(argv[1], "--burst") == 0) {
    const long count = std::atol(argv[2]);
    const long rounds = std::atol(argv[3]);
    if (count > 0 && rounds > 0) {
      return burst(count, rounds, argv[0], argv[4]);
    }
  }
  std::fprintf(stderr, "usage: stamp FILE\n       stamp --burst N ROUNDS FILE\n"
                       "       stamp --spawn N P PROGRAM\n");
  return 2;
}
