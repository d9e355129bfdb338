// jobsctl list and jobsctl show: the jobs of the folder and their next fires.
#include "commands.hpp"
#include "job_folder.hpp"
#include "output.hpp"
#include "state.hpp"

#include <base/duration.hpp>
#include <base/exit_codes.hpp>
#include <jobs/canonical.hpp>
#include <tz/format.hpp>

#include <chrono>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

namespace jobsctl {

namespace {

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "in 3h12m", "in 45s", "in 2d3h": the two largest units.
std::string relative(std::int64_t seconds) {
  auto text = base::format_duration(seconds);
  size_t units = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] >= 'a' && text[i] <= 'z' && ++units == 2) {
      text.resize(i + 1);
      break;
    }
  }
  return "in " + text;
}

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
  bool json = false;
};

// The last status of each job the history store knows; none without a store.
std::map<std::string, std::string> last_statuses(const StateOption& state) {
  std::map<std::string, std::string> out;
  auto opened = state.open_existing();
  if (!opened) {
    return out;
  }
  if (auto states = (*opened)->job_states()) {
    for (const auto& s : *states) {
      out[s.job_id] = s.last_status;
    }
  } else {
    print_error(states.error());
  }
  return out;
}

int run_list(const ListOptions& o) {
  const auto set = o.folder.load();
  const auto last = last_statuses(o.state);
  const auto last_of = [&](const std::string& id) -> std::optional<std::string> {
    const auto it = last.find(id);
    return it == last.end() || it->second.empty() ? std::nullopt
                                                  : std::optional<std::string>(it->second);
  };
  const auto now = now_seconds();
  const cron::Instant from{std::chrono::seconds{now}};
  if (o.json) {
    auto out = nlohmann::ordered_json::array();
    for (const auto& f : set.files) {
      if (!f.job) {
        continue;
      }
      const auto& job = *f.job;
      const auto next = job.enabled ? job.next_fire(from) : std::nullopt;
      nlohmann::ordered_json row = {
          {"id", job.id},
          {"name", job.name},
          {"enabled", job.enabled},
          {"schedule", job.schedule.cron},
          {"timezone", job.zone->name()},
          {"next_utc", nullptr},
          {"next_local", nullptr},
          {"last_status", last_of(job.id) ? nlohmann::ordered_json(*last_of(job.id)) : nullptr},
          {"path", job.path}};
      if (next) {
        const auto t = next->time.time_since_epoch().count();
        row["next_utc"] = tz::format_utc(t);
        row["next_local"] = tz::format_local(t, *job.zone);
      }
      out.push_back(row);
    }
    std::cout << out.dump(2) << "\n";
    report_bad_files(set);
    return base::exit_code::ok;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& f : set.files) {
    if (!f.job) {
      continue;
    }
    const auto& job = *f.job;
    std::string next = "-";
    if (!job.enabled) {
      next = "disabled";
    } else if (auto fire = job.next_fire(from)) {
      const auto t = fire->time.time_since_epoch().count();
      const auto period = job.zone->period_at(t);
      next = tz::format_civil(t + period.offset).substr(0, 16) + " " + std::string(period.abbrev) +
             " (" + relative(t - now) + ")";
    }
    rows.push_back({job.id, job.name, job.enabled ? "yes" : "no", schedule_text(job),
                    job.zone->name(), next, last_of(job.id).value_or("—")});
  }
  print_table({"ID", "NAME", "ENABLED", "SCHEDULE", "ZONE", "NEXT", "LAST"}, rows);
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
  if (job == nullptr) {
    std::cerr << "jobsctl: no valid job \"" << o.job << "\" in " << o.folder.dir
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
  if (o.json) {
    out["path"] = job->path;
    out["next"] = fires;
    std::cout << out.dump(2) << "\n";
    return base::exit_code::ok;
  }
  std::cout << "# " << job->path << "\n" << jobs::to_yaml(out);
  std::cout << "# next fires:\n";
  if (fires.empty()) {
    std::cout << "#   none" << (job->enabled ? "" : " (disabled)") << "\n";
  }
  for (const auto& f : fires) {
    std::cout << "#   " << f["local"].get<std::string>() << "  " << f["utc"].get<std::string>()
              << "\n";
  }
  return base::exit_code::ok;
}

} // namespace

Run setup_list(CLI::App& command) {
  auto o = std::make_shared<ListOptions>();
  o->folder.add_option(command);
  o->state.add_option(command);
  command.add_flag("--json", o->json, "Print a JSON array");
  return [o] { return run_list(*o); };
}

Run setup_show(CLI::App& command) {
  auto o = std::make_shared<ShowOptions>();
  command.add_option("job", o->job, "Job id or file")->required();
  o->folder.add_option(command);
  command.add_flag("--json", o->json, "Print JSON");
  return [o] { return run_show(*o); };
}

} // namespace jobsctl
