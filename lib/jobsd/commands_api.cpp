// The commands of the control socket that the HTTP API added (man/jobsd.8, PROTOCOL): one
// execution, the queues, validate, the step types, health, the audit log and a schedule's
// preview. Their rows are in the table of commands.cpp.
#include <base/text.hpp>
#include <cron/schedule.hpp>
#include <jobs/canonical.hpp>
#include <jobs/schema.hpp>
#include <jobsd/command_args.hpp>
#include <jobsd/health.hpp>
#include <jobsd/job_checks.hpp>
#include <store/json.hpp>
#include <tz/format.hpp>

#include <chrono>
#include <filesystem>

namespace jobsd {

namespace {

// A finding of validate as the API gives it: the place by line and column (null: the whole
// file).
ipc::Json finding_json(const jobs::Diagnostic& d) {
  const auto& at = d.error.location;
  const auto place = [](int n) { return n > 0 ? ipc::Json(n) : ipc::Json(nullptr); };
  return {{"path", at.path},
          {"line", place(at.line)},
          {"col", place(at.column)},
          {"severity", d.severity == jobs::Severity::error ? "error" : "warning"},
          {"message", d.error.message}};
}

// The longest file name validate takes (NAME_MAX).
constexpr size_t max_name = 255;

} // namespace

Daemon::Reply Daemon::cmd_execution(Connection&, const ipc::Request& request) {
  const std::string id = string_arg(request, "execution");
  auto found = store_->execution(id);
  if (!found) {
    throw CommandError{ipc::code::internal, found.error().message};
  }
  if (!*found) {
    throw CommandError{ipc::code::not_found,
                       "no execution " + base::quoted(id) + " in the history"};
  }
  Reply r;
  r.result = store::to_json(**found);
  return r;
}

Daemon::Reply Daemon::cmd_queues(Connection&, const ipc::Request&) {
  Reply r;
  r.result = queues_json();
  return r;
}

Daemon::Reply Daemon::cmd_validate(Connection&, const ipc::Request& request) {
  // The text is checked in memory, as jobsctl validate checks a file (without the secrets file:
  // how long a secret is stays the admins' to know): nothing is written, and no file is read
  // (the loader reads none that a job names). Its size is bounded by the request's
  // (ipc::max_request_bytes).
  const std::string text = string_arg(request, "text");
  std::string format = string_arg(request, "format", false);
  std::string name = string_arg(request, "name", false);
  if (!format.empty() && format != "json" && format != "yaml") {
    throw CommandError{ipc::code::invalid,
                       "\"format\" must be json or yaml, got " + base::quoted(format)};
  }
  // A file name alone: it gives the job its default id and the findings their path, and is
  // never opened.
  if (name.size() > max_name || name.find('/') != std::string::npos || name == "." ||
      name == ".." || base::visible(name) != name || name.find_first_of("\t\n") != name.npos) {
    throw CommandError{ipc::code::invalid, "\"name\" must be a file name (no '/', at most " +
                                               std::to_string(max_name) + " bytes), got " +
                                               base::quoted(name)};
  }
  const std::string extension = std::filesystem::path(name).extension().string();
  const std::string named = extension == ".json"                          ? "json"
                            : extension == ".yaml" || extension == ".yml" ? "yaml"
                                                                          : "";
  if (!format.empty() && !named.empty() && format != named) {
    throw CommandError{ipc::code::invalid,
                       "\"format\" is " + format + " but \"name\" is a " + named + " file"};
  }
  if (format.empty()) {
    format = named.empty() ? "yaml" : named;
  }
  if (name.empty()) {
    name = "job";
  }
  if (named.empty()) {
    name += "." + format;
  }
  jobs::LoadedFile file = jobs::load_job_text(name, text, load_options(config_));
  if (file.job) {
    check_against_config(config_, text, file, Audience::reader);
  }
  ipc::Json findings = ipc::Json::array();
  for (const auto& d : file.diagnostics) {
    findings.push_back(finding_json(d));
  }
  Reply r;
  r.result = {{"ok", !file.has_errors()},
              {"job", file.job ? jobs::to_json(*file.job) : ipc::Json(nullptr)},
              {"findings", findings}};
  return r;
}

Daemon::Reply Daemon::cmd_types(Connection&, const ipc::Request&) {
  ipc::Json types = ipc::Json::array();
  for (const auto& type : jobs::step_types()) {
    types.push_back({{"name", type.name},
                     {"description", type.description},
                     {"schema", jobs::step_schema(type)}});
  }
  Reply r;
  r.result = {{"types", types}};
  return r;
}

Daemon::Reply Daemon::cmd_health(Connection&, const ipc::Request&) {
  // What jobsctl check finds from status and list, without --max-age (a health endpoint has no
  // one to give it), judged from the daemon's own state: no list is built for it.
  health::Findings f;
  std::vector<std::string> paths;
  for (const auto& d : last_reload_.errors) {
    if (d.severity == jobs::Severity::error) {
      paths.push_back(d.error.location.path);
    }
  }
  health::add_bad_files(f, std::move(paths));
  const store::Health store = store_->health();
  health::judge_store(store.fault, store.waiting, store.lost, f);
  const Logs::Lost lost = logs_->lost();
  health::judge_log(lost.lines, lost.error, f);
  auto all = store_->job_states();
  if (!all) {
    health::history_unreadable(all.error().message, f);
  }
  const auto states = all ? by_job(std::move(*all)) : std::map<std::string, store::JobState>();
  for (const auto& [id, job] : jobs_) {
    health::Job j;
    j.id = id;
    j.enabled = job->enabled;
    j.scheduled = !job->schedule.cron.empty() || job->schedule.at.has_value();
    if (const auto state = states.find(id); state != states.end()) {
      j.last_status = state->second.last_status;
      j.last_success_ms = state->second.last_success_ms;
    }
    f.jobs.push_back(std::move(j));
  }
  health::judge_jobs({}, std::nullopt, "", now_ms(), f);
  f.sort();
  ipc::Json reasons = ipc::Json::array();
  for (const auto& [state, text] : f.problems) {
    reasons.push_back(text);
  }
  Reply r;
  r.result = {{"ok", f.problems.empty()}, {"reasons", reasons}};
  return r;
}

Daemon::Reply Daemon::cmd_audit(Connection&, const ipc::Request& request) {
  store::AuditQuery q;
  const int limit = count_arg(request, "limit", default_page, max_page);
  q.limit = limit + 1; // one more: is there a next page?
  if (auto user = string_arg(request, "user", false); !user.empty()) {
    q.user = user;
  }
  if (auto job = string_arg(request, "job", false); !job.empty()) {
    q.job_id = job;
  }
  // The cursor is the row id of the last entry of a page.
  if (const auto cursor = string_arg(request, "cursor", false); !cursor.empty()) {
    if (cursor.size() > 18 || !base::all_digits(cursor)) {
      throw CommandError{ipc::code::invalid,
                         "\"cursor\": not one this command gave: " + base::quoted(cursor)};
    }
    q.before_id = std::stoll(cursor);
  }
  auto rows = store_->audit_log(q);
  if (!rows) {
    throw CommandError{ipc::code::internal, rows.error().message};
  }
  const bool more = rows->size() > static_cast<size_t>(limit);
  if (more) {
    rows->pop_back();
  }
  ipc::Json entries = ipc::Json::array();
  for (const auto& [id, a] : *rows) {
    entries.push_back({{"time", store::iso_time(a.time_ms)},
                       {"user", a.user},
                       {"uid", a.uid ? ipc::Json(*a.uid) : ipc::Json(nullptr)},
                       {"action", a.action},
                       {"target", a.target},
                       {"outcome", a.outcome},
                       {"detail", a.detail}});
  }
  Reply r;
  r.result = {{"entries", entries},
              {"next_cursor", more ? ipc::Json(std::to_string(rows->back().id)) : nullptr}};
  return r;
}

Daemon::Reply Daemon::cmd_preview(Connection&, const ipc::Request& request) {
  const std::string expr = string_arg(request, "expr");
  const std::string zone_name = string_arg(request, "timezone", false);
  const int count = count_arg(request, "count", 10, 100);
  // As jobsctl next: the zone given, else the daemon's default zone, else UTC; a CRON_TZ=
  // prefix of the expression wins.
  cron::ParseOptions options;
  options.zone = config_.default_zone != nullptr ? config_.default_zone : &tz::utc();
  if (!zone_name.empty()) {
    auto zone = tz::find_zone(zone_name);
    if (!zone) {
      throw CommandError{ipc::code::invalid, zone.error().message};
    }
    options.zone = *zone;
  }
  auto schedule = cron::Schedule::parse(expr, options);
  if (!schedule) {
    throw CommandError{ipc::code::invalid, schedule.error().message};
  }
  const tz::Zone& zone = schedule->zone();
  ipc::Json fires = ipc::Json::array();
  for (const auto& [f, dst] :
       jobs::next_fires({*schedule}, std::nullopt,
                        cron::Instant(std::chrono::seconds(now_ms() / 1000)), count)) {
    const std::int64_t t = f.time.time_since_epoch().count();
    fires.push_back({{"utc", tz::format_utc(t)},
                     {"local", tz::format_local(t, zone)},
                     {"dst", dst.empty() ? ipc::Json(nullptr) : ipc::Json(dst)}});
  }
  Reply r;
  r.result = {{"expr", expr}, {"timezone", zone.name()}, {"fires", fires}};
  return r;
}

} // namespace jobsd
