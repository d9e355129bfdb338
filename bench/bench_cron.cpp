// Measures cron::Schedule: next() in UTC and in America/New_York from 4096 fixed pseudo-random
// start instants over 2000-2100 (a quarter of them within 3 h of a New York DST transition),
// the leap-day worst case from 2096-03-01, parse(), and copying a parsed Schedule. A replaced
// global operator new counts heap allocations (reported per parse, per next and per copy);
// sizeof(cron::Schedule) goes into the run's context. bench/run-cron checks the medians
// against the targets.

#include <base/civil.hpp>
#include <cron/schedule.hpp>
#include <tz/zone.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace {

// Heap allocations made by this thread (the benchmarks run on the main thread only).
thread_local std::size_t allocation_count = 0;

} // namespace

// Counting replacements of the global allocation functions; the nothrow forms of the standard
// library forward to these. Not inlined: GCC would see free() of a new'd pointer and warn
// (-Wmismatched-new-delete).
[[gnu::noinline]] void* operator new(std::size_t size) {
  ++allocation_count;
  if (void* p = std::malloc(size == 0 ? 1 : size)) {
    return p;
  }
  throw std::bad_alloc();
}

[[gnu::noinline]] void* operator new[](std::size_t size) {
  return ::operator new(size);
}
[[gnu::noinline]] void operator delete(void* p) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

using cron::Instant;

constexpr std::int64_t day_seconds = 86400;
constexpr std::size_t start_count = 4096; // a power of two: cycle with `& start_mask`
constexpr std::size_t start_mask = start_count - 1;
constexpr std::string_view h_seed = "nightly-report";

struct Expression {
  std::string_view text;
  std::string_view seed;
};

constexpr Expression expressions[] = {
    {"*/5 9-17 * * 1-5", {}}, {"0 2 * * *", {}},    {"30 14 1,15 * *", {}}, {"0 0 29 2 *", {}},
    {"0 0 L * *", {}},        {"0 9 * * 1#2", {}},  {"H H * * *", h_seed},  {"*/10 * * * * *", {}},
    {"0 30 2 * * *", {}},     {"15 10 LW * *", {}}, {"0 0 1 1 *", {}},      {"30 2 * * *", {}},
};

constexpr std::string_view leap_expression = "0 0 29 2 *";

Instant utc_instant(int year, unsigned month, unsigned day, int hour = 0) {
  return Instant{std::chrono::seconds{base::civil::days_from_date(year, month, day) * day_seconds +
                                      hour * 3600}};
}

// SplitMix64: a fixed, portable sequence (std:: distributions differ between libraries).
struct SplitMix {
  std::uint64_t state;

  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  std::int64_t below(std::int64_t n) {
    return static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(n));
  }
};

// The start instants every next() benchmark cycles through: uniform over 2000-2100, a quarter
// within 3 hours either side of one of `dst_zone`'s transitions in that century, and
// 2096-03-01 (whose next 29 February is in 2104) first.
std::vector<Instant> make_starts(const tz::Zone& dst_zone) {
  const std::int64_t lo = utc_instant(2000, 1, 1).time_since_epoch().count();
  const std::int64_t hi = utc_instant(2100, 1, 1).time_since_epoch().count();
  std::vector<std::int64_t> transitions;
  for (size_t i = dst_zone.index_at(lo) + 1; i < dst_zone.period_count(); ++i) {
    const std::int64_t begin = dst_zone.period(i).begin;
    if (begin >= hi) {
      break;
    }
    transitions.push_back(begin);
  }

  SplitMix rng{0x6a6f6273'63726f6eULL};
  std::vector<Instant> starts;
  starts.reserve(start_count);
  starts.push_back(utc_instant(2096, 3, 1));
  while (starts.size() < start_count) {
    std::int64_t t = 0;
    if (!transitions.empty() && rng.below(4) == 0) {
      const auto k = static_cast<size_t>(rng.below(static_cast<std::int64_t>(transitions.size())));
      t = transitions[k] + rng.below(6 * 3600 + 1) - 3 * 3600;
    } else {
      t = lo + rng.below(hi - lo);
    }
    starts.push_back(Instant{std::chrono::seconds{t}});
  }
  return starts;
}

cron::Schedule parse_or_die(std::string_view text, const cron::ParseOptions& options) {
  auto result = cron::Schedule::parse(text, options);
  if (!result.ok()) {
    std::fprintf(stderr, "bench_cron: cannot parse \"%.*s\": %s\n", static_cast<int>(text.size()),
                 text.data(), result.error().message.c_str());
    std::exit(1);
  }
  return *result;
}

// Every start must have a next fire after it; a broken schedule would time nothing useful.
void check_next(const cron::Schedule& schedule, std::string_view label,
                const std::vector<Instant>& starts) {
  for (const Instant start : starts) {
    const auto fire = schedule.next(start);
    if (!fire || *fire <= start) {
      std::fprintf(stderr, "bench_cron: %.*s: no next fire after %lld\n",
                   static_cast<int>(label.size()), label.data(),
                   static_cast<long long>(start.time_since_epoch().count()));
      std::exit(1);
    }
  }
}

void check_equal(std::string_view label, std::optional<Instant> got, Instant want) {
  if (got != want) {
    std::fprintf(stderr, "bench_cron: %.*s: expected %lld, got %lld\n",
                 static_cast<int>(label.size()), label.data(),
                 static_cast<long long>(want.time_since_epoch().count()),
                 got ? static_cast<long long>(got->time_since_epoch().count()) : -1LL);
    std::exit(1);
  }
}

void bench_next(benchmark::State& state, const cron::Schedule& schedule,
                const std::vector<Instant>& starts) {
  size_t i = 0;
  const std::size_t allocations_before = allocation_count;
  for (auto _ : state) {
    auto fire = schedule.next(starts[i++ & start_mask]);
    benchmark::DoNotOptimize(fire);
  }
  state.counters["allocs_per_call"] =
      benchmark::Counter(static_cast<double>(allocation_count - allocations_before),
                         benchmark::Counter::kAvgIterations);
}

// One start instant on purpose: the worst case of the leap-day schedule.
void bench_next_from(benchmark::State& state, const cron::Schedule& schedule, Instant start) {
  const std::size_t allocations_before = allocation_count;
  for (auto _ : state) {
    benchmark::DoNotOptimize(start);
    auto fire = schedule.next(start);
    benchmark::DoNotOptimize(fire);
  }
  state.counters["allocs_per_call"] =
      benchmark::Counter(static_cast<double>(allocation_count - allocations_before),
                         benchmark::Counter::kAvgIterations);
}

void bench_parse(benchmark::State& state, std::string_view text, cron::ParseOptions options) {
  const std::size_t allocations_before = allocation_count;
  for (auto _ : state) {
    auto result = cron::Schedule::parse(text, options);
    benchmark::DoNotOptimize(result);
  }
  state.counters["allocs_per_call"] =
      benchmark::Counter(static_cast<double>(allocation_count - allocations_before),
                         benchmark::Counter::kAvgIterations);
}

void bench_copy(benchmark::State& state, const std::vector<cron::Schedule>& schedules) {
  size_t i = 0;
  const std::size_t allocations_before = allocation_count;
  for (auto _ : state) {
    cron::Schedule copy = schedules[i];
    benchmark::DoNotOptimize(copy);
    if (++i == schedules.size()) {
      i = 0;
    }
  }
  state.counters["allocs_per_call"] =
      benchmark::Counter(static_cast<double>(allocation_count - allocations_before),
                         benchmark::Counter::kAvgIterations);
  state.counters["sizeof_schedule"] = static_cast<double>(sizeof(cron::Schedule));
}

} // namespace

int main(int argc, char** argv) {
  auto new_york = tz::find_zone("America/New_York");
  if (!new_york.ok()) {
    std::fprintf(stderr, "bench_cron: %s\n", new_york.error().message.c_str());
    return 1;
  }
  const tz::Zone& ny = **new_york;
  const std::vector<Instant> starts = make_starts(ny);

  struct ZoneCase {
    const char* label;
    const tz::Zone* zone; // null: UTC
  };
  const ZoneCase zones[] = {{"UTC", nullptr}, {"America/New_York", &ny}};

  std::vector<cron::Schedule> all; // for the copy benchmark
  for (const ZoneCase& z : zones) {
    for (const Expression& e : expressions) {
      const cron::ParseOptions options{z.zone, e.seed, cron::DstGap::shift};
      const cron::Schedule schedule = parse_or_die(e.text, options);
      const std::string name = "next/" + std::string(z.label) + "/" + std::string(e.text);
      check_next(schedule, name, starts);
      all.push_back(schedule);
      benchmark::RegisterBenchmark(name.c_str(), [schedule, &starts](benchmark::State& state) {
        bench_next(state, schedule, starts);
      });
    }
  }

  // The leap-day worst case: from 2096-03-01 (2100 is not a leap year) the next fire is
  // 2104-02-29.
  const Instant leap_start = utc_instant(2096, 3, 1);
  for (const ZoneCase& z : zones) {
    const cron::ParseOptions options{z.zone, {}, cron::DstGap::shift};
    const cron::Schedule schedule = parse_or_die(leap_expression, options);
    const std::string name =
        "next/" + std::string(z.label) + "/" + std::string(leap_expression) + " from 2096-03-01";
    check_equal(name, schedule.next(leap_start),
                utc_instant(2104, 2, 29, z.zone ? 5 : 0)); // New York: EST, UTC-5
    benchmark::RegisterBenchmark(name.c_str(), [schedule, leap_start](benchmark::State& state) {
      bench_next_from(state, schedule, leap_start);
    });
  }

  for (const Expression& e : expressions) {
    const cron::ParseOptions options{nullptr, e.seed, cron::DstGap::shift};
    parse_or_die(e.text, options); // also settles any lazy initialisation before timing
    const std::string name = "parse/" + std::string(e.text);
    benchmark::RegisterBenchmark(name.c_str(), [e, options](benchmark::State& state) {
      bench_parse(state, e.text, options);
    });
  }

  benchmark::RegisterBenchmark("copy/Schedule",
                               [&all](benchmark::State& state) { bench_copy(state, all); });

  benchmark::AddCustomContext("sizeof(cron::Schedule)", std::to_string(sizeof(cron::Schedule)));
  benchmark::AddCustomContext("cron::Schedule trivially copyable",
                              std::is_trivially_copyable_v<cron::Schedule> ? "yes" : "no");
  benchmark::AddCustomContext("next() start instants",
                              std::to_string(starts.size()) +
                                  " over 2000-2100, 1/4 near New York DST transitions");

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
