// jobsctl check: one line and an exit status for a monitoring system (the Nagios plugin
// convention, which Icinga, Sensu and Zabbix's agents follow): 0 OK, 1 WARNING, 2 CRITICAL,
// 3 UNKNOWN. What is which is in man/jobsctl.1 (EXIT STATUS).
#include "commands.hpp"
#include "daemon.hpp"
#include "daemon_config.hpp"
#include "job_folder.hpp"
#include "output.hpp"
#include "state.hpp"
#include "times.hpp"

#include <base/duration.hpp>
#include <store/json.hpp>
#include <tz/format.hpp>

#include <algorithm>
#include <iostream>
#include <map>
#include <set>

namespace jobsctl {

namespace {

// The plugin convention's states; `severity` orders them as Icinga does.
enum class State { ok = 0, warning = 1, critical = 2, unknown = 3 };

int severity(State s) {
  switch (s) {
  case State::ok:
    return 0;
  case State::warning:
    return 1;
  case State::unknown:
    return 2;
  case State::critical:
    return 3;
  }
  return 3;
}

const char* name_of(State s) {
  switch (s) {
  case State::ok:
    return "OK";
  case State::warning:
    return "WARNING";
  case State::critical:
    return "CRITICAL";
  case State::unknown:
    return "UNKNOWN";
  }
  return "UNKNOWN";
}

struct CheckOptions {
  JobFolder folder;
  StateOption state;
  DaemonOption daemon;
  std::string max_age;
  std::vector<std::string> jobs;
};

// A job as check sees it, from jobsd's list or from the files and the store.
struct Checked {
  std::string id;
  bool enabled = true;
  bool scheduled = false;
  std::string last_status; // empty: never ran
  std::optional<std::int64_t> last_success_ms;
};

// What check found: the jobs, and the problems of jobsd, its files and its store.
struct Findings {
  std::vector<Checked> jobs;
  std::vector<std::pair<State, std::string>> problems;
  std::size_t bad_files = 0;
  bool history_known = true; // false: the store could not be read, so no job's last run is known

  void add(State s, std::string text) { problems.emplace_back(s, std::move(text)); }
};

// "a, b, c and 2 more": at most five names on the line.
std::string names_of(const std::vector<std::string>& names) {
  constexpr std::size_t shown = 5;
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < shown; ++i) {
    out += (i == 0 ? "" : ", ") + names[i];
  }
  if (names.size() > shown) {
    out += " and " + std::to_string(names.size() - shown) + " more";
  }
  return out;
}

void add_bad_files(Findings& f, std::vector<std::string> paths) {
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  f.bad_files = paths.size();
  if (!paths.empty()) {
    f.add(State::warning, counted(paths.size(), "file") + " with errors: " + names_of(paths));
  }
}

// Each job's last status and success, from the store. A store that exists but cannot be read
// (a newer schema, no permission) is a finding; no store yet is no history.
std::map<std::string, store::JobState> store_states(const CheckOptions& o, Findings& f) {
  std::map<std::string, store::JobState> states;
  const auto unreadable = [&](const base::Error& e) {
    f.add(State::unknown, "history store unreadable: " + e.message);
    f.history_known = false;
    return states;
  };
  if (!o.state.has_store()) {
    return states;
  }
  auto opened = o.state.open_existing();
  if (!opened) {
    return unreadable(opened.error());
  }
  auto all = (*opened)->job_states();
  if (!all) {
    return unreadable(all.error());
  }
  for (auto& s : *all) {
    states[s.job_id] = std::move(s);
  }
  return states;
}

// From a running jobsd: its status (file errors, store, log) and its list of jobs. A jobsd
// older than this jobsctl (not yet restarted after an upgrade) lists no last success: the
// store has it.
void from_daemon(const CheckOptions& o, ipc::Client& client, Findings& f) {
  const auto ask = [&](const char* cmd) -> std::optional<ipc::Json> {
    auto reply = client.call(cmd);
    if (!reply) {
      f.add(State::unknown, "jobsd did not answer: " + reply.error().message);
      return std::nullopt;
    }
    if (!reply->ok()) {
      f.add(State::unknown, "jobsd refused " + std::string(cmd) + ": " + reply->message);
      return std::nullopt;
    }
    return std::move(reply->result);
  };
  const auto status = ask("status");
  const auto list = status ? ask("list") : std::nullopt;
  if (!list) {
    return;
  }
  std::vector<std::string> paths;
  for (const auto& e : (*status)["reload"]["errors"]) {
    if (e["severity"] == "error") {
      paths.push_back(e["path"].get<std::string>());
    }
  }
  add_bad_files(f, std::move(paths));
  const auto& st = (*status)["store"];
  if (!st["ok"].get<bool>()) {
    f.add(State::critical, "history store failing: " + st["fault"].get<std::string>() + " (" +
                               counted(st["waiting"].get<std::int64_t>(), "write") +
                               " waiting in memory)");
  } else if (const auto lost = st["lost"].get<std::int64_t>(); lost > 0) {
    f.add(State::warning, counted(lost, "history write") + " lost since jobsd started");
  }
  const auto& log = (*status)["log"];
  if (!log["ok"].get<bool>()) {
    f.add(State::warning,
          "jobsd.log failing: " + counted(log["lost_lines"].get<std::int64_t>(), "line") +
              " lost: " + log["error"].get<std::string>());
  }
  std::optional<std::map<std::string, store::JobState>> states;
  for (const auto& j : (*list)["jobs"]) {
    Checked c;
    c.id = j["id"].get<std::string>();
    c.enabled = j["enabled"].get<bool>();
    c.scheduled = !j["schedule"].empty();
    c.last_status = text_or_empty(j["last_status"]);
    if (const auto last = j.find("last_success"); last == j.end()) {
      if (!states) {
        states = store_states(o, f);
      }
      if (const auto it = states->find(c.id); it != states->end()) {
        c.last_success_ms = it->second.last_success_ms;
      }
    } else if (last->is_string()) {
      if (auto t = tz::parse_time(last->get<std::string>(), tz::utc())) {
        c.last_success_ms = *t * 1000;
      }
    }
    f.jobs.push_back(std::move(c));
  }
}

// Without jobsd: the files of the folder, and the store, as far as they can be read.
void from_files(const CheckOptions& o, Findings& f) {
  jobs::JobSet set;
  try {
    set = o.folder.load();
  } catch (const Exit&) {
    f.add(State::unknown, "cannot read the jobs folder " + o.folder.dir());
    return;
  }
  std::vector<std::string> paths;
  for (const auto& file : set.files) {
    if (file.has_errors()) {
      paths.push_back(file.path);
    }
  }
  add_bad_files(f, std::move(paths));
  const auto states = store_states(o, f);
  for (const auto& file : set.files) {
    if (!file.job) {
      continue;
    }
    Checked c;
    c.id = file.job->id;
    c.enabled = file.job->enabled;
    c.scheduled = !file.job->schedule.empty();
    if (const auto it = states.find(c.id); it != states.end()) {
      c.last_status = it->second.last_status;
      c.last_success_ms = it->second.last_success_ms;
    }
    f.jobs.push_back(std::move(c));
  }
}

// The jobs' own problems: those named (each must exist), else every enabled job.
void judge_jobs(const CheckOptions& o, std::optional<std::int64_t> max_age, Findings& f,
                std::size_t& checked, std::size_t& failed, std::size_t& stale) {
  std::map<std::string, const Checked*> by_id;
  for (const auto& j : f.jobs) {
    by_id[j.id] = &j;
  }
  std::vector<const Checked*> jobs;
  for (const auto& name : o.jobs) {
    if (const auto it = by_id.find(name); it != by_id.end()) {
      jobs.push_back(it->second);
    } else {
      f.add(State::unknown, "no job \"" + name + "\" in the folder");
    }
  }
  if (o.jobs.empty()) {
    for (const auto& j : f.jobs) {
      if (j.enabled) {
        jobs.push_back(&j);
      }
    }
  }
  const std::int64_t now = now_seconds() * 1000;
  std::vector<std::string> failures, partial, late;
  for (const auto* j : f.history_known ? jobs : std::vector<const Checked*>()) {
    if (j->last_status == "failed" || j->last_status == "timeout") {
      failures.push_back(j->id);
    } else if (j->last_status == "partial_success" || j->last_status == "interrupted") {
      partial.push_back(j->id + " (" + j->last_status + ")");
    }
    // Named jobs are held to --max-age whatever their schedule; the others only when jobsd
    // fires them by itself.
    if (max_age && (j->scheduled || !o.jobs.empty()) &&
        (!j->last_success_ms || *j->last_success_ms < now - *max_age * 1000)) {
      late.push_back(j->id);
    }
  }
  checked = jobs.size();
  failed = failures.size();
  stale = late.size();
  if (!failures.empty()) {
    f.add(State::critical,
          counted(failures.size(), "job") + " failed last run: " + names_of(failures));
  }
  if (!partial.empty()) {
    f.add(State::warning,
          counted(partial.size(), "job") + " not wholly successful last run: " + names_of(partial));
  }
  if (!late.empty()) {
    f.add(State::warning, counted(late.size(), "job") + " without a success within " + o.max_age +
                              ": " + names_of(late));
  }
}

int check(const CheckOptions& o) {
  std::optional<std::int64_t> max_age;
  if (!o.max_age.empty()) {
    auto parsed = base::parse_duration(o.max_age);
    if (!parsed || *parsed <= 0) {
      std::cout << "JOBS UNKNOWN - --max-age: expected a duration (90m, 1d, 1d12h), got \""
                << o.max_age << "\"\n";
      return static_cast<int>(State::unknown);
    }
    max_age = *parsed;
  }
  Findings f;
  if (auto d = connect(o.daemon); d.client) {
    from_daemon(o, *d.client, f);
  } else if (d.not_running) {
    f.add(State::critical, "jobsd not running");
    from_files(o, f);
  } else {
    f.add(State::unknown, "cannot reach jobsd: " + d.error.message);
  }
  std::size_t checked = 0, failed = 0, stale = 0;
  judge_jobs(o, max_age, f, checked, failed, stale);

  // The worst first, in the order found.
  std::stable_sort(f.problems.begin(), f.problems.end(), [](const auto& a, const auto& b) {
    return severity(a.first) > severity(b.first);
  });
  const State state = f.problems.empty() ? State::ok : f.problems.front().first;
  std::string text;
  for (const auto& [s, problem] : f.problems) {
    text += (text.empty() ? "" : "; ") + problem;
  }
  if (text.empty()) {
    text = counted(checked, "job") + ", last runs ok" +
           (max_age ? ", each succeeded within " + o.max_age : "");
  }
  std::cout << "JOBS " << name_of(state) << " - " << text << " | jobs=" << checked
            << " failed=" << failed << " stale=" << stale << " file_errors=" << f.bad_files << "\n";
  return static_cast<int>(state);
}

} // namespace

Run setup_check(CLI::App& command) {
  auto o = std::make_shared<CheckOptions>();
  command.footer("Exit status (the monitoring plugins' convention): 0 OK, 1 WARNING (a job file\n"
                 "with errors, a last run partial_success or interrupted, no success within\n"
                 "--max-age, history writes or jobsd.log lines lost), 2 CRITICAL (jobsd not\n"
                 "running, a last run failed or timed out, the history store failing), 3 UNKNOWN.\n"
                 "See jobsctl(1).");
  command.add_option("jobs", o->jobs, "Only these jobs (default: every enabled job)");
  command.add_option("--max-age", o->max_age,
                     "Warn about jobs without a success within this duration (1d, 26h)");
  o->folder.add_option(command);
  o->state.add_option(command);
  o->daemon.add_option(command);
  return [o] { return check(*o); };
}

} // namespace jobsctl
