#include <base/text.hpp>
#include <jobsd/health.hpp>
#include <tz/format.hpp>

#include <algorithm>
#include <map>

namespace jobsd::health {

namespace {

// Worse is greater; the plugin convention puts UNKNOWN between WARNING and CRITICAL, as Icinga
// orders them.
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

} // namespace

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

State Findings::sort() {
  std::stable_sort(problems.begin(), problems.end(), [](const auto& a, const auto& b) {
    return severity(a.first) > severity(b.first);
  });
  return problems.empty() ? State::ok : problems.front().first;
}

void add_bad_files(Findings& f, std::vector<std::string> paths) {
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  f.bad_files = paths.size();
  if (!paths.empty()) {
    f.add(State::warning, base::counted(static_cast<std::int64_t>(paths.size()), "file") +
                              " with errors: " + names_of(paths));
  }
}

void judge_store(const std::string& fault, std::int64_t waiting, std::int64_t lost, Findings& f) {
  if (!fault.empty()) {
    f.add(State::critical, "history store failing: " + fault + " (" +
                               base::counted(waiting, "write") + " waiting in memory)");
  } else if (lost > 0) {
    f.add(State::warning, base::counted(lost, "history write") + " lost since jobsd started");
  }
}

void judge_log(std::int64_t lost_lines, const std::string& error, Findings& f) {
  if (lost_lines > 0) {
    f.add(State::warning,
          "jobsd.log failing: " + base::counted(lost_lines, "line") + " lost: " + error);
  }
}

void judge_status(const ipc::Json& status, Findings& f) {
  std::vector<std::string> paths;
  for (const auto& e : status["reload"]["errors"]) {
    if (e["severity"] == "error") {
      paths.push_back(e["path"].get<std::string>());
    }
  }
  add_bad_files(f, std::move(paths));
  const auto& st = status["store"];
  judge_store(st["ok"].get<bool>() ? "" : st["fault"].get<std::string>(),
              st["waiting"].get<std::int64_t>(), st["lost"].get<std::int64_t>(), f);
  const auto& log = status["log"];
  judge_log(log["ok"].get<bool>() ? 0 : log["lost_lines"].get<std::int64_t>(),
            log["ok"].get<bool>() ? "" : log["error"].get<std::string>(), f);
}

void history_unreadable(const std::string& message, Findings& f) {
  f.add(State::unknown, "history store unreadable: " + message);
  f.history_known = false;
}

Job listed_job(const ipc::Json& row) {
  Job j;
  j.id = row["id"].get<std::string>();
  j.enabled = row["enabled"].get<bool>();
  j.scheduled = !row["schedule"].empty();
  if (const auto& s = row["last_status"]; s.is_string()) {
    j.last_status = s.get<std::string>();
  }
  if (const auto last = row.find("last_success"); last != row.end() && last->is_string()) {
    if (auto t = tz::parse_time(last->get<std::string>(), tz::utc())) {
      j.last_success_ms = *t * 1000;
    }
  }
  return j;
}

Counts judge_jobs(const std::vector<std::string>& named, std::optional<std::int64_t> max_age,
                  const std::string& max_age_text, std::int64_t now_ms, Findings& f) {
  std::map<std::string, const Job*> by_id;
  for (const auto& j : f.jobs) {
    by_id[j.id] = &j;
  }
  std::vector<const Job*> jobs;
  for (const auto& name : named) {
    if (const auto it = by_id.find(name); it != by_id.end()) {
      jobs.push_back(it->second);
    } else {
      f.add(State::unknown, "no job \"" + name + "\" in the folder");
    }
  }
  if (named.empty()) {
    for (const auto& j : f.jobs) {
      if (j.enabled) {
        jobs.push_back(&j);
      }
    }
  }
  std::vector<std::string> failures, partial, late;
  for (const auto* j : f.history_known ? jobs : std::vector<const Job*>()) {
    if (j->last_status == "failed" || j->last_status == "timeout") {
      failures.push_back(j->id);
    } else if (j->last_status == "partial_success" || j->last_status == "interrupted") {
      partial.push_back(j->id + " (" + j->last_status + ")");
    }
    // Named jobs are held to max_age whatever their schedule; the others only when jobsd
    // fires them by itself.
    if (max_age && (j->scheduled || !named.empty()) &&
        (!j->last_success_ms || *j->last_success_ms < now_ms - *max_age * 1000)) {
      late.push_back(j->id);
    }
  }
  const auto count = [](const std::vector<std::string>& v) {
    return base::counted(static_cast<std::int64_t>(v.size()), "job");
  };
  if (!failures.empty()) {
    f.add(State::critical, count(failures) + " failed last run: " + names_of(failures));
  }
  if (!partial.empty()) {
    f.add(State::warning, count(partial) + " not wholly successful last run: " + names_of(partial));
  }
  if (!late.empty()) {
    f.add(State::warning,
          count(late) + " without a success within " + max_age_text + ": " + names_of(late));
  }
  return {jobs.size(), failures.size(), late.size()};
}

} // namespace jobsd::health
