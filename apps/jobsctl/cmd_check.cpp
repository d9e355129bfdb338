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
#include <jobsd/health.hpp>
#include <store/json.hpp>
#include <tz/format.hpp>

#include <algorithm>
#include <iostream>
#include <map>
#include <set>

namespace jobsctl {

namespace {

using jobsd::health::Findings;
using jobsd::health::State;

struct CheckOptions {
  JobFolder folder;
  StateOption state;
  DaemonOption daemon;
  std::string max_age;
  std::vector<std::string> jobs;
};

// Each job's last status and success, from the store. A store that exists but cannot be read
// (a newer schema, no permission) is a finding; no store yet is no history.
std::map<std::string, store::JobState> store_states(const CheckOptions& o, Findings& f) {
  std::map<std::string, store::JobState> states;
  const auto unreadable = [&](const base::Error& e) {
    jobsd::health::history_unreadable(e.message, f);
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
  jobsd::health::judge_status(*status, f);
  if (const auto error = list->find("history_error"); error != list->end()) {
    jobsd::health::history_unreadable(error->get<std::string>(), f);
  }
  std::optional<std::map<std::string, store::JobState>> states;
  for (const auto& j : (*list)["jobs"]) {
    auto c = jobsd::health::listed_job(j);
    if (!j.contains("last_success")) {
      if (!states) {
        states = store_states(o, f);
      }
      if (const auto it = states->find(c.id); it != states->end()) {
        c.last_success_ms = it->second.last_success_ms;
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
  jobsd::health::add_bad_files(f, std::move(paths));
  const auto states = store_states(o, f);
  for (const auto& file : set.files) {
    if (!file.job) {
      continue;
    }
    jobsd::health::Job c;
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
  const auto [checked, failed, stale] =
      jobsd::health::judge_jobs(o.jobs, max_age, o.max_age, now_seconds() * 1000, f);
  const State state = f.sort();
  std::string text;
  for (const auto& [s, problem] : f.problems) {
    text += (text.empty() ? "" : "; ") + problem;
  }
  if (text.empty()) {
    text = counted(checked, "job") + ", last runs ok" +
           (max_age ? ", each succeeded within " + o.max_age : "");
  }
  std::cout << "JOBS " << jobsd::health::name_of(state) << " - " << text << " | jobs=" << checked
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
