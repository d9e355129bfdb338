#pragma once

// The time-zone queues (the EDD's TimezoneJobQueue): one queue per zone in use, created on
// demand, each with its own limit of running executions, ordered by priority (higher first)
// and then by arrival; and a limit over all queues.

#include <jobsd/scheduler.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace jobsd {

// An execution waiting for its turn.
struct Pending {
  std::string execution_id;
  JobPtr job;
  std::optional<std::int64_t> scheduled; // UTC seconds of the fire; none for a manual run
  std::string trigger;                   // schedule, catchup, manual, api, after
  std::string triggered_by;
  std::int64_t queued_ms = 0;
  bool claimed = false; // its fire is claimed in the store (else it claims it as it begins)
};

// The zone a job's queue is named after.
std::string zone_of(const jobs::JobDefinition& job);

class Queues {
public:
  // `limit_of` gives a zone's limit of running executions.
  Queues(std::function<int(const std::string&)> limit_of, int global_limit);

  // Creates the queue of `zone` if it does not exist yet.
  void ensure(const std::string& zone);
  void push(Pending p);

  // Takes the next execution allowed to start now, if any: across the queues that have room
  // (while the global limit has room), the highest priority, then the earliest queued.
  // `may_start` can hold one back (a job whose replaced execution is still ending); the next
  // in order is taken then. Counts it as running in its queue.
  std::optional<Pending> pop(const std::function<bool(const Pending&)>& may_start = {});

  // An execution that pop() gave has ended.
  void finished(const std::string& zone);

  // Takes a queued execution out (cancel); nullopt when it is not queued.
  std::optional<Pending> remove(const std::string& execution_id);
  // Takes every queued execution of a job out.
  std::vector<Pending> remove_job(const std::string& job_id);
  // The queued execution with this id, or null.
  Pending* find(const std::string& execution_id);
  // Takes every queued execution out.
  std::vector<Pending> take_all();
  std::vector<const Pending*> queued() const;

  struct ZoneStatus {
    std::string zone;
    size_t depth = 0;
    int running = 0;
    int limit = 0;
  };
  std::vector<ZoneStatus> status() const; // by zone name
  int running() const { return running_; }
  int global_limit() const { return global_limit_; }

private:
  struct Key {
    int priority;
    std::uint64_t seq;
    bool operator<(const Key& o) const {
      return priority != o.priority ? priority > o.priority : seq < o.seq;
    }
  };
  struct Queue {
    std::map<Key, Pending> items;
    int running = 0;
    int limit = 0;
  };

  std::function<int(const std::string&)> limit_of_;
  int global_limit_;
  int running_ = 0;
  std::uint64_t seq_ = 0;
  std::map<std::string, Queue> queues_;
};

} // namespace jobsd
