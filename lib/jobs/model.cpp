#include <jobs/model.hpp>

namespace jobs {

std::optional<cron::Fire> JobDefinition::next_fire(cron::Instant from) const {
  std::optional<cron::Fire> best;
  for (const auto& s : schedule.compiled) {
    auto f = s.next_fire(from);
    if (f && (!best || f->time < best->time)) {
      best = f;
    }
  }
  if (schedule.at) {
    const cron::Instant at{std::chrono::seconds{*schedule.at}};
    if (at > from && (!best || at < best->time)) {
      best = cron::Fire{at, {}};
    }
  }
  return best;
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

} // namespace jobs
