// Fuzzes the cron parser and, for what parses, the canonical round trip and next()/prev().
#include <cron/schedule.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  cron::ParseOptions options;
  options.seed = "fuzz";
  const auto s = cron::Schedule::parse(text, options);
  if (!s) {
    // Every error points inside the text or just past its end.
    const int column = s.error().location.column;
    if (column < 1 || static_cast<size_t>(column) > text.size() + 1) {
      std::abort();
    }
    return 0;
  }
  const auto again = cron::Schedule::parse(s->to_string(), options);
  if (!again || !(*again == *s)) {
    std::abort();
  }
  const cron::Instant t{std::chrono::seconds{1735689600}}; // 2025-01-01
  const auto next = s->next(t);
  // A schedule that parses fires (parse rejects the ones that never do), except @reboot.
  if (next.has_value() == s->is_reboot()) {
    std::abort();
  }
  if (next && (*next <= t || (s->prev(*next) && *s->prev(*next) > t))) {
    std::abort();
  }
  return 0;
}
