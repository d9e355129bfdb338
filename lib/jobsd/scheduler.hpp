#pragma once

// When jobs fire: a heap of next fires over all jobs, and the rules for fires that were not seen
// as they came (spec §3, §4): while the daemon was down, the host suspended, or the wall clock
// jumped forward. Pure logic over UTC seconds; the daemon passes the time in, so tests drive it
// with any clock.
//
// A job's fires are handled in order; each (job, instant) comes out of take_due() once. Fires
// that come out late are classified:
// - down (between the last fire the store knows and the daemon's start) and suspended: per the
//   job's `missed` policy: skip (none runs), once (the latest runs, as a catch-up), all (each
//   runs); a fire older than `max_lateness` is skipped.
// - a forward clock jump of at most 3 h: fixed-time schedules as missed fires; interval
//   schedules (and @every) simply continue in real time, catching up nothing. A longer jump
//   catches up nothing.
// A backward jump needs nothing here: fires at or before the last one handled never come again.

#include <jobs/model.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace jobsd {

using JobPtr = std::shared_ptr<const jobs::JobDefinition>;

// One fire the daemon should act on.
struct Fire {
  JobPtr job;
  std::int64_t instant = 0;   // UTC seconds: the scheduled instant, the store's key
  std::int64_t run_at_ms = 0; // when to start it: the instant plus jitter (catch-ups: now)
  bool catchup = false;       // a missed fire run late
  std::string skip;           // non-empty: do not run; record the fire as skipped with this reason
};

// Why fires were missed.
enum class Gap { down, suspended, clock_jump };

// A forward jump longer than this catches nothing up (as cronie).
inline constexpr std::int64_t max_caught_up_jump = 3 * 60 * 60;
// At most this many missed fires of one job run with `missed: all`; older ones are skipped.
inline constexpr size_t max_catchup_fires = 1000;

class Scheduler {
public:
  // `random` gives [0, 1) for jitter; null: a real one.
  explicit Scheduler(std::function<double()> random = {});

  // What the store knows at start-up, for set_jobs().
  struct StartUp {
    std::int64_t began = 0; // when jobsd began to load its jobs: no fire after it was missed
    // The last fire a job handled, if it has one that counts (see jobsd/reload.cpp).
    std::function<std::optional<std::int64_t>(const std::string&)> last_fire;
  };

  // Sets the jobs to schedule; disabled jobs and jobs without a schedule are left out. A job
  // scheduled already with the same schedule (expressions, zone, `at`, DST rule) keeps its
  // place. Others start after `now`; at start-up, after `began`, or, when `last_fire` knows
  // one, after their last fire, with the fires up to `began` missed while down and the later
  // ones ordinary (late) fires. A job whose schedule changed never starts before what its old
  // schedule handled (the clock went back).
  void set_jobs(const std::vector<JobPtr>& jobs, std::int64_t now,
                const std::optional<StartUp>& start_up = std::nullopt);

  // The host was suspended, or the wall clock jumped forward, over (from, to].
  void missed(Gap cause, std::int64_t from, std::int64_t to);

  // Every fire due at or before `now`, in time order, with what to do with it; lines for the
  // daemon's log about fires that were missed go to `notes`.
  std::vector<Fire> take_due(std::int64_t now, std::vector<std::string>* notes = nullptr);

  // The earliest instant at which take_due() returns something; nullopt: never.
  std::optional<std::int64_t> next_due();
  // The next fire of the job `id`; nullopt when it has none or is not scheduled.
  std::optional<std::int64_t> next_fire(const std::string& id) const;
  size_t size() const { return entries_.size(); }

private:
  struct Entry {
    JobPtr job;
    std::int64_t cursor = 0;             // fires at or before this are handled
    std::int64_t down_until = INT64_MIN; // fires at or before this were missed while down
    std::optional<std::int64_t> next;    // the first fire after cursor
    std::uint64_t version = 0;           // of the heap item that is current
  };
  struct Item {
    std::int64_t time;
    std::uint64_t version;
    std::string id;
    bool operator>(const Item& o) const { return time > o.time; }
  };
  struct Window {
    Gap cause;
    std::int64_t from, to;
  };

  void push(const std::string& id, Entry& e);
  bool stale(const Item& item) const;
  void handle(Entry& e, std::int64_t now, std::vector<Fire>& out, std::vector<std::string>* notes);

  std::function<double()> random_;
  std::unordered_map<std::string, Entry> entries_;
  std::vector<Item> heap_; // min-heap; items whose version is not their entry's are stale
  std::vector<Window> windows_;
  std::uint64_t versions_ = 0;
};

// The schedule of a job as one text, the same for jobs that fire at the same instants (with the
// same id); "" for a job without a schedule. The store keeps it, so that a start-up knows the
// jobs whose schedule changed while jobsd was down.
std::string schedule_key(const jobs::JobDefinition& job);

// Whether two jobs fire at the same instants (same expressions, zone, one-off time, DST rule
// and id, which seeds H).
bool same_schedule(const jobs::JobDefinition& a, const jobs::JobDefinition& b);

} // namespace jobsd
