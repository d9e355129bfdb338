// Measures running steps' processes against issue 4's targets, each variant interleaved with
// the one it is compared to (A B A B ..., the order alternating) so that both see the same
// machine load:
//
// - throughput of one-step `/bin/true` jobs run back to back through engine::run_job (no-op
//   Events) against raw posix_spawn + waitpid of /bin/true: ratio >= 0.80;
// - per-step overhead: the wall time of exec::run_process and of engine::run_job for /bin/true
//   minus that of a raw posix_spawn + waitpid next to it (median of the paired differences):
//   <= 1 ms;
// - capture of 1 GiB (`head -c 1073741824 /dev/zero`) by exec::run_process with the default
//   1 MiB bound and a sink that counts bytes, against the same producer read from a plain pipe
//   in 64 KiB chunks: ratio >= 0.70, with the runner's peak RSS during the capture.
//
//   bench_exec [--quick]   --quick: fewer repetitions and 100 MiB, for a smoke run
//
// Prints one table row per figure: target, median, p10-p90, ratio and PASS or SHORT. The exit
// status is 0 when the figures were measured, short or not; 1 when something failed to run.

#include <engine/executor.hpp>
#include <exec/process.hpp>
#include <jobs/diagnostics.hpp>
#include <jobs/loader.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace {

using Steady = std::chrono::steady_clock;

constexpr const char* true_path = "/bin/true";
constexpr const char* bench_path = "/usr/bin:/bin";

struct Settings {
  bool quick = false;
  int throughput_rounds = 30; // pairs of blocks
  int throughput_block = 50;  // jobs per block
  int overhead_runs = 1000;   // triples raw / run_process / run_job
  int capture_runs = 6;       // turns of the three capture variants
  std::int64_t capture_bytes = std::int64_t{1} << 30;
};

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "bench_exec: %s\n", message.c_str());
  std::exit(1);
}

double seconds_since(Steady::time_point start) {
  return std::chrono::duration<double>(Steady::now() - start).count();
}

// The q-quantile (0 <= q <= 1) of `values`, interpolated between the two nearest ranks.
double quantile(std::vector<double> values, double q) {
  if (values.empty()) {
    return std::nan("");
  }
  std::sort(values.begin(), values.end());
  const double at = q * static_cast<double>(values.size() - 1);
  const auto below = static_cast<size_t>(std::floor(at));
  const size_t above = std::min(below + 1, values.size() - 1);
  const double fraction = at - static_cast<double>(below);
  return values[below] + (values[above] - values[below]) * fraction;
}

double median(const std::vector<double>& values) {
  return quantile(values, 0.5);
}

// A 0-terminated array of pointers into `strings`, for posix_spawn.
std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

void wait_success(pid_t pid, const std::string& what) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      die("waitpid for " + what + ": " + std::strerror(errno));
    }
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    die(what + " did not exit with 0 (wait status " + std::to_string(status) + ")");
  }
}

// The baseline: posix_spawn of a program with the bench's small environment, and waitpid.
class RawSpawn {
public:
  explicit RawSpawn(std::vector<std::string> argv)
      : argv_strings_(std::move(argv)), env_strings_{std::string("PATH=") + bench_path} {
    argv_ = c_strings(argv_strings_);
    envp_ = c_strings(env_strings_);
  }

  // Starts the program; its standard input and output are `in_fd` and `out_fd` unless -1 (the
  // bench's pipes are close-on-exec, so the child keeps only these).
  pid_t start(int in_fd = -1, int out_fd = -1) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (in_fd >= 0) {
      posix_spawn_file_actions_adddup2(&actions, in_fd, 0);
    }
    if (out_fd >= 0) {
      posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
    }
    pid_t pid = 0;
    const int error = posix_spawn(&pid, argv_[0], &actions, nullptr, argv_.data(), envp_.data());
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) {
      die("posix_spawn " + argv_strings_[0] + ": " + std::strerror(error));
    }
    return pid;
  }

  const std::string& program() const { return argv_strings_[0]; }

  // Runs the program to its end.
  void run() { wait_success(start(), argv_strings_[0]); }

private:
  std::vector<std::string> argv_strings_, env_strings_;
  std::vector<char*> argv_, envp_;
};

// The job of one `command` step running /bin/true, loaded like a job file.
jobs::JobDefinition true_job() {
  const std::string yaml = std::string("name: bench true\n"
                                       "steps:\n"
                                       "  - id: t\n"
                                       "    type: command\n"
                                       "    argv: [") +
                           true_path + "]\n";
  const auto file = jobs::load_job_text("/tmp/bench.yaml", yaml, {});
  if (!file.job || file.has_errors()) {
    std::string errors;
    for (const auto& d : file.diagnostics) {
      errors += "\n" + jobs::render(d);
    }
    die("the /bin/true job does not load:" + errors);
  }
  return *file.job;
}

class Engine {
public:
  Engine() : job_(true_job()) { options_.environment = {{"PATH", bench_path}}; }

  void run() {
    const engine::JobResult r = engine::run_job(job_, options_, events_);
    if (r.status != engine::Status::success) {
      die(std::string("run_job of /bin/true ended ") + engine::to_string(r.status) + ": " +
          r.error_message);
    }
  }

private:
  jobs::JobDefinition job_;
  engine::RunOptions options_;
  engine::Events events_; // every event a no-op
};

void run_process_true() {
  exec::ProcessSpec spec;
  spec.argv = {true_path};
  spec.env = {{"PATH", bench_path}};
  const exec::ProcessResult r = exec::run_process(spec);
  if (!r.succeeded()) {
    die("run_process of /bin/true failed: " +
        (r.start_error.empty() ? "exit " + std::to_string(r.exit_code.value_or(-1))
                               : r.start_error));
  }
}

// The six orders of three variants, cycled through so that none always runs first or last.
constexpr std::array<std::array<int, 3>, 6> orders{
    {{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {0, 2, 1}, {2, 1, 0}, {1, 0, 2}}};

// One table row.
struct Row {
  std::string figure;
  std::string target = "-";
  std::string value;
  std::string spread;
  std::string ratio = "-";
  std::string result = "-";
};

std::string format(const char* pattern, double a, double b = 0) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, a, b);
  return text;
}

std::string verdict(bool pass) {
  return pass ? "PASS" : "SHORT";
}

// 1. Back-to-back throughput: blocks of jobs, raw and engine alternating which goes first.
std::vector<Row> measure_throughput(const Settings& s, RawSpawn& raw, Engine& eng,
                                    std::vector<std::string>& notes) {
  std::vector<double> raw_rate, engine_rate, ratio;
  const auto block = [&](auto&& run_one) {
    const auto start = Steady::now();
    for (int i = 0; i < s.throughput_block; ++i) {
      run_one();
    }
    return s.throughput_block / seconds_since(start);
  };
  for (int round = 0; round < s.throughput_rounds; ++round) {
    double r = 0, e = 0;
    if (round % 2 == 0) {
      r = block([&] { raw.run(); });
      e = block([&] { eng.run(); });
    } else {
      e = block([&] { eng.run(); });
      r = block([&] { raw.run(); });
    }
    raw_rate.push_back(r);
    engine_rate.push_back(e);
    ratio.push_back(e / r);
  }
  const double q = median(ratio);
  notes.push_back("throughput: " + std::to_string(s.throughput_rounds) + " pairs of blocks of " +
                  std::to_string(s.throughput_block) +
                  " jobs; ratio = median of the per-pair ratios engine/raw, p10-p90 " +
                  format("%.2f-%.2f", quantile(ratio, 0.1), quantile(ratio, 0.9)));
  return {
      {"/bin/true jobs/s, raw posix_spawn+waitpid", "-", format("%.0f /s", median(raw_rate)),
       format("%.0f-%.0f", quantile(raw_rate, 0.1), quantile(raw_rate, 0.9))},
      {"/bin/true jobs/s, engine::run_job", "ratio >= 0.80", format("%.0f /s", median(engine_rate)),
       format("%.0f-%.0f", quantile(engine_rate, 0.1), quantile(engine_rate, 0.9)),
       format("%.2f", q), verdict(q >= 0.80)},
  };
}

// 2. Per-step overhead: each turn times raw, run_process and run_job once each, in an order
// that cycles through all six permutations; the overheads are the differences within a turn.
std::vector<Row> measure_overhead(const Settings& s, RawSpawn& raw, Engine& eng,
                                  std::vector<std::string>& notes) {
  std::vector<double> raw_ms, process_ms, job_ms, process_over, job_over;
  for (int turn = 0; turn < s.overhead_runs; ++turn) {
    std::array<double, 3> ms{};
    for (const int which : orders[static_cast<size_t>(turn) % orders.size()]) {
      const auto start = Steady::now();
      if (which == 0) {
        raw.run();
      } else if (which == 1) {
        run_process_true();
      } else {
        eng.run();
      }
      ms[static_cast<size_t>(which)] = seconds_since(start) * 1000;
    }
    raw_ms.push_back(ms[0]);
    process_ms.push_back(ms[1]);
    job_ms.push_back(ms[2]);
    process_over.push_back(ms[1] - ms[0]);
    job_over.push_back(ms[2] - ms[0]);
  }
  notes.push_back("overhead: " + std::to_string(s.overhead_runs) + " turns; median wall ms raw " +
                  format("%.3f", median(raw_ms)) + ", run_process " +
                  format("%.3f", median(process_ms)) + ", run_job " +
                  format("%.3f", median(job_ms)) +
                  "; overhead = median of the differences within a turn");
  const auto row = [](const char* figure, const std::vector<double>& v) {
    const double m = median(v);
    return Row{figure,
               "<= 1.000 ms",
               format("%.3f ms", m),
               format("%.3f-%.3f", quantile(v, 0.1), quantile(v, 0.9)),
               "-",
               verdict(m <= 1.0)};
  };
  return {
      {"/bin/true wall, raw posix_spawn+waitpid", "-", format("%.3f ms", median(raw_ms)),
       format("%.3f-%.3f", quantile(raw_ms, 0.1), quantile(raw_ms, 0.9))},
      row("per-step overhead, run_process - raw", process_over),
      row("per-step overhead, run_job - raw", job_over),
  };
}

struct Memory {
  double rss_mib = 0; // VmRSS
  double hwm_mib = 0; // VmHWM: the peak since start or the last reset
};

Memory memory() {
  Memory m;
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    double* field = line.starts_with("VmRSS:")   ? &m.rss_mib
                    : line.starts_with("VmHWM:") ? &m.hwm_mib
                                                 : nullptr;
    if (field != nullptr) {
      *field = std::strtod(line.c_str() + 6, nullptr) / 1024; // kB
    }
  }
  return m;
}

// Starts VmHWM again from the current RSS (Linux 4.0 and later); false when not possible.
bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

double maxrss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024;
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

struct Capture {
  double seconds = 0;
  double cpu = 0; // the runner's user + system seconds
};

void make_pipe(int p[2]) {
  if (pipe2(p, O_CLOEXEC) != 0) {
    die(std::string("pipe: ") + std::strerror(errno));
  }
}

// The producer's output read from a plain pipe by this process in 64 KiB chunks and counted.
Capture plain_capture(RawSpawn& producer, std::int64_t bytes) {
  int p[2];
  make_pipe(p);
  const double cpu = cpu_seconds();
  const auto start = Steady::now();
  const pid_t pid = producer.start(-1, p[1]);
  ::close(p[1]);
  std::vector<char> buffer(64 * 1024);
  std::int64_t total = 0;
  while (true) {
    const ssize_t got = ::read(p[0], buffer.data(), buffer.size());
    if (got > 0) {
      total += got;
    } else if (got == 0) {
      break;
    } else if (errno != EINTR) {
      die(std::string("read: ") + std::strerror(errno));
    }
  }
  ::close(p[0]);
  wait_success(pid, producer.program());
  const Capture c{seconds_since(start), cpu_seconds() - cpu};
  if (total != bytes) {
    die("the plain reader got " + std::to_string(total) + " bytes, not " + std::to_string(bytes));
  }
  return c;
}

// `producer | cat > /dev/null`, both started by this process, which only waits.
Capture cat_capture(RawSpawn& producer, RawSpawn& cat) {
  const int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null < 0) {
    die(std::string("/dev/null: ") + std::strerror(errno));
  }
  int p[2];
  make_pipe(p);
  const double cpu = cpu_seconds();
  const auto start = Steady::now();
  const pid_t reader = cat.start(p[0], null);
  const pid_t writer = producer.start(-1, p[1]);
  ::close(p[0]);
  ::close(p[1]);
  wait_success(writer, producer.program());
  wait_success(reader, cat.program());
  const Capture c{seconds_since(start), cpu_seconds() - cpu};
  ::close(null);
  return c;
}

// The producer run as a step by exec::run_process, its lines counted by the sink.
Capture step_capture(const exec::ProcessSpec& spec, std::int64_t bytes) {
  std::int64_t counted = 0;
  const exec::LineSink sink = [&](exec::Stream, std::string_view line) {
    counted += static_cast<std::int64_t>(line.size());
  };
  const double cpu = cpu_seconds();
  const auto start = Steady::now();
  const exec::ProcessResult r = exec::run_process(spec, sink);
  const Capture c{seconds_since(start), cpu_seconds() - cpu};
  if (!r.succeeded()) {
    die("run_process of the producer failed: " +
        (r.start_error.empty() ? "exit " + std::to_string(r.exit_code.value_or(-1))
                               : r.start_error));
  }
  if (r.out_bytes != static_cast<std::uint64_t>(bytes) || counted != bytes) {
    die("run_process counted " + std::to_string(r.out_bytes) + " bytes, the sink " +
        std::to_string(counted) + ", not " + std::to_string(bytes));
  }
  if (r.out.size() > static_cast<size_t>(spec.output_limit) + 100) {
    die("run_process kept " + std::to_string(r.out.size()) + " bytes of output");
  }
  return c;
}

// 3. Output capture: `head -c N /dev/zero` into cat, into a plain read() loop, and captured by
// run_process; each turn runs the three in an order cycling through all six permutations.
std::vector<Row> measure_capture(const Settings& s, std::vector<std::string>& notes) {
  const std::string head = exec::find_program("head", bench_path);
  const std::string cat_program = exec::find_program("cat", bench_path);
  if (head.empty() || cat_program.empty()) {
    die(std::string("no head or no cat in ") + bench_path);
  }
  const std::string count = std::to_string(s.capture_bytes);
  RawSpawn producer({head, "-c", count, "/dev/zero"});
  RawSpawn cat({cat_program});
  exec::ProcessSpec spec;
  spec.argv = {head, "-c", count, "/dev/zero"};
  spec.env = {{"PATH", bench_path}};

  const Memory before = memory();
  const double maxrss_before = maxrss_mib();
  const bool peak_resets = reset_peak_rss();
  const double mib = static_cast<double>(s.capture_bytes) / (1 << 20);
  std::vector<double> cat_rate, plain_rate, step_rate, vs_cat, vs_plain, plain_cpu, step_cpu, peak;
  for (int turn = 0; turn < s.capture_runs; ++turn) {
    std::array<double, 3> seconds{};
    for (const int which : orders[static_cast<size_t>(turn) % orders.size()]) {
      if (which == 0) {
        seconds[0] = cat_capture(producer, cat).seconds;
      } else if (which == 1) {
        const Capture c = plain_capture(producer, s.capture_bytes);
        seconds[1] = c.seconds;
        plain_cpu.push_back(c.cpu / mib * 1024);
      } else {
        const double base = memory().rss_mib;
        if (peak_resets) {
          reset_peak_rss();
        }
        const Capture c = step_capture(spec, s.capture_bytes);
        peak.push_back(memory().hwm_mib - (peak_resets ? base : before.rss_mib));
        seconds[2] = c.seconds;
        step_cpu.push_back(c.cpu / mib * 1024);
      }
    }
    cat_rate.push_back(mib / seconds[0]);
    plain_rate.push_back(mib / seconds[1]);
    step_rate.push_back(mib / seconds[2]);
    vs_cat.push_back(seconds[0] / seconds[2]);
    vs_plain.push_back(seconds[1] / seconds[2]);
  }
  const Memory after = memory();
  const double maxrss_after = maxrss_mib();
  const double q_cat = median(vs_cat);
  const double q_plain = median(vs_plain);
  const double growth = *std::max_element(peak.begin(), peak.end());
  constexpr double flat_mib = 16; // the two 1 MiB bounds, the read buffer, room for the heap
  const std::string size =
      s.capture_bytes == std::int64_t{1} << 30 ? "1 GiB" : format("%.0f MiB", mib);
  notes.push_back("capture: " + std::to_string(s.capture_runs) + " turns of `" + head + " -c " +
                  count + " /dev/zero`; ratios = median of the per-turn ratios, p10-p90 vs cat " +
                  format("%.2f-%.2f", quantile(vs_cat, 0.1), quantile(vs_cat, 0.9)) +
                  ", vs plain read() " +
                  format("%.2f-%.2f", quantile(vs_plain, 0.1), quantile(vs_plain, 0.9)));
  notes.push_back("capture: the runner's CPU s per GiB: plain read() " +
                  format("%.2f", median(plain_cpu)) + ", run_process " +
                  format("%.2f", median(step_cpu)));
  notes.push_back(
      "memory: VmRSS " + format("%.1f MiB before, %.1f MiB after", before.rss_mib, after.rss_mib) +
      "; ru_maxrss " + format("%.1f MiB before, %.1f MiB after", maxrss_before, maxrss_after) +
      (peak_resets ? "; growth = VmHWM reset before each capture, minus VmRSS then"
                   : "; growth = VmHWM minus VmRSS before all captures"));
  const auto rate_row = [](std::string figure, const std::vector<double>& v) {
    return Row{std::move(figure), "-", format("%.0f MiB/s", median(v)),
               format("%.0f-%.0f", quantile(v, 0.1), quantile(v, 0.9))};
  };
  return {
      rate_row(size + ": head | cat > /dev/null", cat_rate),
      rate_row(size + ": head | plain read() 64 KiB", plain_rate),
      {size + ": head captured by run_process", "vs cat >= 0.70",
       format("%.0f MiB/s", median(step_rate)),
       format("%.0f-%.0f", quantile(step_rate, 0.1), quantile(step_rate, 0.9)),
       format("%.2f", q_cat), verdict(q_cat >= 0.70)},
      {"  the same against the plain read()", "vs read() >= 0.70", "", "", format("%.2f", q_plain),
       verdict(q_plain >= 0.70)},
      {"runner peak RSS growth during capture", format("flat, <= %.0f MiB", flat_mib),
       format("%.1f MiB", median(peak)),
       format("%.1f-%.1f", *std::min_element(peak.begin(), peak.end()), growth), "-",
       verdict(growth <= flat_mib)},
  };
}

void print_table(const std::vector<Row>& rows) {
  const Row header{"figure", "target", "median", "p10-p90", "ratio", "result"};
  size_t widths[5] = {};
  const auto measure = [&](const Row& row) {
    const std::string* cells[5] = {&row.figure, &row.target, &row.value, &row.spread, &row.ratio};
    for (size_t i = 0; i < 5; ++i) {
      widths[i] = std::max(widths[i], cells[i]->size());
    }
  };
  measure(header);
  for (const Row& row : rows) {
    measure(row);
  }
  const auto print = [&](const Row& row) {
    std::printf("%-*s  %-*s  %*s  %*s  %*s  %s\n", static_cast<int>(widths[0]), row.figure.c_str(),
                static_cast<int>(widths[1]), row.target.c_str(), static_cast<int>(widths[2]),
                row.value.c_str(), static_cast<int>(widths[3]), row.spread.c_str(),
                static_cast<int>(widths[4]), row.ratio.c_str(), row.result.c_str());
  };
  print(header);
  for (const Row& row : rows) {
    print(row);
  }
}

// With JOBS_BENCH_TSV set (bench/run-all sets it), the rows are also appended to that file as
// tab-separated lines: source, figure, target, median, spread, ratio, result.
void append_tsv(const std::vector<Row>& rows) {
  const char* path = std::getenv("JOBS_BENCH_TSV");
  if (path == nullptr || *path == '\0') {
    return;
  }
  FILE* out = std::fopen(path, "a");
  if (out == nullptr) {
    die(std::string("cannot append to ") + path + ": " + std::strerror(errno));
  }
  for (const Row& row : rows) {
    std::fprintf(out, "exec\t%s\t%s\t%s\t%s\t%s\t%s\n", row.figure.c_str(), row.target.c_str(),
                 row.value.c_str(), row.spread.c_str(), row.ratio.c_str(), row.result.c_str());
  }
  std::fclose(out);
}

} // namespace

int main(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") {
      s.quick = true;
      s.throughput_rounds = 6;
      s.throughput_block = 20;
      s.overhead_runs = 100;
      s.capture_runs = 3;
      s.capture_bytes = std::int64_t{100} << 20;
    } else {
      std::fprintf(stderr, "usage: bench_exec [--quick]\n");
      return 2;
    }
  }

  RawSpawn raw({true_path});
  Engine eng;
  // Warm up: page cache, the dynamic loader's caches, the allocator.
  for (int i = 0; i < 20; ++i) {
    raw.run();
    run_process_true();
    eng.run();
  }

  utsname host{};
  uname(&host);
  std::printf("bench_exec%s: %u CPUs, %s %s\n", s.quick ? " --quick" : "",
              std::thread::hardware_concurrency(), host.sysname, host.release);
  std::vector<std::string> notes;
  std::vector<Row> rows = measure_throughput(s, raw, eng, notes);
  for (Row& r : measure_overhead(s, raw, eng, notes)) {
    rows.push_back(std::move(r));
  }
  for (Row& r : measure_capture(s, notes)) {
    rows.push_back(std::move(r));
  }
  std::printf("\n");
  print_table(rows);
  append_tsv(rows);
  std::printf("\n");
  for (const std::string& note : notes) {
    std::printf("%s\n", note.c_str());
  }
  return 0;
}
