// The verbs that need a running jobsd: status, trigger, cancel, reload, schedule, pause and
// resume.
#include "commands.hpp"
#include "daemon.hpp"
#include "options.hpp"
#include "output.hpp"
#include "state.hpp"
#include "times.hpp"

#include <base/duration.hpp>
#include <base/exit_codes.hpp>
#include <engine/result.hpp>
#include <tz/format.hpp>
#include <tz/zone.hpp>

#include <csignal>
#include <iostream>

namespace jobsctl {

namespace {

struct DaemonVerb {
  StateOption state;
  DaemonOption daemon;
  bool json = false;
};

std::string text_of(const ipc::Json& v) {
  if (v.is_string()) {
    return v.get<std::string>();
  }
  return v.is_null() ? "-" : v.dump();
}

// The store's and jobsd.log's faults, a line each, only when there is something to say.
void print_faults(const ipc::Json& s) {
  const auto& st = s["store"];
  const auto late = st["made_late"].get<std::int64_t>();
  const auto lost = st["lost"].get<std::int64_t>();
  if (!st["ok"].get<bool>()) {
    std::cout << "store: FAILING since " << shown_time(st["since"]) << ": " << text_of(st["fault"])
              << "\n       " << counted(st["waiting"].get<std::int64_t>(), "write")
              << " waiting in memory, " << late << " made late, " << lost
              << " lost since jobsd started\n";
  } else if (late > 0 || lost > 0) {
    std::cout << "store: working; since jobsd started " << counted(late, "write")
              << (late == 1 ? " was" : " were") << " made late, " << lost << " lost\n";
  }
  const auto& log = s["log"];
  if (!log["ok"].get<bool>()) {
    std::cout << "log:   FAILING since " << shown_time(log["since"]) << ": "
              << counted(log["lost_lines"].get<std::int64_t>(), "line")
              << " of jobsd.log lost: " << text_of(log["error"]) << "\n";
  }
}

int status(const DaemonVerb& o) {
  int code = base::exit_code::ok;
  const auto answer = ask(o.daemon, "status", ipc::Json::object(), code);
  if (!answer) {
    return code;
  }
  const ipc::Json& s = *answer;
  if (o.json) {
    std::cout << s.dump(2) << "\n";
    return base::exit_code::ok;
  }
  std::cout << "jobsd " << text_of(s["version"]) << ", pid " << s["pid"] << ", up "
            << base::format_duration(s["uptime_seconds"].get<std::int64_t>())
            << (s["stopping"].get<bool>() ? ", stopping" : "") << "\n"
            << "jobs:  " << text_of(s["jobs_dir"]) << " ("
            << counted(s["jobs"]["total"].get<std::int64_t>(), "job") << ", "
            << s["jobs"]["enabled"] << " enabled), reloaded " << shown_time(s["reload"]["time"])
            << "\n"
            << "state: " << text_of(s["state_dir"]) << ", logs " << text_of(s["log_dir"]) << "\n";
  if (s.contains("containment")) {
    std::cout << "steps' processes: " << text_of(s["containment"]) << "\n";
  }
  print_faults(s);
  std::cout << "next fire: " << shown_time(s["next_fire"]) << "\n\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& q : s["queues"]) {
    rows.push_back({text_of(q["zone"]), std::to_string(q["depth"].get<int>()),
                    std::to_string(q["running"].get<int>()), std::to_string(q["limit"].get<int>()),
                    shown_time(q["next_fire"], q["zone"].get<std::string>())});
  }
  const auto& g = s["global"];
  rows.push_back({"(all)", std::to_string(g["queued"].get<int>()),
                  std::to_string(g["running"].get<int>()), std::to_string(g["limit"].get<int>()),
                  shown_time(s["next_fire"])});
  print_table({"QUEUE", "DEPTH", "RUNNING", "LIMIT", "NEXT FIRE"}, rows);
  if (!s["running"].empty()) {
    const auto now = now_seconds();
    rows.clear();
    for (const auto& r : s["running"]) {
      const auto started = tz::parse_time(text_of(r["started"]), tz::utc());
      rows.push_back({text_of(r["execution_id"]), text_of(r["job_id"]), text_of(r["zone"]),
                      text_of(r["trigger"]), shown_time(r["started"], text_of(r["zone"])),
                      started ? base::format_duration(now - *started) : "-",
                      text_or_empty(r["step"])});
    }
    std::cout << "\n";
    print_table({"RUNNING", "JOB", "ZONE", "TRIGGER", "STARTED", "FOR", "STEP"}, rows);
  }
  if (!s["scheduled"].empty()) {
    rows.clear();
    for (const auto& r : s["scheduled"]) {
      rows.push_back({text_of(r["job"]), shown_time(r["at"]), text_of(r["user"])});
    }
    std::cout << "\n";
    print_table({"SCHEDULED", "AT", "BY"}, rows);
  }
  if (s.contains("paused") && !s["paused"].empty()) {
    rows.clear();
    for (const auto& r : s["paused"]) {
      rows.push_back({text_of(r["job"]) + (r["exists"].get<bool>() ? "" : " (no job file)"),
                      shown_time(r["since"]), shown_time(r["until"]), text_of(r["user"]),
                      text_of(r["reason"])});
    }
    std::cout << "\n";
    print_table({"PAUSED", "SINCE", "UNTIL", "BY", "REASON"}, rows);
  }
  const auto& errors = s["reload"]["errors"];
  if (!errors.empty()) {
    std::cout << "\n"
              << counted(static_cast<std::int64_t>(errors.size()), "error") << " in the job files";
    if (!s["reload"]["stale"].empty()) {
      std::cout << "; these keep running their last good version:";
      for (const auto& p : s["reload"]["stale"]) {
        std::cout << " " << text_of(p);
      }
    }
    std::cout << "\n";
    for (const auto& e : errors) {
      std::cout << text_of(e["text"]) << "\n";
    }
  }
  return base::exit_code::ok;
}

struct TriggerOptions : DaemonVerb {
  std::string job;
  bool wait = false;
  bool follow = false;
};

// Prints a line of an execution's log as jobsctl run shows it, if it shows it.
void print_pretty(std::ostream& out, const std::string& line) {
  const size_t space = line.find(' ');
  if (space == std::string::npos) {
    out << line << "\n";
    return;
  }
  const std::string text = line.substr(space + 1);
  if (text.starts_with("=== step ")) {
    // === step ID (TYPE), attempt N
    std::string rest = text.substr(9);
    const size_t comma = rest.rfind(", attempt ");
    const bool first = comma != std::string::npos && rest.substr(comma + 10) == "1";
    out << glyph(out, Glyph::step) << " " << (first ? rest.substr(0, comma) : rest) << "\n";
    return;
  }
  if (text.starts_with("--- step ")) {
    // --- step ID: STATUS...
    const std::string rest = text.substr(9);
    const size_t colon = rest.find(": ");
    const std::string status = colon == std::string::npos ? "" : rest.substr(colon + 2);
    // As jobsctl run: "✔ one success in 0.01s", "✘ two failed (exit code 3) in 0.01s".
    std::string shown = status;
    if (shown.starts_with("success (exit code 0)")) {
      shown.erase(7, 14);
    }
    const size_t word = std::min(shown.find_first_of(" :"), shown.size());
    const Color color = status_color(shown.substr(0, word));
    out << Painted{color, glyph(out, status_glyph(status))} << " " << rest.substr(0, colon) << " "
        << Painted{color, std::string_view(shown).substr(0, word)} << shown.substr(word) << "\n";
    return;
  }
  if (text.starts_with("[")) {
    // [ID] out: LINE
    const size_t close = text.find("] ");
    if (close != std::string::npos && text.size() >= close + 7) {
      const std::string stream = text.substr(close + 2, 5);
      out << "  " << text.substr(1, close - 1) << " "
          << (stream == "out: " ? glyph(out, Glyph::out_line) : "!") << " "
          << text.substr(close + 7) << "\n";
      return;
    }
  }
  if (text.starts_with("retry of ")) {
    out << glyph(out, Glyph::retry) << " " << text.substr(9) << "\n";
  }
}

int exit_code_of_record(const ipc::Json& record) {
  const auto status = engine::parse_status(record.value("status", std::string()));
  return status ? exit_code_of(*status) : base::exit_code::job_failed;
}

// "by alice since 2026-12-07 17:00:00 CET, until 2026-12-07 19:00:00 CET: disk full",
// from a pause as jobsd gives it.
std::string pause_text(const ipc::Json& p) {
  return "by " + text_of(p["user"]) + " since " + shown_time(p["since"]) +
         (p["until"].is_string() ? ", until " + shown_time(p["until"]) : "") +
         (p["reason"].is_string() ? ": " + p["reason"].get<std::string>() : "");
}

// Tells on standard error that a triggered job is paused, from jobsd's reply or first event.
void note_paused(const std::string& job, const ipc::Json& answer) {
  if (answer.contains("paused") && answer["paused"].is_object()) {
    std::cerr << "jobsctl: note: job " << job << " is paused (" << pause_text(answer["paused"])
              << "); this run was asked for and goes ahead, its fires stay skipped\n";
  }
}

volatile std::sig_atomic_t interrupted = 0;

int trigger(const TriggerOptions& o) {
  auto client = require_daemon(o.daemon);
  if (!client) {
    return base::exit_code::unreachable;
  }
  std::string id;
  const auto on_event = [&](const ipc::Json& e) {
    if (e.contains("execution_id")) {
      id = e["execution_id"].get<std::string>();
      note_paused(o.job, e);
      if (o.follow && !o.json) {
        std::cout << "execution " << id << " of job " << o.job << "\n";
        std::cout.flush();
      }
    } else if (e.contains("line") && !o.json) {
      print_pretty(std::cout, e["line"].get<std::string>());
      std::cout.flush();
    }
  };
  const bool waiting = o.wait || o.follow;
  if (waiting) {
    // Ctrl-C stops waiting; the execution goes on.
    std::signal(SIGINT, [](int) { interrupted = 1; });
    client->stop_on(&interrupted);
  }
  auto reply =
      client->call("trigger", {{"job", o.job}, {"wait", o.wait}, {"follow", o.follow}}, on_event,
                   waiting ? std::chrono::milliseconds(0) : std::chrono::milliseconds(60000));
  if (!reply) {
    if (interrupted) {
      std::cerr << "jobsctl: stopped waiting; execution " << id << " goes on (jobsctl cancel " << id
                << " stops it)\n";
      return base::exit_code::interrupted;
    }
    return report(reply.error());
  }
  if (!reply->ok()) {
    return report(*reply);
  }
  const ipc::Json& r = reply->result;
  if (o.json) {
    std::cout << r.dump(2) << "\n";
    return waiting ? exit_code_of_record(r) : base::exit_code::ok;
  }
  if (!waiting) {
    std::cout << "triggered " << text_of(r["job_id"]) << ": execution "
              << text_of(r["execution_id"]) << " (" << text_of(r["state"]) << ")\n";
    note_paused(o.job, r);
    return base::exit_code::ok;
  }
  print_summary(std::cout, r);
  if (r["error_message"].is_string() && r.value("status", std::string()) != "success") {
    std::cout << "  " << r["error_message"].get<std::string>() << "\n";
  }
  return exit_code_of_record(r);
}

struct CancelOptions : DaemonVerb {
  std::string execution;
};

int cancel(const CancelOptions& o) {
  int code = base::exit_code::ok;
  const auto answer = ask(o.daemon, "cancel", {{"execution", o.execution}}, code);
  if (!answer) {
    return code;
  }
  const ipc::Json& r = *answer;
  if (o.json) {
    std::cout << r.dump(2) << "\n";
  } else if (r["state"] == "queued") {
    std::cout << "cancelled execution " << text_of(r["execution_id"]) << " of job "
              << text_of(r["job_id"]) << " before it started\n";
  } else {
    std::cout << "cancelling execution " << text_of(r["execution_id"]) << " of job "
              << text_of(r["job_id"]) << " (SIGTERM to its processes, then SIGKILL)\n";
  }
  return base::exit_code::ok;
}

int reload(const DaemonVerb& o) {
  int code = base::exit_code::ok;
  const auto answer = ask(o.daemon, "reload", ipc::Json::object(), code);
  if (!answer) {
    return code;
  }
  const ipc::Json& r = *answer;
  if (o.json) {
    std::cout << r.dump(2) << "\n";
  } else {
    print_reload(r);
  }
  return r["errors"].empty() ? base::exit_code::ok : base::exit_code::usage;
}

struct ScheduleOptions : DaemonVerb {
  std::string job;
  std::string at;
};

int schedule(const ScheduleOptions& o) {
  int code = base::exit_code::ok;
  const auto answer = ask(o.daemon, "schedule", {{"job", o.job}, {"at", o.at}}, code);
  if (!answer) {
    return code;
  }
  const ipc::Json& r = *answer;
  if (o.json) {
    std::cout << r.dump(2) << "\n";
  } else {
    // jobsd gives the time in the job's zone with its offset, and in UTC.
    const auto at = tz::parse_time(text_of(r["at"]), tz::utc());
    std::cout << "scheduled " << text_of(r["job"]) << " to run once at "
              << (&shown_zone() == &tz::utc() ? shown_time(r["at"])
                                              : text_of(r["local"]) + " (" + text_of(r["at"]) + ")")
              << (at ? ", " + relative_time(*at - now_seconds()) : "") << "\n";
  }
  return base::exit_code::ok;
}

struct PauseOptions : DaemonVerb {
  std::vector<std::string> jobs;
  std::string until;
  std::string reason;
  bool pause = true; // else resume
};

// One request per job, as enable and disable make: each is audited with its job.
int pause(const PauseOptions& o) {
  auto client = require_daemon(o.daemon);
  if (!client) {
    return base::exit_code::unreachable;
  }
  int code = base::exit_code::ok;
  auto results = ipc::Json::array();
  for (const auto& job : o.jobs) {
    ipc::Json args = {{"job", job}};
    if (o.pause && !o.until.empty()) {
      args["until"] = o.until;
    }
    if (o.pause && !o.reason.empty()) {
      args["reason"] = o.reason;
    }
    auto reply = client->call(o.pause ? "pause" : "resume", args);
    if (!reply) {
      return report(reply.error());
    }
    if (!reply->ok()) {
      code = report(*reply);
      if (code == base::exit_code::denied) {
        return code;
      }
      continue;
    }
    const ipc::Json& r = reply->result;
    const bool changed = r["changed"].get<bool>();
    if (o.json) {
      results.push_back(r);
    } else if (o.pause) {
      std::cout << text_of(r["job"]) << ": " << (changed ? "paused " : "paused again ")
                << pause_text(r["paused"]) << "\n";
    } else {
      std::cout << text_of(r["job"]) << ": " << (changed ? "resumed" : "not paused") << "\n";
    }
  }
  if (o.json) {
    std::cout << results.dump(2) << "\n";
  }
  return code;
}

template <typename Options>
std::shared_ptr<Options> common(CLI::App& command, bool json = true) {
  auto o = std::make_shared<Options>();
  if (json) {
    command.add_flag("--json", o->json, "Print JSON");
  }
  o->state.add_option(command);
  o->daemon.add_option(command);
  return o;
}

} // namespace

void print_reload(const ipc::Json& r) {
  std::cout << "reloaded: " << counted(r["jobs"].get<std::int64_t>(), "job") << " from "
            << counted(r["files"].get<std::int64_t>(), "file") << " (" << r["changed"]
            << " read again, " << r["removed"] << " removed) in "
            << short_duration(r["seconds"].get<double>()) << "\n";
  for (const auto& e : r["errors"]) {
    std::cerr << text_of(e["text"]) << "\n";
  }
  for (const auto& p : r["stale"]) {
    std::cerr << "jobsctl: " << text_of(p) << " has errors; its last good version keeps running\n";
  }
}

Run setup_status(CLI::App& command) {
  auto o = common<DaemonVerb>(command);
  add_utc_flag(command);
  add_tsv_flag(command);
  return [o] { return status(*o); };
}

Run setup_trigger(CLI::App& command) {
  auto o = common<TriggerOptions>(command);
  command.add_option("job", o->job, "Job id")->required();
  command.add_flag("--wait", o->wait, "Wait for the execution to end; exit with its status");
  add_follow_flag(command, o->follow, "Print its output as it runs; exit with its status");
  return [o] { return trigger(*o); };
}

Run setup_cancel(CLI::App& command) {
  auto o = common<CancelOptions>(command);
  command.add_option("execution", o->execution, "Execution id (or a unique prefix)")->required();
  return [o] { return cancel(*o); };
}

Run setup_reload(CLI::App& command) {
  auto o = common<DaemonVerb>(command);
  return [o] { return reload(*o); };
}

Run setup_schedule(CLI::App& command) {
  auto o = common<ScheduleOptions>(command);
  add_utc_flag(command);
  command.add_option("job", o->job, "Job id")->required();
  command
      .add_option("--at", o->at,
                  "When: 2026-12-01T09:00, 09:40, tomorrow 03:00, in 5m (Time formats in "
                  "jobsctl(1)); clock times in the job's zone")
      ->required();
  return [o] { return schedule(*o); };
}

Run setup_pause(CLI::App& command) {
  auto o = common<PauseOptions>(command);
  add_utc_flag(command);
  command.add_option("jobs", o->jobs, "Job ids")->required();
  command.add_option("--until", o->until,
                     "Resume by itself then: after a duration (2h, 1d12h), or at a time "
                     "(2026-12-01T09:00, tomorrow 08:00: Time formats in jobsctl(1); clock "
                     "times in the job's zone)");
  command.add_option("--reason", o->reason, "Why, shown by list and status and in skipped fires");
  return [o] { return pause(*o); };
}

Run setup_resume(CLI::App& command) {
  auto o = common<PauseOptions>(command);
  o->pause = false;
  command.add_option("jobs", o->jobs, "Job ids")->required();
  return [o] { return pause(*o); };
}

} // namespace jobsctl
