#include <base/duration.hpp>
#include <jobsd/scheduler.hpp>
#include <tz/format.hpp>

#include <algorithm>
#include <random>

namespace jobsd {

namespace {

using cron::Instant;

struct PastFire {
  std::int64_t instant;
  bool fixed_time; // made by a fixed-time schedule (or `at`), not an interval one
};

// The latest fire of `job` strictly before `before`.
std::optional<PastFire> latest_before(const jobs::JobDefinition& job, std::int64_t before) {
  std::optional<PastFire> best;
  const auto offer = [&](std::int64_t t, bool fixed) {
    if (!best || t > best->instant) {
      best = PastFire{t, fixed};
    } else if (t == best->instant) {
      best->fixed_time = best->fixed_time || fixed;
    }
  };
  for (const auto& s : job.schedule.compiled) {
    if (s.is_reboot()) {
      continue;
    }
    if (const auto f = s.prev(Instant(std::chrono::seconds(before)))) {
      offer(f->time_since_epoch().count(), !s.is_interval());
    }
  }
  if (job.schedule.at && *job.schedule.at < before) {
    offer(*job.schedule.at, true);
  }
  return best;
}

std::string when(std::int64_t t) {
  return tz::format_utc(t);
}

const char* cause_text(Gap g) {
  switch (g) {
  case Gap::down:
    return "while jobsd was down";
  case Gap::suspended:
    return "while the host was suspended";
  case Gap::clock_jump:
    return "when the clock jumped forward";
  }
  return "";
}

} // namespace

std::string schedule_key(const jobs::JobDefinition& job) {
  if (job.schedule.empty()) {
    return "";
  }
  std::string key = "zone " + (job.zone ? job.zone->name() : job.timezone) + "\ndst_gap " +
                    (job.schedule.dst_gap == cron::DstGap::skip ? "skip" : "shift");
  for (const auto& c : job.schedule.cron) {
    key += "\ncron " + c;
  }
  if (job.schedule.at) {
    key += "\nat " + std::to_string(*job.schedule.at);
  }
  return key;
}

bool same_schedule(const jobs::JobDefinition& a, const jobs::JobDefinition& b) {
  return a.id == b.id && a.zone == b.zone && schedule_key(a) == schedule_key(b);
}

Scheduler::Scheduler(std::function<double()> random) : random_(std::move(random)) {
  if (!random_) {
    random_ = [engine = std::mt19937_64(std::random_device{}())]() mutable {
      return std::uniform_real_distribution<double>(0, 1)(engine);
    };
  }
}

void Scheduler::push(const std::string& id, Entry& e) {
  e.version = ++versions_;
  if (!e.next) {
    return;
  }
  heap_.push_back({*e.next, e.version, id});
  std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
}

bool Scheduler::stale(const Item& item) const {
  const auto it = entries_.find(item.id);
  return it == entries_.end() || it->second.version != item.version;
}

void Scheduler::set_jobs(const std::vector<JobPtr>& jobs, std::int64_t now,
                         const std::optional<StartUp>& start_up) {
  std::unordered_map<std::string, Entry> next_entries;
  next_entries.reserve(jobs.size());
  std::vector<std::string> added;
  for (const auto& job : jobs) {
    if (!job->enabled || job->schedule.empty()) {
      continue;
    }
    const auto old = entries_.find(job->id);
    if (old != entries_.end() && same_schedule(*old->second.job, *job)) {
      Entry kept = std::move(old->second);
      kept.job = job;
      next_entries.emplace(job->id, std::move(kept));
      continue;
    }
    Entry e;
    e.job = job;
    e.cursor = now;
    if (start_up) {
      const std::int64_t began = std::min(start_up->began, now);
      e.cursor = began;
      if (const auto last = start_up->last_fire ? start_up->last_fire(job->id) : std::nullopt) {
        e.cursor = *last;
        e.down_until = began;
      }
    }
    if (old != entries_.end()) {
      // After the clock went back, what the old schedule handled stays handled: the new one
      // starts after it, not at the earlier `now`.
      e.cursor = std::max(e.cursor, old->second.cursor);
    }
    const auto fire = job->next_fire(Instant(std::chrono::seconds(e.cursor)));
    if (fire) {
      e.next = fire->time.time_since_epoch().count();
    }
    next_entries.emplace(job->id, std::move(e));
    added.push_back(job->id);
  }
  entries_ = std::move(next_entries);
  for (const auto& id : added) {
    push(id, entries_.at(id));
  }
  // Items of replaced and removed jobs are stale; rebuild when they are most of the heap.
  if (heap_.size() > 2 * entries_.size() + 1024) {
    std::erase_if(heap_, [&](const Item& item) { return stale(item); });
    std::make_heap(heap_.begin(), heap_.end(), std::greater<>());
  }
}

void Scheduler::missed(Gap cause, std::int64_t from, std::int64_t to) {
  if (to > from) {
    windows_.push_back({cause, from, to});
  }
}

std::optional<std::int64_t> Scheduler::next_due() {
  while (!heap_.empty() && stale(heap_.front())) {
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
    heap_.pop_back();
  }
  if (heap_.empty()) {
    return std::nullopt;
  }
  return heap_.front().time;
}

std::optional<std::int64_t> Scheduler::next_fire(const std::string& id) const {
  const auto it = entries_.find(id);
  if (it == entries_.end()) {
    return std::nullopt;
  }
  return it->second.next;
}

std::vector<Fire> Scheduler::take_due(std::int64_t now, std::vector<std::string>* notes) {
  std::vector<Fire> out;
  while (const auto due = next_due()) {
    if (*due > now) {
      break;
    }
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
    const std::string id = std::move(heap_.back().id);
    heap_.pop_back();
    Entry& e = entries_.at(id);
    handle(e, now, out, notes);
    push(id, e);
  }
  // Every fire inside a window has been handled: a job with one there was due by now.
  std::erase_if(windows_, [&](const Window& w) { return w.to <= now; });
  std::stable_sort(out.begin(), out.end(),
                   [](const Fire& a, const Fire& b) { return a.instant < b.instant; });
  return out;
}

void Scheduler::handle(Entry& e, std::int64_t now, std::vector<Fire>& out,
                       std::vector<std::string>* notes) {
  const jobs::JobDefinition& job = *e.job;
  // The fires in (cursor, now], newest first, at most one more than can be caught up.
  std::vector<PastFire> fires;
  for (std::int64_t before = now + 1; fires.size() <= max_catchup_fires;) {
    const auto f = latest_before(job, before);
    if (!f || f->instant <= e.cursor) {
      break;
    }
    fires.push_back(*f);
    before = f->instant;
  }
  const bool more = fires.size() > max_catchup_fires;
  if (more) {
    fires.pop_back();
  }
  std::reverse(fires.begin(), fires.end());
  // With more fires than were looked at, the first one after the cursor opens the notes' range.
  std::optional<std::int64_t> first_fire;
  if (more) {
    if (const auto f = job.next_fire(Instant(std::chrono::seconds(e.cursor)))) {
      first_fire = f->time.time_since_epoch().count();
    }
  }
  e.cursor = now;
  const auto next = job.next_fire(Instant(std::chrono::seconds(now)));
  e.next = next ? std::optional(next->time.time_since_epoch().count()) : std::nullopt;

  const auto note = [&](const std::string& text) {
    if (notes != nullptr) {
      notes->push_back("job " + job.id + ": " + text);
    }
  };
  const auto fire = [&](std::int64_t instant) {
    Fire f;
    f.job = e.job;
    f.instant = instant;
    f.run_at_ms = instant * 1000;
    if (job.schedule.jitter > 0) {
      f.run_at_ms +=
          static_cast<std::int64_t>(random_() * static_cast<double>(job.schedule.jitter) * 1000);
    }
    return f;
  };

  std::vector<std::int64_t> missed;
  std::optional<Gap> cause;
  size_t dropped = 0;
  std::optional<Gap> dropped_cause;
  // Why the fire at `instant` was missed, if it was; `drop`: it is not caught up at all.
  const auto gap_of = [&](std::int64_t instant, bool fixed_time = true,
                          bool* drop = nullptr) -> std::optional<Gap> {
    if (instant <= e.down_until) {
      return Gap::down;
    }
    for (const auto& w : windows_) {
      if (instant > w.from && instant <= w.to) {
        if (drop != nullptr) {
          *drop = w.cause == Gap::clock_jump && (w.to - w.from > max_caught_up_jump || !fixed_time);
        }
        return w.cause;
      }
    }
    return std::nullopt;
  };
  for (const auto& f : fires) {
    bool drop = false;
    const std::optional<Gap> gap = gap_of(f.instant, f.fixed_time, &drop);
    if (!gap) {
      out.push_back(fire(f.instant));
    } else if (drop) {
      ++dropped;
      dropped_cause = gap;
    } else {
      missed.push_back(f.instant);
      cause = gap;
    }
  }
  if (dropped > 0) {
    // With more fires than were looked at, the older ones passed too.
    note((more ? "more than " : "") + std::to_string(dropped) + " fire" +
         (dropped == 1 && !more ? "" : "s") + " passed " + cause_text(*dropped_cause) +
         "; not caught up (interval schedules follow real time, " +
         "and jumps of more than 3h catch nothing up)");
  }
  if (missed.empty()) {
    return;
  }
  const std::int64_t lateness_limit = job.schedule.max_lateness.value_or(INT64_MAX);
  const auto too_late = [&](std::int64_t t) { return now - t > lateness_limit; };
  const auto skip = [&](std::int64_t instant, std::string reason) {
    Fire f = fire(instant);
    f.run_at_ms = now * 1000;
    f.skip = std::move(reason);
    out.push_back(std::move(f));
  };
  const auto catch_up = [&](std::int64_t instant) {
    Fire f = fire(instant);
    f.run_at_ms = now * 1000;
    f.catchup = true;
    out.push_back(std::move(f));
  };
  const auto late_reason = [&](std::int64_t t) {
    return "missed " + std::string(cause_text(*cause)) + ": " + base::format_duration(now - t) +
           " late, more than max_lateness " + base::format_duration(lateness_limit);
  };
  const std::string count =
      (more ? "more than " : "") + std::to_string(missed.size()) + " fire" +
      (missed.size() == 1 && !more ? "" : "s") + " missed " + cause_text(*cause) + " (" +
      when(more && first_fire && gap_of(*first_fire) == cause ? *first_fire : missed.front()) +
      (missed.size() > 1 ? " to " + when(missed.back()) : "") + ")";
  switch (job.schedule.missed) {
  case jobs::Missed::skip:
    skip(missed.back(), "missed " + std::string(cause_text(*cause)) + " (missed: skip)");
    note(count + "; missed: skip runs none");
    break;
  case jobs::Missed::once:
    if (too_late(missed.back())) {
      skip(missed.back(), late_reason(missed.back()));
      note(count + "; the latest is past max_lateness, none runs");
    } else {
      catch_up(missed.back());
      note(count + "; running the latest once (missed: once)");
    }
    break;
  case jobs::Missed::all: {
    size_t ran = 0;
    std::optional<std::int64_t> latest_too_late;
    for (const auto t : missed) {
      if (too_late(t)) {
        latest_too_late = t;
      } else {
        catch_up(t);
        ++ran;
      }
    }
    if (latest_too_late) {
      skip(*latest_too_late, late_reason(*latest_too_late));
    }
    note(count + "; running " + std::to_string(ran) + " (missed: all" +
         (more ? ", at most " + std::to_string(max_catchup_fires) : std::string()) + ")");
    break;
  }
  }
}

} // namespace jobsd
