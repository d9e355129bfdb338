#include <base/duration.hpp>
#include <jobs/model.hpp>

namespace jobs {

std::optional<cron::Fire> earliest_fire(const std::vector<cron::Schedule>& schedules,
                                        std::optional<std::int64_t> at, cron::Instant from,
                                        const cron::Schedule** which) {
  std::optional<cron::Fire> best;
  const cron::Schedule* best_schedule = nullptr;
  for (const auto& s : schedules) {
    auto f = s.next_fire(from);
    if (f && (!best || f->time < best->time)) {
      best = f;
      best_schedule = &s;
    }
  }
  if (at) {
    const cron::Instant one_off{std::chrono::seconds{*at}};
    if (one_off > from && (!best || one_off < best->time)) {
      best = cron::Fire{one_off, {}};
      best_schedule = nullptr;
    }
  }
  if (which != nullptr) {
    *which = best_schedule;
  }
  return best;
}

std::vector<NotedFire> next_fires(const std::vector<cron::Schedule>& schedules,
                                  std::optional<std::int64_t> at, cron::Instant from, int count) {
  std::vector<NotedFire> fires;
  for (int k = 0; k < count; ++k) {
    const cron::Schedule* which = nullptr;
    const auto fire = earliest_fire(schedules, at, from, &which);
    if (!fire) {
      break;
    }
    fires.push_back({*fire, which ? cron::dst_note(*which, *fire) : std::string()});
    from = fire->time;
  }
  return fires;
}

std::optional<cron::Fire> JobDefinition::next_fire(cron::Instant from) const {
  return earliest_fire(schedule.compiled, schedule.at, from);
}

const char* to_string(Concurrency c) {
  switch (c) {
  case Concurrency::allow:
    return "allow";
  case Concurrency::forbid:
    return "forbid";
  case Concurrency::replace:
    return "replace";
  }
  return "";
}

const char* to_string(Missed m) {
  switch (m) {
  case Missed::skip:
    return "skip";
  case Missed::once:
    return "once";
  case Missed::all:
    return "all";
  }
  return "";
}

const char* to_string(When w) {
  switch (w) {
  case When::on_success:
    return "on_success";
  case When::on_failure:
    return "on_failure";
  case When::always:
    return "always";
  }
  return "";
}

const char* to_string(TimeoutFrom t) {
  return t == TimeoutFrom::default_timeout ? "default_timeout" : "timeout";
}

std::string format_timeout(std::optional<std::int64_t> seconds) {
  return seconds ? base::format_duration(*seconds) : "none";
}

} // namespace jobs
