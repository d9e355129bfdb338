#pragma once

// What `jobsctl check` and jobsd's health command find wrong, from jobsd's status and list (or,
// for jobsctl without jobsd, from the files and the store): one place for the reasons' words.
// States follow the monitoring plugins' convention (man/jobsctl.1, EXIT STATUS).

#include <ipc/protocol.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace jobsd::health {

// 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN: also jobsctl check's exit status.
enum class State { ok = 0, warning = 1, critical = 2, unknown = 3 };

// "OK", "WARNING", "CRITICAL", "UNKNOWN".
const char* name_of(State s);

// A job as health judges it.
struct Job {
  std::string id;
  bool enabled = true;
  bool scheduled = false;
  std::string last_status; // empty: never ran
  std::optional<std::int64_t> last_success_ms;
};

// The jobs, and the problems of jobsd, its files and its store, in the order found.
struct Findings {
  std::vector<Job> jobs;
  std::vector<std::pair<State, std::string>> problems;
  std::size_t bad_files = 0;
  bool history_known = true; // false: the store could not be read, so no job's last run is known

  void add(State s, std::string text) { problems.emplace_back(s, std::move(text)); }
  // The problems worst first (CRITICAL, UNKNOWN, WARNING), each state in the order found, and
  // the worst state (ok when there is none).
  State sort();
};

// What jobsctl check counts of the jobs it judged.
struct Counts {
  std::size_t checked = 0, failed = 0, stale = 0;
};

// The files with errors (`paths`, each once): a warning naming them.
void add_bad_files(Findings& f, std::vector<std::string> paths);

// The history store: its fault (empty: none), the writes waiting in memory meanwhile, and
// those lost since jobsd started.
void judge_store(const std::string& fault, std::int64_t waiting, std::int64_t lost, Findings& f);

// jobsd.log: the lines lost (0: none), and why.
void judge_log(std::int64_t lost_lines, const std::string& error, Findings& f);

// jobsd's status result (the status command): its files with errors, its store and its log.
void judge_status(const ipc::Json& status, Findings& f);

// The store's job states could not be read (`message`): no job's last run is known.
void history_unreadable(const std::string& message, Findings& f);

// A row of jobsd's list result. `last_success_ms` is unset when the row has no
// "last_success" (a jobsd older than this program) or it is null.
Job listed_job(const ipc::Json& row);

// The jobs' own problems: those `named` (each must be among f.jobs), else every enabled job;
// with `max_age` (seconds, written as `max_age_text`), those without a success since `now_ms`
// minus it.
Counts judge_jobs(const std::vector<std::string>& named, std::optional<std::int64_t> max_age,
                  const std::string& max_age_text, std::int64_t now_ms, Findings& f);

} // namespace jobsd::health
