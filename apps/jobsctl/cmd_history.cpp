// jobsctl history and logs: what ran, from the history store, and what it printed, from the
// execution's log file.
#include "commands.hpp"
#include "daemon.hpp"
#include "options.hpp"
#include "output.hpp"
#include "pager.hpp"
#include "state.hpp"
#include "times.hpp"

#include <base/duration.hpp>
#include <base/exit_codes.hpp>
#include <base/text.hpp>
#include <engine/result.hpp>
#include <store/json.hpp>
#include <tz/format.hpp>
#include <tz/zone.hpp>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <iostream>

namespace jobsctl {

namespace {

struct HistoryOptions {
  StateOption state;
  DaemonOption daemon;
  std::string job;
  std::string status;
  std::string since;
  std::string until;
  int limit = 20;
  bool json = false;
  bool no_pager = false;
};

// The ids of the jobs the store has a state of: every job that ran or was scheduled.
std::vector<std::string> stored_job_ids(store::Store& history) {
  std::vector<std::string> ids;
  if (auto states = history.job_states()) {
    for (const auto& s : *states) {
      ids.push_back(s.job_id);
    }
  }
  return ids;
}

// The ids of jobsd's jobs.
std::vector<std::string> daemon_job_ids(const DaemonOption& daemon) {
  std::vector<std::string> ids;
  if (auto jobs = ask_if_running(daemon, "list", nlohmann::ordered_json::object())) {
    for (const auto& j : (*jobs)["jobs"]) {
      ids.push_back(j["id"].get<std::string>());
    }
  }
  return ids;
}

bool known_status(const std::string& s) {
  return engine::parse_status(s).has_value();
}

const char* status_list =
    "pending, running, success, failed, partial_success, timeout, cancelled, skipped, interrupted";

int history(const HistoryOptions& o) {
  if (!o.status.empty() && !known_status(o.status)) {
    std::cerr << "jobsctl: --status: unknown status \"" << o.status << "\" (one of " << status_list
              << ")\n";
    return base::exit_code::usage;
  }
  store::HistoryQuery query;
  if (!o.job.empty()) {
    query.job_id = o.job;
  }
  if (!o.status.empty()) {
    query.status = o.status;
  }
  query.since_ms = history_time_ms("--since", o.since);
  query.until_ms = history_time_ms("--until", o.until);
  query.limit = o.limit;
  nlohmann::ordered_json records = nlohmann::ordered_json::array();
  // The jobs to compare a job that has no executions with, for a mistyped id.
  std::vector<std::string> known;
  nlohmann::ordered_json args = {{"limit", query.limit}};
  if (query.job_id) {
    args["job"] = *query.job_id;
  }
  if (query.status) {
    args["status"] = *query.status;
  }
  if (query.since_ms) {
    args["since_ms"] = *query.since_ms;
  }
  if (query.until_ms) {
    args["until_ms"] = *query.until_ms;
  }
  // Through jobsd: the history is readable by whom jobsd lets read it; else the store itself,
  // if it can be read.
  auto answer = ask_if_running(o.daemon, "history", args);
  const bool through_daemon = answer.has_value();
  if (through_daemon) {
    records = std::move(*answer);
    if (records.empty() && query.job_id) {
      known = daemon_job_ids(o.daemon);
    }
  }
  if (!through_daemon) {
    auto opened = o.state.open_existing();
    if (!opened) {
      print_error(opened.error());
      return base::exit_code::usage;
    }
    if (o.status == "skipped") {
      auto fires = (*opened)->skipped_fires(query);
      if (!fires) {
        print_error(fires.error());
        return base::exit_code::job_failed;
      }
      for (const auto& f : *fires) {
        records.push_back(store::to_json(f));
      }
    } else {
      auto rows = (*opened)->history(query);
      if (!rows) {
        print_error(rows.error());
        return base::exit_code::job_failed;
      }
      for (const auto& e : *rows) {
        records.push_back(store::to_json(e));
      }
    }
    if (records.empty() && query.job_id) {
      known = stored_job_ids(**opened);
    }
  }
  if (std::find(known.begin(), known.end(), o.job) == known.end()) {
    if (const auto near = base::did_you_mean(o.job, known); !near.empty()) {
      std::cerr << "jobsctl: no execution of " << base::quoted(o.job) << " in the history" << near
                << "\n";
      return base::exit_code::usage;
    }
  }
  if (o.json) {
    print_json(records);
    return base::exit_code::ok;
  }
  std::vector<std::vector<std::string>> table;
  if (o.status == "skipped") {
    // Fires that did not run: when they were due, and why.
    for (const auto& f : records) {
      table.push_back({shown_time(f["scheduled_time"]), f["job_id"].get<std::string>(),
                       text_or_empty(f["error_message"])});
    }
    print_table({"SCHEDULED", "JOB", "REASON"}, table);
    return base::exit_code::ok;
  }
  for (const auto& e : records) {
    const auto& duration = e["duration_seconds"];
    table.push_back({e["execution_id"].get<std::string>(), e["job_id"].get<std::string>(),
                     e["status"].get<std::string>(),
                     shown_time(e["start_time"], text_or_empty(e["timezone"])),
                     duration.is_number() ? short_duration(duration.get<double>()) : "running",
                     std::to_string(e["attempt"].get<int>()), e["trigger"].get<std::string>()});
  }
  print_table({"EXECUTION", "JOB", "STATUS", "STARTED", "DURATION", "ATTEMPT", "TRIGGER"}, table,
              2);
  return base::exit_code::ok;
}

struct LogsOptions {
  StateOption state;
  DaemonOption daemon;
  std::string target;
  std::string step;
  std::string grep;
  std::string status;
  bool follow = false;
  bool raw = false;
  bool json = false;
  bool no_pager = false;
};

// Whether a log line (after its time stamp) belongs to step `id`.
bool of_step(std::string_view text, const std::string& id) {
  return text.starts_with("[" + id + "] ") || text.starts_with("=== step " + id + " ") ||
         text.starts_with("--- step " + id + ":");
}

// Whether a log line is shown with --step and --grep.
bool shown(const std::string& line, const LogsOptions& o) {
  const size_t space = line.find(' ');
  const std::string_view text =
      space == std::string::npos ? std::string_view() : std::string_view(line).substr(space + 1);
  return (o.step.empty() || of_step(text, o.step)) &&
         (o.grep.empty() || line.find(o.grep) != std::string::npos);
}

// A log line with its time stamp (UTC in the log) in the zone of the execution's job (`zone`),
// still one word so that scripts can cut it off: "2026-12-07T10:30:00.123+01:00 text", or with
// --utc as the log has it, "2026-12-07T09:30:00.123Z text". With --raw, as it is.
std::string shown_line(const std::string& line, const std::string& zone, bool raw) {
  const size_t space = line.find(' ');
  const auto t = tz::parse_time(std::string_view(line).substr(0, space), tz::utc());
  const tz::Zone& shown = shown_zone(zone);
  if (raw || space == std::string::npos || !t || &shown == &tz::utc()) {
    return line;
  }
  std::string stamp = tz::format_local(*t, shown); // 2026-12-07T10:30:00+01:00
  if (const size_t dot = line.find('.'); dot < space) {
    // The milliseconds, "2026-12-07T09:30:00.123Z": before the offset.
    stamp.insert(19, line.substr(dot, line.find('Z') - dot));
  }
  return stamp + line.substr(space);
}

// What `logs -f JOB` says on standard error while the job runs nothing: "waiting for the next
// execution of X, due 2026-12-07 09:00:00 CET (in 4m)".
void tell_waiting(const std::string& job, const ipc::Json& next_fire, const std::string& zone) {
  const auto due = next_fire.is_string() ? tz::parse_time(next_fire.get<std::string>(), tz::utc())
                                         : base::Result<std::int64_t>(base::Error{});
  std::cerr << "jobsctl: waiting for the next execution of " << job
            << (due ? ", due " + shown_time(*due, zone) + " (" +
                          relative_time(*due - now_seconds()) + ")"
                    : " (no fire is due; jobsctl trigger " + job + " starts one)")
            << "\n";
}

// Through jobsd: the log as it is, or followed (-f) as the execution runs; following a job,
// every next execution too, until interrupted.
int logs_from_daemon(const LogsOptions& o, ipc::Client& client) {
  std::string target = o.target;
  if (!o.status.empty()) {
    auto reply = client.call("history", {{"job", o.target}, {"status", o.status}, {"limit", 1}});
    if (!reply) {
      return report(reply.error());
    }
    if (!reply->ok()) {
      return report(*reply);
    }
    if (reply->result.empty()) {
      std::cerr << "jobsctl: no execution with status " << o.status << " of \"" << o.target
                << "\" in the history\n";
      return base::exit_code::usage;
    }
    target = reply->result[0]["execution_id"].get<std::string>();
  }
  // The zone of the execution's job, for the lines' times: jobsd's first event.
  std::string zone;
  if (o.follow) {
    std::signal(SIGINT, SIG_DFL);
  }
  auto lines = nlohmann::ordered_json::array();
  auto reply = client.call(
      "logs", {{"target", target}, {"follow", o.follow}},
      [&](const ipc::Json& e) {
        if (e.contains("line")) {
          const std::string line = e["line"].get<std::string>();
          if (!shown(line, o)) {
            return;
          }
          if (o.json && o.follow) {
            print_json_line({{"line", line}, {"execution", nullptr}});
          } else if (o.json) {
            lines.push_back(line);
          } else {
            std::cout << shown_line(line, zone, o.raw) << "\n";
            std::cout.flush();
          }
        } else if (e.contains("timezone")) {
          zone = e["timezone"].get<std::string>();
        } else if (e.contains("waiting")) {
          tell_waiting(o.target, e["waiting"]["next_fire"], zone);
        } else if (e.contains("execution_end") && o.json) {
          print_json_line({{"line", nullptr}, {"execution", e["execution_end"]}});
        } else if (e.contains("execution_start") && o.follow && !o.json) {
          std::cout << "--- execution " << e["execution_start"].value("execution_id", "")
                    << " started\n";
          std::cout.flush();
        }
      },
      o.follow ? std::chrono::milliseconds(0) : std::chrono::milliseconds(60000));
  if (!reply) {
    return report(reply.error());
  }
  if (!reply->ok()) {
    return report(*reply);
  }
  if (o.json && o.follow) {
    print_json_line({{"line", nullptr}, {"execution", reply->result}});
  } else if (o.json) {
    print_json({{"execution", reply->result}, {"lines", lines}});
  }
  return base::exit_code::ok;
}

// The lines of an execution's log shown with --step and --grep: from its log file, else (the
// log pruned or never written) from the output the store kept, with a note on standard error.
std::vector<std::string> stored_lines(const store::ExecutionRecord& execution,
                                      const LogsOptions& o) {
  std::vector<std::string> lines;
  std::ifstream in(execution.log_path);
  if (in) {
    for (std::string line; std::getline(in, line);) {
      if (shown(line, o)) {
        lines.push_back(line);
      }
    }
    return lines;
  }
  std::cerr << "jobsctl: the log " << execution.log_path
            << " cannot be read; showing the output kept in the history\n";
  for (const auto& s : execution.steps) {
    if (!o.step.empty() && s.step_id != o.step) {
      continue;
    }
    lines.push_back("=== step " + s.step_id + ": " + s.status);
    std::istringstream output(s.output);
    for (std::string line; std::getline(output, line);) {
      if (o.grep.empty() || line.find(o.grep) != std::string::npos) {
        lines.push_back("[" + s.step_id + "] out: " + line);
      }
    }
  }
  return lines;
}

int logs(const LogsOptions& o) {
  if (o.raw && !raw_stdout()) {
    return base::exit_code::usage;
  }
  if (!o.status.empty() && !known_status(o.status)) {
    std::cerr << "jobsctl: --status: unknown status \"" << o.status << "\" (one of " << status_list
              << ")\n";
    return base::exit_code::usage;
  }
  if (auto d = connect(o.daemon); d.client) {
    return logs_from_daemon(o, *d.client);
  } else if (o.follow) {
    std::cerr << "jobsctl: " << d.error.message << "; -f needs it\n";
    return base::exit_code::unreachable;
  }
  auto opened = o.state.open_existing();
  if (!opened) {
    print_error(opened.error());
    return base::exit_code::usage;
  }
  store::Store& history = **opened;
  // An execution id (or a unique prefix), else a job id: its last execution (with --status,
  // its last one with that status).
  std::optional<store::ExecutionRecord> execution;
  if (o.status.empty()) {
    auto found = history.execution(o.target);
    if (!found) {
      print_error(found.error());
      return base::exit_code::usage;
    }
    execution = std::move(*found);
  }
  if (!execution) {
    store::HistoryQuery query;
    query.job_id = o.target;
    if (!o.status.empty()) {
      query.status = o.status;
    }
    query.limit = 1;
    auto rows = history.history(query);
    if (rows && !rows->empty()) {
      auto full = history.execution(rows->front().execution_id);
      if (full && *full) {
        execution = std::move(**full);
      }
    }
  }
  if (!execution) {
    std::cerr << "jobsctl: no execution "
              << (o.status.empty() ? "" : "with status " + o.status + " ") << "of "
              << base::quoted(o.target) << " in the history"
              << base::did_you_mean(o.target, stored_job_ids(history),
                                    " (an execution id or a job id)")
              << "\n";
    return base::exit_code::usage;
  }
  const auto lines = stored_lines(*execution, o);
  if (o.json) {
    print_json({{"execution", store::to_json(*execution)}, {"lines", lines}});
    return base::exit_code::ok;
  }
  for (const auto& line : lines) {
    std::cout << shown_line(line, execution->timezone, o.raw) << "\n";
  }
  return base::exit_code::ok;
}

} // namespace

Run setup_history(CLI::App& command) {
  auto o = std::make_shared<HistoryOptions>();
  command.add_option("job", o->job, "Only this job's executions");
  command.add_option("--status", o->status, "Only executions with this status");
  command.add_option("--since", o->since,
                     "Only executions started since a time (Time formats in jobsctl(1)) or a "
                     "duration ago");
  command.add_option("--until", o->until, "Only executions started before a time, as --since");
  add_utc_flag(command);
  add_limit_option(command, o->limit, "At most this many (0: all)")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  command.add_flag("--json", o->json, "Print a JSON array");
  add_tsv_flag(command);
  add_no_pager_flag(command, o->no_pager);
  o->state.add_option(command);
  o->daemon.add_option(command);
  return [o] {
    Pager pager(!o->no_pager);
    return pager.finish(history(*o));
  };
}

Run setup_logs(CLI::App& command) {
  auto o = std::make_shared<LogsOptions>();
  command.add_option("target", o->target, "Execution id (or a unique prefix) or job id")
      ->required();
  command.add_option("--step", o->step, "Only this step's lines");
  command.add_option("--grep", o->grep, "Only lines containing this text");
  command.add_option("--status", o->status, "With a job id: its last execution with this status");
  add_follow_flag(command, o->follow,
                  "Follow the log as the execution runs (a job: its next executions too)");
  auto* raw = command.add_flag("--raw", o->raw,
                               "Print the log unchanged, control characters and UTC times too "
                               "(not on a terminal)");
  command
      .add_flag("--json", o->json,
                "Print the execution and its lines as JSON (with -f: one object a line)")
      ->excludes(raw);
  add_utc_flag(command);
  add_no_pager_flag(command, o->no_pager);
  o->state.add_option(command);
  o->daemon.add_option(command);
  return [o] {
    // Not while following: the pager would wait for an end that -f does not reach.
    Pager pager(!o->no_pager && !o->follow && !o->raw);
    return pager.finish(logs(*o));
  };
}

} // namespace jobsctl
