// jobsctl stats: each job's executions and fires summed up, through jobsd or from the history
// store itself, as history reads it.
#include "commands.hpp"
#include "daemon.hpp"
#include "options.hpp"
#include "output.hpp"
#include "state.hpp"
#include "times.hpp"

#include <base/exit_codes.hpp>
#include <base/text.hpp>
#include <store/json.hpp>
#include <tz/format.hpp>

#include <cstdio>
#include <iostream>

namespace jobsctl {

namespace {

struct StatsOptions {
  StateOption state;
  DaemonOption daemon;
  std::string job;
  std::string since;
  bool json = false;
};

std::string count_of(const nlohmann::ordered_json& runs, std::initializer_list<const char*> keys) {
  std::int64_t n = 0;
  for (const char* k : keys) {
    n += runs[k].get<std::int64_t>();
  }
  return std::to_string(n);
}

std::string seconds_of(const nlohmann::ordered_json& v) {
  return v.is_number() ? short_duration(v.get<double>()) : "-";
}

std::string rate_of(const nlohmann::ordered_json& v) {
  if (!v.is_number()) {
    return "-";
  }
  char text[16];
  std::snprintf(text, sizeof text, "%.1f%%", v.get<double>() * 100);
  return text;
}

// The sums of the query: from jobsd when it runs, else from the store; nothing after printing
// why when neither answers.
std::optional<nlohmann::ordered_json> sums_of(const StatsOptions& o,
                                              const store::StatsQuery& query) {
  nlohmann::ordered_json args = nlohmann::ordered_json::object();
  if (query.job_id) {
    args["job"] = *query.job_id;
  }
  if (query.since_ms) {
    args["since_ms"] = *query.since_ms;
  }
  if (auto answer = ask_if_running(o.daemon, "stats", args)) {
    return answer;
  }
  auto opened = o.state.open_existing();
  if (!opened) {
    print_error(opened.error());
    return std::nullopt;
  }
  auto sums = (*opened)->stats(query);
  if (!sums) {
    print_error(sums.error());
    return std::nullopt;
  }
  nlohmann::ordered_json records = nlohmann::ordered_json::array();
  for (const auto& s : *sums) {
    records.push_back(store::to_json(s));
  }
  return records;
}

int stats(const StatsOptions& o) {
  store::StatsQuery query;
  if (!o.job.empty()) {
    query.job_id = o.job;
  }
  query.since_ms = history_time_ms("--since", o.since);
  auto answer = sums_of(o, query);
  if (!answer) {
    return base::exit_code::usage;
  }
  const nlohmann::ordered_json records = std::move(*answer);
  if (!o.job.empty() && records.empty()) {
    // The jobs the history knows, for the nearest id.
    query.job_id.reset();
    std::vector<std::string> known;
    for (const auto& r : sums_of(o, query).value_or(nlohmann::ordered_json::array())) {
      known.push_back(r["job_id"].get<std::string>());
    }
    std::cerr << "jobsctl: the history has nothing of job " << base::quoted(o.job)
              << base::did_you_mean(o.job, known) << "\n";
    return base::exit_code::usage;
  }
  if (o.json) {
    std::cout << records.dump(2) << "\n";
    return base::exit_code::ok;
  }
  std::vector<std::vector<std::string>> table;
  for (const auto& r : records) {
    const auto& runs = r["runs"];
    const auto& d = r["duration_seconds"];
    table.push_back(
        {r["job_id"].get<std::string>(), count_of(runs, {"total"}), count_of(runs, {"success"}),
         count_of(runs, {"failed", "timeout"}),
         count_of(runs, {"partial_success", "cancelled", "interrupted", "skipped", "running"}),
         rate_of(r["success_rate"]), seconds_of(d["p50"]), seconds_of(d["p95"]),
         seconds_of(d["max"]), std::to_string(r["skipped_fires"].get<std::int64_t>()),
         std::to_string(r["missed_fires"].get<std::int64_t>()), shown_time(r["last_success"])});
  }
  print_table({"JOB", "RUNS", "SUCCESS", "FAILED", "OTHER", "RATE", "P50", "P95", "MAX", "SKIPPED",
               "MISSED", "LAST SUCCESS"},
              table);
  return base::exit_code::ok;
}

} // namespace

Run setup_stats(CLI::App& command) {
  auto o = std::make_shared<StatsOptions>();
  command.add_option("job", o->job, "Only this job (default: every job)");
  command.add_option("--since", o->since,
                     "Only executions started, and fires due, since a time (Time formats in "
                     "jobsctl(1)) or a duration ago");
  add_utc_flag(command);
  command.add_flag("--json", o->json, "Print a JSON array");
  add_tsv_flag(command);
  o->state.add_option(command);
  o->daemon.add_option(command);
  return [o] { return stats(*o); };
}

} // namespace jobsctl
