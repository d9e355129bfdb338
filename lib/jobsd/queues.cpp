#include <jobsd/queues.hpp>

namespace jobsd {

std::string zone_of(const jobs::JobDefinition& job) {
  return job.zone ? job.zone->name() : std::string("UTC");
}

Queues::Queues(std::function<int(const std::string&)> limit_of, int global_limit)
    : limit_of_(std::move(limit_of)), global_limit_(global_limit) {}

void Queues::ensure(const std::string& zone) {
  if (!queues_.count(zone)) {
    queues_[zone].limit = limit_of_(zone);
  }
}

void Queues::push(Pending p) {
  const std::string zone = zone_of(*p.job);
  ensure(zone);
  queues_[zone].items.emplace(Key{p.job->priority, seq_++}, std::move(p));
}

std::optional<Pending> Queues::pop(const std::function<bool(const Pending&)>& may_start) {
  if (running_ >= global_limit_) {
    return std::nullopt;
  }
  Queue* best_queue = nullptr;
  std::map<Key, Pending>::iterator best;
  for (auto& [zone, q] : queues_) {
    if (q.running >= q.limit) {
      continue;
    }
    for (auto it = q.items.begin(); it != q.items.end(); ++it) {
      if (best_queue != nullptr && !(it->first < best->first)) {
        break; // nothing later in this queue comes first
      }
      if (!may_start || may_start(it->second)) {
        best_queue = &q;
        best = it;
        break;
      }
    }
  }
  if (best_queue == nullptr) {
    return std::nullopt;
  }
  Pending p = std::move(best->second);
  best_queue->items.erase(best);
  ++best_queue->running;
  ++running_;
  return p;
}

void Queues::finished(const std::string& zone) {
  // find(), not []: a zone without a queue must not get one (with limit 0) from this.
  const auto it = queues_.find(zone);
  if (it != queues_.end() && it->second.running > 0) {
    --it->second.running;
    --running_;
  }
}

std::optional<Pending> Queues::remove(const std::string& execution_id) {
  for (auto& [zone, q] : queues_) {
    for (auto it = q.items.begin(); it != q.items.end(); ++it) {
      if (it->second.execution_id == execution_id) {
        Pending p = std::move(it->second);
        q.items.erase(it);
        return p;
      }
    }
  }
  return std::nullopt;
}

std::vector<Pending> Queues::remove_job(const std::string& job_id) {
  std::vector<Pending> out;
  for (auto& [zone, q] : queues_) {
    std::erase_if(q.items, [&](auto& item) {
      if (item.second.job->id != job_id) {
        return false;
      }
      out.push_back(std::move(item.second));
      return true;
    });
  }
  return out;
}

Pending* Queues::find(const std::string& execution_id) {
  for (auto& [zone, q] : queues_) {
    for (auto& [key, p] : q.items) {
      if (p.execution_id == execution_id) {
        return &p;
      }
    }
  }
  return nullptr;
}

std::vector<Pending> Queues::take_all() {
  std::vector<Pending> out;
  for (auto& [zone, q] : queues_) {
    for (auto& [key, p] : q.items) {
      out.push_back(std::move(p));
    }
    q.items.clear();
  }
  return out;
}

std::vector<const Pending*> Queues::queued() const {
  std::vector<const Pending*> out;
  for (const auto& [zone, q] : queues_) {
    for (const auto& [key, p] : q.items) {
      out.push_back(&p);
    }
  }
  return out;
}

std::vector<Queues::ZoneStatus> Queues::status() const {
  std::vector<ZoneStatus> out;
  for (const auto& [zone, q] : queues_) {
    out.push_back({zone, q.items.size(), q.running, q.limit});
  }
  return out;
}

} // namespace jobsd
