#include <engine/result.hpp>
#include <store/json.hpp>

#include <array>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>

namespace engine {

namespace {

constexpr std::array<const char*, 9> names = {"pending",   "running",         "success",
                                              "failed",    "partial_success", "timeout",
                                              "cancelled", "skipped",         "interrupted"};

double seconds_between(TimePoint a, TimePoint b) {
  return std::chrono::duration<double>(b - a).count();
}

} // namespace

const char* to_string(Status s) {
  return names[static_cast<size_t>(s)];
}

std::optional<Status> parse_status(std::string_view text) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (text == names[i]) {
      return static_cast<Status>(i);
    }
  }
  return std::nullopt;
}

const std::vector<std::string_view>& status_names() {
  static const std::vector<std::string_view> all(names.begin(), names.end());
  return all;
}

double StepResult::duration_seconds() const {
  return seconds_between(start, end);
}

double JobResult::duration_seconds() const {
  return seconds_between(start, end);
}

const StepResult* JobResult::failed_step() const {
  if (failing_step) {
    return &steps.at(*failing_step);
  }
  for (const auto& s : steps) {
    if (s.status == Status::failed || s.status == Status::timeout) {
      return &s;
    }
  }
  return nullptr;
}

std::string iso_time(TimePoint t) {
  return store::iso_time(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

std::string new_execution_id(TimePoint now) {
  static std::mutex mutex;
  static std::mt19937_64 random{std::random_device{}() ^
                                static_cast<std::uint64_t>(now.time_since_epoch().count())};
  static std::uint64_t last_ms = 0;
  static std::uint64_t high = 0; // 16 random bits
  static std::uint64_t low = 0;  // 64 random bits
  const char* const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

  std::lock_guard lock(mutex);
  auto ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
  if (ms <= last_ms) {
    // Same millisecond (or the clock went back): keep the time, count up the random part.
    ms = last_ms;
    if (++low == 0) {
      high = (high + 1) & 0xFFFF;
    }
  } else {
    last_ms = ms;
    high = random() & 0xFFFF;
    low = random();
  }
  std::string id(26, '0');
  for (int i = 9; i >= 0; --i) {
    id[static_cast<size_t>(i)] = alphabet[ms & 31];
    ms >>= 5;
  }
  // 80 bits: 16 of `high`, then 64 of `low`, 5 bits per character.
  std::uint64_t h = high;
  std::uint64_t l = low;
  for (int i = 25; i >= 10; --i) {
    id[static_cast<size_t>(i)] = alphabet[l & 31];
    l = (l >> 5) | ((h & 31) << 59);
    h >>= 5;
  }
  return id;
}

} // namespace engine
