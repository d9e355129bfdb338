// jobsctl list and jobsctl show: the jobs of the folder and their next fires.
#include "commands.hpp"
#include "daemon.hpp"
#include "daemon_config.hpp"
#include "job_folder.hpp"
#include "options.hpp"
#include "output.hpp"
#include "state.hpp"
#include "times.hpp"

#include <base/exit_codes.hpp>
#include <base/text.hpp>
#include <jobs/canonical.hpp>
#include <store/json.hpp>
#include <tz/format.hpp>
#include <tz/zone.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

namespace jobsctl {

namespace {

std::string schedule_text(const jobs::JobDefinition& job) {
  std::string out;
  for (const auto& c : job.schedule.cron) {
    out += (out.empty() ? "" : "; ") + c;
  }
  if (job.schedule.at) {
    out += (out.empty() ? "at " : "; at ") + job.schedule.at_text;
  }
  return out.empty() ? "-" : out;
}

struct ListOptions {
  JobFolder folder;
  StateOption state;
  DaemonOption daemon;
  bool json = false;
};

// One line of jobsctl list, from the files or from jobsd.
struct JobRow {
  std::string id, name;
  bool enabled = true;
  nlohmann::ordered_json schedule; // the expressions
  std::string schedule_text;
  std::string zone;
  std::optional<std::int64_t> next;    // UTC seconds
  std::string last_status;             // empty: none
  nlohmann::ordered_json last_success; // ISO UTC time, or null
  std::string path;
  std::string active;            // jobsd only: running, queued or empty
  bool stale = false;            // jobsd only: the file has errors; this is its last good version
  nlohmann::ordered_json paused; // its pause (store::to_json), or null
};

// What the history store knows of the jobs: each one's state and pause; nothing without a
// store.
struct Known {
  std::map<std::string, store::JobState> state;
  std::map<std::string, store::PauseRecord> paused;
};

Known known_jobs(const StateOption& state) {
  Known out;
  auto opened = state.open_existing();
  if (!opened) {
    return out;
  }
  if (auto states = (*opened)->job_states()) {
    for (auto& s : *states) {
      out.state[s.job_id] = std::move(s);
    }
  } else {
    print_error(states.error());
  }
  if (auto pauses = (*opened)->paused_jobs()) {
    // A pause whose --until passed while jobsd was down has ended; jobsd drops it at start.
    const std::int64_t now_ms = now_seconds() * 1000;
    for (auto& p : *pauses) {
      if (!p.until_ms || *p.until_ms > now_ms) {
        out.paused[p.job_id] = std::move(p);
      }
    }
  } else {
    print_error(pauses.error());
  }
  return out;
}

std::vector<JobRow> rows_of(const jobs::JobSet& set, const StateOption& state) {
  const auto known = known_jobs(state);
  const cron::Instant from{std::chrono::seconds{now_seconds()}};
  std::vector<JobRow> rows;
  for (const auto& f : set.files) {
    if (!f.job) {
      continue;
    }
    const auto& job = *f.job;
    JobRow r;
    r.id = job.id;
    r.name = job.name;
    r.enabled = job.enabled;
    r.schedule = job.schedule.cron;
    if (job.schedule.at) {
      r.schedule.push_back("at " + job.schedule.at_text);
    }
    r.schedule_text = schedule_text(job);
    r.zone = job.zone->name();
    if (const auto fire = job.enabled ? job.next_fire(from) : std::nullopt) {
      r.next = fire->time.time_since_epoch().count();
    }
    if (const auto it = known.state.find(job.id); it != known.state.end()) {
      r.last_status = it->second.last_status;
      r.last_success = store::time_json(it->second.last_success_ms);
    }
    r.path = job.path;
    if (const auto it = known.paused.find(job.id); it != known.paused.end()) {
      r.paused = store::to_json(it->second);
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<JobRow> rows_of(const nlohmann::ordered_json& list) {
  std::vector<JobRow> rows;
  for (const auto& j : list["jobs"]) {
    JobRow r;
    r.id = j["id"].get<std::string>();
    r.name = j["name"].get<std::string>();
    r.enabled = j["enabled"].get<bool>();
    r.schedule = j["schedule"];
    for (const auto& c : j["schedule"]) {
      r.schedule_text += (r.schedule_text.empty() ? "" : "; ") + c.get<std::string>();
    }
    if (r.schedule_text.empty()) {
      r.schedule_text = "-";
    }
    r.zone = j["timezone"].get<std::string>();
    if (j["next_fire"].is_string()) {
      if (auto t = tz::parse_time(j["next_fire"].get<std::string>(), tz::utc())) {
        r.next = *t;
      }
    }
    r.last_status = text_or_empty(j["last_status"]);
    r.last_success = j["last_success"];
    r.path = j["path"].get<std::string>();
    r.active = text_or_empty(j["active"]);
    r.stale = j.value("stale", false);
    r.paused = j.value("paused", nlohmann::ordered_json());
    rows.push_back(std::move(r));
  }
  return rows;
}

void print_rows(const std::vector<JobRow>& rows, bool json) {
  const auto now = now_seconds();
  if (json) {
    auto out = nlohmann::ordered_json::array();
    for (const auto& r : rows) {
      const auto zone = tz::find_zone(r.zone);
      out.push_back(
          {{"id", r.id},
           {"name", r.name},
           {"enabled", r.enabled},
           {"schedule", r.schedule},
           {"timezone", r.zone},
           {"next_utc", r.next ? nlohmann::ordered_json(tz::format_utc(*r.next)) : nullptr},
           {"next_local",
            r.next && zone ? nlohmann::ordered_json(tz::format_local(*r.next, **zone)) : nullptr},
           {"last_status", store::text_json(r.last_status)},
           {"last_success", r.last_success},
           // Absolute, as jobsd names it, whether it answered or the files were read.
           {"path", std::filesystem::absolute(r.path).lexically_normal().string()},
           {"active", store::text_json(r.active)},
           {"stale", r.stale},
           {"paused", r.paused}});
    }
    std::cout << out.dump(2) << "\n";
    return;
  }
  std::vector<std::vector<std::string>> table;
  for (const auto& r : rows) {
    std::string next = "-";
    if (!r.enabled) {
      next = "disabled";
    } else if (r.paused.is_object()) {
      next = "paused";
      if (r.paused["until"].is_string()) {
        next += " until " + shown_time(r.paused["until"], r.zone);
      }
    } else if (r.next) {
      next = shown_time(*r.next, r.zone) + " (" + relative_time(*r.next - now) + ")";
    }
    std::string last = r.last_status.empty() ? "-" : r.last_status; // as the other columns
    if (!r.active.empty()) {
      last = r.active + " now";
    }
    table.push_back({r.id + (r.stale ? " (stale)" : ""), r.name, r.enabled ? "yes" : "no",
                     r.schedule_text, r.zone, next, last});
  }
  print_table({"ID", "NAME", "ENABLED", "SCHEDULE", "ZONE", "NEXT", "LAST"}, table, 6);
}

int run_list(const ListOptions& o) {
  // The running daemon's view (its jobs, what runs now) when it uses this folder.
  if (auto d = connect(o.daemon); d.client) {
    auto reply = d.client->call("list");
    if (!reply) {
      return report(reply.error());
    }
    if (!reply->ok() && reply->code != ipc::code::denied) {
      return report(*reply);
    }
    // Refused (not a reader), or another folder: the files.
    if (reply->ok() && o.folder.is(reply->result.value("jobs_dir", std::string()))) {
      print_rows(rows_of(reply->result), o.json);
      if (const auto bad = reply->result.value("files_with_errors", 0); bad > 0) {
        std::cerr << "jobsctl: " << counted(bad, "file") << (bad == 1 ? " has" : " have")
                  << " errors; jobsctl status shows them\n";
      }
      if (const auto error = reply->result.find("history_error"); error != reply->result.end()) {
        std::cerr << "jobsctl: no last runs shown: " << base::visible(error->get<std::string>())
                  << "\n";
      }
      return base::exit_code::ok;
    }
  }
  const auto set = o.folder.load();
  print_rows(rows_of(set, o.state), o.json);
  report_bad_files(set);
  return base::exit_code::ok;
}

struct ShowOptions {
  JobFolder folder;
  std::string job;
  bool json = false;
};

int run_show(const ShowOptions& o) {
  const auto set = o.folder.load();
  const std::string path = find_job_path(set, o.job);
  const jobs::JobDefinition* job = nullptr;
  for (const auto& f : set.files) {
    if (f.path == path && f.job) {
      job = &*f.job;
    }
  }
  if (path.empty()) {
    std::cerr << "jobsctl: " << no_job(o.folder, set, o.job, " (jobsctl list shows the jobs)")
              << "\n";
    return base::exit_code::usage;
  }
  if (job == nullptr) {
    std::cerr << "jobsctl: no valid job \"" << o.job << "\" in " << o.folder.dir()
              << " (jobsctl list shows the jobs, jobsctl validate the errors)\n";
    return base::exit_code::usage;
  }
  auto out = jobs::to_json(*job);
  auto fires = nlohmann::ordered_json::array();
  cron::Instant t{std::chrono::seconds{now_seconds()}};
  for (int k = 0; k < 5 && job->enabled; ++k) {
    const auto fire = job->next_fire(t);
    if (!fire) {
      break;
    }
    t = fire->time;
    const auto s = t.time_since_epoch().count();
    fires.push_back({{"utc", tz::format_utc(s)}, {"local", tz::format_local(s, *job->zone)}});
  }
  // The timeout shown is the one that applies: the job's, else the daemon's default_timeout.
  if (o.json) {
    out["path"] = std::filesystem::absolute(job->path).lexically_normal().string();
    out["timeout_from"] = jobs::to_string(job->timeout_from);
    out["next"] = fires;
    std::cout << out.dump(2) << "\n";
    return base::exit_code::ok;
  }
  std::cout << "# " << job->path << "\n" << jobs::to_yaml(out);
  if (job->timeout_from == jobs::TimeoutFrom::default_timeout) {
    std::cout << "# timeout: the daemon's default_timeout ("
              << origin_text(settings().default_timeout) << ")\n";
  }
  std::cout << "# next fires:\n";
  if (fires.empty()) {
    std::cout << "#   none" << (job->enabled ? "" : " (disabled)") << "\n";
  }
  for (const auto& f : fires) {
    std::cout << "#   " << shown_time(f["utc"], job->zone->name()) << "\n";
  }
  return base::exit_code::ok;
}

} // namespace

Run setup_list(CLI::App& command) {
  auto o = std::make_shared<ListOptions>();
  o->folder.add_option(command);
  o->state.add_option(command);
  o->daemon.add_option(command);
  command.add_flag("--json", o->json, "Print a JSON array");
  add_utc_flag(command);
  add_tsv_flag(command);
  return [o] { return run_list(*o); };
}

Run setup_show(CLI::App& command) {
  auto o = std::make_shared<ShowOptions>();
  command.add_option("job", o->job, "Job id or file")->required();
  o->folder.add_option(command);
  command.add_flag("--json", o->json, "Print JSON");
  add_utc_flag(command);
  return [o] { return run_show(*o); };
}

} // namespace jobsctl
