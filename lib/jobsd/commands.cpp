// The commands of the control socket (man/jobsd.8, PROTOCOL): one table, read-only or
// mutating checked in one place, every mutating command audited, every exception of a command
// answered as an error reply.
#include <base/duration.hpp>
#include <base/text.hpp>
#include <engine/result.hpp>
#include <jobs/edit.hpp>
#include <jobsd/command_args.hpp>
#include <store/json.hpp>
#include <tz/format.hpp>
#include <tz/when.hpp>
#include <tz/zone.hpp>

#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

namespace jobsd {

std::string string_arg(const ipc::Request& r, const char* key, bool required) {
  const auto it = r.args.find(key);
  if (it == r.args.end() || it->is_null()) {
    if (required) {
      throw CommandError{ipc::code::invalid, std::string("\"") + key + "\" is required"};
    }
    return {};
  }
  if (!it->is_string()) {
    throw CommandError{ipc::code::invalid, std::string("\"") + key + "\" must be a string"};
  }
  return it->get<std::string>();
}

std::optional<bool> optional_bool_arg(const ipc::Request& r, const char* key) {
  const auto it = r.args.find(key);
  if (it == r.args.end() || it->is_null()) {
    return std::nullopt;
  }
  if (!it->is_boolean()) {
    throw CommandError{ipc::code::invalid, std::string("\"") + key + "\" must be true or false"};
  }
  return it->get<bool>();
}

bool bool_arg(const ipc::Request& r, const char* key) {
  return optional_bool_arg(r, key).value_or(false);
}

std::optional<std::int64_t> int_arg(const ipc::Request& r, const char* key) {
  const auto it = r.args.find(key);
  if (it == r.args.end() || it->is_null()) {
    return std::nullopt;
  }
  if (!it->is_number_integer()) {
    throw CommandError{ipc::code::invalid, std::string("\"") + key + "\" must be an integer"};
  }
  // An unsigned beyond the int64 range would read as a negative number.
  if (it->is_number_unsigned() &&
      it->get<std::uint64_t>() >
          static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    throw CommandError{ipc::code::invalid,
                       std::string("\"") + key + "\" is out of range, got " + it->dump()};
  }
  return it->get<std::int64_t>();
}

int count_arg(const ipc::Request& r, const char* key, int fallback, int max) {
  const std::int64_t n = int_arg(r, key).value_or(fallback);
  if (n < 1 || n > max) {
    throw CommandError{ipc::code::invalid, std::string("\"") + key + "\" must be between 1 and " +
                                               std::to_string(max) + ", got " + std::to_string(n)};
  }
  return static_cast<int>(n);
}

ipc::Json iso_or_null(std::optional<std::int64_t> seconds) {
  return seconds ? ipc::Json(tz::format_utc(*seconds)) : ipc::Json(nullptr);
}

std::map<std::string, store::JobState> by_job(std::vector<store::JobState> states) {
  std::map<std::string, store::JobState> out;
  for (auto& s : states) {
    out[s.job_id] = std::move(s);
  }
  return out;
}

namespace {

std::int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The longest reason a pause may give: it is shown in list and status, and kept in the store.
constexpr size_t max_pause_reason = 500;

// Lines that a log read ends with: only whole lines are sent.
constexpr size_t follow_chunk = 256 * 1024;
// A follower reads more of the log only while less than this waits to be sent to its client.
constexpr size_t follow_backlog = 1 << 20;

} // namespace

// Who may use a command. Reads are for the socket's readers; admin reads (the audit log, which
// names every user and what they did) for admins alone, and are not audited, as no read is:
// a dashboard polling the audit log would fill it with its own reads. Mutating commands are
// for admins, and each is audited, refused ones too.
enum class Use { read, admin_read, mutating };

struct Daemon::CommandSpec {
  const char* name;
  Use use;
  Reply (Daemon::*run)(Connection&, const ipc::Request&);
  const char* summary;
};

const std::vector<Daemon::CommandSpec>& Daemon::commands() {
  using enum Use;
  static const std::vector<CommandSpec> table = {
      {"status", read, &Daemon::cmd_status, "the daemon, its queues, running executions, errors"},
      {"list", read, &Daemon::cmd_list, "the jobs with their next fire and last status, paged"},
      {"show", read, &Daemon::cmd_show, "one job, its next fires and its last execution"},
      {"history", read, &Daemon::cmd_history, "past executions from the history store, paged"},
      {"execution", read, &Daemon::cmd_execution, "one execution with its steps"},
      {"stats", read, &Daemon::cmd_stats, "each job's executions and fires summed up"},
      {"logs", read, &Daemon::cmd_logs, "an execution's log, optionally followed"},
      {"queues", read, &Daemon::cmd_queues, "the time-zone queues and the global limit"},
      {"validate", read, &Daemon::cmd_validate, "a job file's text checked, nothing written"},
      {"types", read, &Daemon::cmd_types, "the step types and their JSON Schemas"},
      {"health", read, &Daemon::cmd_health, "whether all is well, and the reasons if not"},
      {"preview", read, &Daemon::cmd_preview, "the next fires of a schedule in a zone"},
      {"version", read, &Daemon::cmd_version, "the daemon's and the protocol's versions"},
      {"audit", admin_read, &Daemon::cmd_audit, "the audit log, latest first, paged"},
      {"trigger", mutating, &Daemon::cmd_trigger, "run a job now, optionally waiting or following"},
      {"cancel", mutating, &Daemon::cmd_cancel, "cancel a queued or running execution"},
      {"reload", mutating, &Daemon::cmd_reload, "re-read the jobs folder now"},
      {"enable", mutating, &Daemon::cmd_enable, "set enabled: true in a job's file, then reload"},
      {"disable", mutating, &Daemon::cmd_disable,
       "set enabled: false in a job's file, then reload"},
      {"schedule", mutating, &Daemon::cmd_schedule, "run a job once at a given time"},
      {"pause", mutating, &Daemon::cmd_pause,
       "skip a job's fires until resumed (kept in the store)"},
      {"resume", mutating, &Daemon::cmd_resume, "end a job's pause"},
      {"metrics", read, &Daemon::cmd_metrics,
       "the metrics in the Prometheus text format (man/jobsd.8, METRICS)"},
      // Admins only (mutating), audited; a token's text is in no request, log or audit entry.
      {"token_create", mutating, &Daemon::cmd_token_create,
       "make an HTTP API token (its text is shown once)"},
      {"token_list", mutating, &Daemon::cmd_token_list, "the HTTP API tokens, without their texts"},
      {"token_revoke", mutating, &Daemon::cmd_token_revoke, "remove an HTTP API token"},
  };
  return table;
}

ipc::Json Daemon::hello(const Connection& c) const {
  ipc::Json capabilities = ipc::Json::array();
  for (const auto& command : commands()) {
    capabilities.push_back(command.name);
  }
  capabilities.push_back("follow");
  ipc::Json hello = {{"hello", "jobsd"},
                     {"v", ipc::protocol_version},
                     {"version", options_.version},
                     {"pid", getpid()},
                     {"capabilities", capabilities},
                     {"user", c.user},
                     {"admin", c.admin},
                     {"read", c.reader}};
  if (c.principal) {
    hello["token"] = c.principal->token;
    hello["role"] = to_string(c.principal->role);
    hello["jobs"] = c.principal->jobs;
  }
  return hello;
}

std::optional<Daemon::JobFile> Daemon::job_file(const std::string& id) const {
  if (const auto it = jobs_.find(id); it != jobs_.end()) {
    return JobFile{it->second->path, id};
  }
  // A file that did not load (with errors, or failing a check across files) is found by its
  // name; its job is the id it declares, if it could be read. A file that loaded is found by its
  // job's id alone, whatever its name: web-x.yaml may hold db-prod.
  for (const auto& [path, f] : files_) {
    if (std::filesystem::path(path).stem() == id &&
        std::none_of(jobs_.begin(), jobs_.end(),
                     [&](const auto& job) { return job.second->path == path; })) {
      return JobFile{path, f.loaded && f.loaded->job ? f.loaded->job->id : id};
    }
  }
  return std::nullopt;
}

std::string Daemon::job_of(const ipc::Request& r) {
  if (const auto job = r.args.find("job"); job != r.args.end() && job->is_string()) {
    const std::string id = job->get<std::string>();
    if (r.cmd == "enable" || r.cmd == "disable") {
      const auto file = job_file(id);
      return file ? file->job : id;
    }
    return id;
  }
  const auto execution = r.args.find("execution");
  if (execution == r.args.end() || !execution->is_string()) {
    return "";
  }
  const std::string id = execution->get<std::string>();
  if (const auto a = attempts_.find(id); a != attempts_.end()) {
    return running_.at(a->second)->pending.job->id;
  }
  for (const auto& [first, x] : running_) {
    if (x->pending.execution_id == id) {
      return x->pending.job->id;
    }
  }
  if (auto e = store_->execution(id); e && *e) {
    return (**e).job_id;
  }
  return "";
}

std::string Daemon::refusal(const Connection& c, const CommandSpec& spec, const ipc::Request& r) {
  const bool privileged = spec.use != Use::read;
  if (c.principal) {
    const Principal& p = *c.principal;
    const std::string job = spec.use == Use::mutating ? job_of(r) : "";
    if (role_allows(p.role, p.jobs, r.cmd, privileged, job)) {
      return "";
    }
    if (spec.use == Use::admin_read) {
      return "token " + p.token + " (" + to_string(p.role) + ") may not read " + r.cmd +
             ": admins only";
    }
    return "token " + p.token + " (" + to_string(p.role) + ") may not " + r.cmd +
           (job.empty() ? "" : " " + job) +
           (p.role == Role::operator_ ? " (its jobs: " + p.jobs + ")" : "");
  }
  if (privileged ? c.admin : c.reader) {
    return "";
  }
  return "user " + c.user + " may not " +
         (spec.use == Use::mutating     ? "use mutating commands (" + r.cmd + "): admins only"
          : spec.use == Use::admin_read ? "read " + r.cmd + ": admins only"
                                        : "use jobsd");
}

void Daemon::audit(const std::string& user, std::optional<std::int64_t> uid, const std::string& how,
                   const std::string& action, const std::string& target, const std::string& detail,
                   const std::string& outcome) {
  store::AuditRecord a;
  a.time_ms = now_ms();
  a.user = user;
  a.uid = uid;
  a.action = action;
  a.target = target;
  a.detail = detail;
  a.outcome = outcome;
  if (auto stored = store_->audit(a); !stored) {
    logs_->daemon().error("{}", stored.error().message);
  }
  // Each field escaped, the target quoted: whatever a client sends, the line stays one line
  // whose fields are the ones jobsd wrote.
  logs_->audit("user=" + base::escaped(a.user) + " " + how + " action=" + base::escaped(a.action) +
               " target=" + base::quoted(a.target) + " outcome=" + base::escaped(a.outcome) +
               " args=" + base::escaped(a.detail));
}

void Daemon::handle_request(Connection& c, const ipc::Request& r) {
  const int fd = c.fd;
  const auto& table = commands();
  const auto spec = std::find_if(table.begin(), table.end(),
                                 [&](const CommandSpec& s) { return r.cmd == s.name; });
  Reply reply;
  if (r.cmd == "hello") {
    reply.result = hello(c);
  } else if (spec == table.end()) {
    std::vector<std::string> names;
    for (const auto& s : table) {
      names.push_back(s.name);
    }
    const auto near = base::suggest(r.cmd, names, 1);
    reply.code = ipc::code::unknown_command;
    reply.message = "unknown command \"" + r.cmd + "\"" +
                    (near.empty() ? "" : "; did you mean " + base::quoted_alternatives(near) + "?");
  } else if (const std::string why = refusal(c, *spec, r); !why.empty()) {
    reply.code = ipc::code::denied;
    reply.message = why;
    if (spec->use != Use::mutating) {
      // Mutating ones are audited below; reads are counted, not stored: a flood of them must
      // not grow the history.
      refused(c, "read request", reply.message + " (" + r.cmd + ")");
    }
  } else {
    try {
      reply = (this->*spec->run)(c, r);
    } catch (const CommandError& e) {
      reply.code = e.code;
      reply.message = e.message;
    } catch (const std::exception& e) {
      reply.code = ipc::code::internal;
      reply.message = std::string("internal error: ") + e.what();
      logs_->daemon().error("command {} of {}: {}", r.cmd, c.user, reply.message);
    }
  }
  if (spec != table.end() && spec->use == Use::mutating) {
    if (reply.target.empty()) {
      for (const char* key : {"job", "execution"}) {
        if (const auto it = r.args.find(key); it != r.args.end() && it->is_string()) {
          reply.target = it->get<std::string>();
        }
      }
    }
    audit(c.user, c.principal ? std::nullopt : std::optional<std::int64_t>(c.uid),
          c.principal ? "address=" + base::escaped(c.principal->address)
                      : "uid=" + std::to_string(c.uid) + " pid=" + std::to_string(c.pid),
          r.cmd, reply.target, r.args.dump(),
          reply.code.empty() ? "ok" : reply.code + ": " + reply.message);
  }
  if (reply.deferred || connection(fd) == nullptr) {
    return;
  }
  send(c, reply.code.empty() ? ipc::reply(r.id, std::move(reply.result))
                             : ipc::error_reply(r.id, reply.code, reply.message));
}

// --- Read-only commands

Daemon::Reply Daemon::cmd_version(Connection&, const ipc::Request&) {
  Reply r;
  r.result = {{"version", options_.version}, {"protocol", ipc::protocol_version}};
  return r;
}

ipc::Json Daemon::queues_json() const {
  std::map<std::string, std::int64_t> next_by_zone;
  for (const auto& [id, job] : jobs_) {
    if (const auto next = scheduler_.next_fire(id)) {
      auto& best = next_by_zone.try_emplace(zone_of(*job), *next).first->second;
      best = std::min(best, *next);
    }
  }
  ipc::Json queues = ipc::Json::array();
  size_t queued = 0;
  for (const auto& q : queues_.status()) {
    queued += q.depth;
    const auto next = next_by_zone.find(q.zone);
    queues.push_back({{"zone", q.zone},
                      {"depth", q.depth},
                      {"running", q.running},
                      {"limit", q.limit},
                      {"next_fire", next == next_by_zone.end() ? ipc::Json(nullptr)
                                                               : iso_or_null(next->second)}});
  }
  return {
      {"queues", queues},
      {"global",
       {{"running", queues_.running()}, {"queued", queued}, {"limit", queues_.global_limit()}}}};
}

Daemon::Reply Daemon::cmd_status(Connection&, const ipc::Request&) {
  size_t enabled = 0;
  for (const auto& [id, job] : jobs_) {
    enabled += job->enabled;
  }
  ipc::Json queues = queues_json();
  ipc::Json running = ipc::Json::array();
  for (const auto& [id, x] : running_) {
    std::lock_guard lock(x->mutex);
    running.push_back({{"execution_id", id},
                       {"attempt_execution_id", x->attempt_id},
                       {"job_id", x->pending.job->id},
                       {"zone", zone_of(*x->pending.job)},
                       {"trigger", x->pending.trigger},
                       {"triggered_by", store::text_json(x->pending.triggered_by)},
                       {"started", store::iso_time(x->started_ms)},
                       {"step", store::text_json(x->step)}});
  }
  ipc::Json errors = ipc::Json::array();
  for (const auto& d : last_reload_.errors) {
    errors.push_back(jobs::to_json(d));
  }
  // The history store's writes (waiting in memory while it fails) and jobsd.log's lines.
  const store::Health health = store_->health();
  const Logs::Lost lost = logs_->lost();
  ipc::Json scheduled = ipc::Json::array();
  for (const auto& o : one_offs_) {
    scheduled.push_back({{"job", o.job_id}, {"at", tz::format_utc(o.at)}, {"user", o.user}});
  }
  ipc::Json paused = ipc::Json::array();
  for (const auto& [id, p] : paused_) {
    ipc::Json item = {{"job", id}, {"exists", jobs_.count(id) > 0}};
    item.update(store::to_json(p));
    paused.push_back(std::move(item));
  }
  Reply r;
  r.result = {
      {"version", options_.version},
      {"pid", getpid()},
      {"started", store::iso_time(started_ms_)},
      {"uptime_seconds", (steady_now_ms() - up_since_ms_) / 1000},
      {"stopping", stopping_},
      {"jobs_dir", config_.jobs_dir},
      {"state_dir", config_.state_dir},
      {"log_dir", state_.log_dir()},
      {"socket", config_.socket},
      {"containment", containment_},
      {"jobs", {{"total", jobs_.size()}, {"enabled", enabled}, {"scheduled", scheduler_.size()}}},
      {"next_fire", iso_or_null(scheduler_.next_due())},
      {"reload",
       {{"generation", generation_},
        {"time", store::iso_time(last_reload_.time_ms)},
        {"files", last_reload_.files},
        {"changed", last_reload_.changed},
        {"removed", last_reload_.removed},
        {"seconds", last_reload_.seconds},
        {"errors", errors},
        {"stale", last_reload_.stale}}},
      {"queues", std::move(queues["queues"])},
      {"global", std::move(queues["global"])},
      {"running", running},
      {"scheduled", scheduled},
      {"paused", paused},
      {"store",
       {{"path", state_.store_path()},
        {"ok", health.fault.empty()},
        {"fault", health.fault.empty() ? ipc::Json(nullptr) : ipc::Json(health.fault)},
        {"since", health.since_ms ? ipc::Json(store::iso_time(health.since_ms)) : nullptr},
        {"waiting", health.waiting},
        {"made_late", health.made_late},
        {"lost", health.lost}}},
      {"log",
       {{"ok", lost.lines == 0},
        {"lost_lines", lost.lines},
        {"since", lost.lines ? ipc::Json(store::iso_time(lost.since_ms)) : nullptr},
        {"error", lost.lines ? ipc::Json(lost.error) : nullptr}}}};
  return r;
}

std::string Daemon::metrics_text() const {
  MetricsNow now;
  for (const auto& q : queues_.status()) {
    now.queues.push_back({q.zone, q.depth, q.running, q.limit});
  }
  for (const auto& [id, x] : running_) {
    ++now.running[x->pending.job->id];
  }
  now.files_with_errors = last_reload_.files_with_errors();
  now.store_writes_waiting = store_->health().waiting;
  now.log_lines_lost = logs_->lost_total();
  now.started_ms = started_ms_;
  return metrics_.render(now);
}

Daemon::Reply Daemon::cmd_metrics(Connection&, const ipc::Request&) {
  Reply r;
  r.result = {{"text", metrics_text()}};
  return r;
}

Daemon::Reply Daemon::cmd_list(Connection&, const ipc::Request& request) {
  // Filters and paging (the HTTP API's job list): a page of the matching jobs, by id.
  const std::string match = string_arg(request, "match", false);
  const std::string status = string_arg(request, "status", false);
  const std::optional<bool> enabled = optional_bool_arg(request, "enabled");
  const std::string cursor = string_arg(request, "cursor", false);
  const bool paged = request.args.contains("limit") || request.args.contains("cursor");
  const int limit = paged ? count_arg(request, "limit", default_page, max_page) : 0;
  if (!status.empty() && status != "paused" && status != "running" && status != "never" &&
      !engine::parse_status(status)) {
    throw CommandError{ipc::code::invalid,
                       "unknown status \"" + status +
                           "\" (a last status such as failed, or paused, running or never)"};
  }
  // A store that cannot be read leaves every job without a last run: "history_error" says so.
  auto all = store_->job_states();
  const auto states = all ? by_job(std::move(*all)) : std::map<std::string, store::JobState>();
  const auto last_status = [&](const std::string& id) {
    const auto state = states.find(id);
    return state == states.end() ? std::string() : state->second.last_status;
  };
  const auto activity = [&](const std::string& id) {
    const auto a = active_.find(id);
    if (a == active_.end()) {
      return std::string();
    }
    return std::any_of(a->second.begin(), a->second.end(),
                       [&](const std::string& e) { return running_.count(e) > 0; })
               ? std::string("running")
               : std::string("queued");
  };
  const auto matches = [&](const std::string& id, const jobs::JobDefinition& job) {
    return (match.empty() || fnmatch(match.c_str(), id.c_str(), 0) == 0 ||
            fnmatch(match.c_str(), job.name.c_str(), 0) == 0) &&
           (!enabled || job.enabled == *enabled) &&
           (status.empty() || (status == "paused" && paused_.count(id)) ||
            (status == "running" && activity(id) == "running") ||
            (status == "never" && last_status(id).empty()) || last_status(id) == status);
  };
  const std::set<std::string> stale(last_reload_.stale.begin(), last_reload_.stale.end());
  ipc::Json jobs = ipc::Json::array();
  size_t total = 0;
  std::string last_listed;
  bool more = false;
  for (auto it = cursor.empty() ? jobs_.begin() : jobs_.upper_bound(cursor); it != jobs_.end();
       ++it) {
    const auto& [id, job] = *it;
    if (!matches(id, *job)) {
      continue;
    }
    ++total;
    if (paged && jobs.size() == static_cast<size_t>(limit)) {
      more = true;
      continue; // counted, not listed
    }
    ipc::Json schedule = job->schedule.cron;
    if (job->schedule.at) {
      schedule.push_back("at " + job->schedule.at_text);
    }
    const auto state = states.find(id);
    last_listed = id;
    jobs.push_back(
        {{"id", id},
         {"name", job->name},
         {"enabled", job->enabled},
         {"timezone", zone_of(*job)},
         {"schedule", schedule},
         {"next_fire", job->enabled ? iso_or_null(scheduler_.next_fire(id)) : ipc::Json(nullptr)},
         {"concurrency", jobs::to_string(job->concurrency)},
         {"priority", job->priority},
         {"path", job->path},
         {"stale", stale.count(job->path) > 0},
         {"active", store::text_json(activity(id))},
         {"last_status", store::text_json(state == states.end() ? "" : state->second.last_status)},
         {"last_execution_id",
          store::text_json(state == states.end() ? "" : state->second.last_execution_id)},
         {"last_success",
          state == states.end() ? nullptr : store::time_json(state->second.last_success_ms)},
         {"paused", paused_.count(id) ? store::to_json(paused_.at(id)) : ipc::Json(nullptr)}});
  }
  std::set<std::string> bad_files;
  for (const auto& d : last_reload_.errors) {
    bad_files.insert(d.error.location.path);
  }
  Reply r;
  r.result = {
      {"jobs_dir", config_.jobs_dir}, {"jobs", jobs}, {"files_with_errors", bad_files.size()}};
  if (!all) {
    r.result["history_error"] = all.error().message;
  }
  if (paged || !match.empty() || !status.empty() || enabled) {
    // The jobs before the cursor count too: "total" is what the filters match.
    if (!cursor.empty()) {
      for (auto it = jobs_.begin(); it != jobs_.upper_bound(cursor); ++it) {
        total += matches(it->first, *it->second);
      }
    }
    r.result["total"] = total;
    r.result["next_cursor"] = more ? ipc::Json(last_listed) : ipc::Json(nullptr);
  }
  return r;
}

Daemon::Reply Daemon::cmd_show(Connection&, const ipc::Request& request) {
  const JobPtr it = job_arg(request);
  const auto& job = *it;
  const int count = count_arg(request, "fires", 5, 50);
  ipc::Json fires = ipc::Json::array();
  for (const auto& [f, dst] :
       jobs::next_fires(job.schedule.compiled, job.schedule.at,
                        cron::Instant(std::chrono::seconds(now_ms() / 1000)), count)) {
    const std::int64_t t = f.time.time_since_epoch().count();
    fires.push_back({{"utc", tz::format_utc(t)},
                     {"local", job.zone ? tz::format_local(t, *job.zone) : tz::format_utc(t)},
                     {"dst", dst.empty() ? ipc::Json(nullptr) : ipc::Json(dst)}});
  }
  ipc::Json steps = ipc::Json::array();
  for (const auto& s : job.steps) {
    steps.push_back({{"id", s.id}, {"name", s.name}, {"type", s.type}});
  }
  ipc::Json last = nullptr;
  if (auto e = store_->last_execution(job.id); e && *e) {
    last = store::to_json(**e);
  }
  Reply r;
  r.result = {
      {"id", job.id},
      {"name", job.name},
      {"description", job.description},
      {"enabled", job.enabled},
      {"path", job.path},
      {"timezone", zone_of(job)},
      {"schedule", job.schedule.cron},
      {"at", job.schedule.at ? ipc::Json(job.schedule.at_text) : ipc::Json(nullptr)},
      {"concurrency", jobs::to_string(job.concurrency)},
      {"missed", jobs::to_string(job.schedule.missed)},
      {"priority", job.priority},
      {"timeout", jobs::format_timeout(job.timeout)},
      {"timeout_from", jobs::to_string(job.timeout_from)},
      {"after", job.after},
      {"steps", steps},
      {"next_fires", job.enabled ? fires : ipc::Json::array()},
      {"last_execution", last},
      {"paused", paused_.count(job.id) ? store::to_json(paused_.at(job.id)) : ipc::Json(nullptr)}};
  return r;
}

Daemon::Reply Daemon::cmd_history(Connection&, const ipc::Request& request) {
  store::HistoryQuery q;
  if (auto job = string_arg(request, "job", false); !job.empty()) {
    q.job_id = job;
  }
  if (auto status = string_arg(request, "status", false); !status.empty()) {
    if (!engine::parse_status(status)) {
      throw CommandError{ipc::code::invalid, "unknown status \"" + status + "\""};
    }
    q.status = status;
  }
  q.since_ms = int_arg(request, "since_ms");
  q.until_ms = int_arg(request, "until_ms");
  // Paged (the HTTP API): {"executions", "next_cursor"}, the cursor the start and the id of
  // the page's last row ("1767225600000.20260101-abc"), so that executions started since the
  // first page neither shift nor repeat the rows of the next. Else an array, as jobsctl reads.
  const std::string cursor = string_arg(request, "cursor", false);
  const bool paged = bool_arg(request, "page") || !cursor.empty();
  if (paged) {
    q.limit = count_arg(request, "limit", default_page, max_page) + 1; // one more: is there more?
    if (!cursor.empty()) {
      const size_t dot = cursor.find('.');
      if (dot == std::string::npos || dot == 0 || dot > 18 ||
          !base::all_digits(cursor.substr(0, dot)) || dot + 1 == cursor.size()) {
        throw CommandError{ipc::code::invalid,
                           "\"cursor\": not one this command gave: " + base::quoted(cursor)};
      }
      q.after = store::Cursor{std::stoll(cursor.substr(0, dot)), cursor.substr(dot + 1)};
    }
  } else {
    // As jobsctl history --limit: 0 for all (man/jobsctl.1).
    const std::int64_t limit = int_arg(request, "limit").value_or(20);
    if (limit < 0 || limit > std::numeric_limits<int>::max()) {
      throw CommandError{ipc::code::invalid, "\"limit\" must be between 0 (all) and " +
                                                 std::to_string(std::numeric_limits<int>::max()) +
                                                 ", got " + std::to_string(limit)};
    }
    q.limit = static_cast<int>(limit);
  }
  // Each row as JSON, and the cursor after it (paged).
  std::vector<std::pair<ipc::Json, std::string>> rows;
  if (q.status == "skipped") {
    // Fires that did not run are not executions: they come from the fires and their reasons.
    auto fires = store_->skipped_fires(q);
    if (!fires) {
      throw CommandError{ipc::code::internal, fires.error().message};
    }
    for (const auto& f : *fires) {
      rows.emplace_back(store::to_json(f), std::to_string(f.scheduled_ms) + "." + f.job_id);
    }
  } else {
    auto found = store_->history(q);
    if (!found) {
      throw CommandError{ipc::code::internal, found.error().message};
    }
    for (const auto& e : *found) {
      rows.emplace_back(store::to_json(e), std::to_string(e.start_ms) + "." + e.execution_id);
    }
  }
  const bool more = paged && rows.size() == static_cast<size_t>(q.limit);
  if (more) {
    rows.pop_back();
  }
  ipc::Json listed = ipc::Json::array();
  for (auto& row : rows) {
    listed.push_back(std::move(row.first));
  }
  Reply r;
  r.result = paged ? ipc::Json{{"executions", listed},
                               {"next_cursor", more ? ipc::Json(rows.back().second) : nullptr}}
                   : listed;
  return r;
}

Daemon::Reply Daemon::cmd_stats(Connection&, const ipc::Request& request) {
  store::StatsQuery q;
  if (auto job = string_arg(request, "job", false); !job.empty()) {
    q.job_id = job;
  }
  q.since_ms = int_arg(request, "since_ms");
  auto stats = store_->stats(q);
  if (!stats) {
    throw CommandError{ipc::code::internal, stats.error().message};
  }
  Reply r;
  r.result = ipc::Json::array();
  for (const auto& s : *stats) {
    r.result.push_back(store::to_json(s));
  }
  return r;
}

ipc::Json Daemon::execution_json(const std::string& execution_id) {
  if (auto e = store_->execution(execution_id); e && *e) {
    return store::to_json(**e);
  }
  return {{"execution_id", execution_id}};
}

Daemon::Reply Daemon::cmd_logs(Connection& c, const ipc::Request& request) {
  const std::string target = string_arg(request, "target");
  const bool follow = bool_arg(request, "follow");
  Follower f;
  f.fd = c.fd;
  f.serial = c.serial;
  f.request_id = request.id;
  f.until_eof = !follow;
  // The zone of the execution's job, for the client to show the lines' times in.
  std::string zone;
  // A running execution: its first attempt's id, a retry's id, or a unique prefix of one.
  std::set<std::string> matches;
  for (const auto& [attempt, first] : attempts_) {
    if (!target.empty() && attempt.starts_with(target)) {
      matches.insert(first);
    }
  }
  if (matches.size() == 1) {
    f.execution_id = *matches.begin();
    zone = zone_of(*running_.at(f.execution_id)->pending.job);
  } else if (jobs_.count(target)) {
    // A job: its running execution, else its last one; with follow, then its next ones.
    f.job_id = target;
    f.job_wide = follow;
    zone = zone_of(*jobs_.at(target));
    if (const auto a = active_.find(target); a != active_.end()) {
      for (const auto& id : a->second) {
        if (running_.count(id)) {
          f.execution_id = id;
          break;
        }
      }
    }
    if (f.execution_id.empty()) {
      auto last = store_->last_execution(target);
      if (last && *last) {
        f.log_path = (**last).log_path;
        f.ended_id = (**last).execution_id;
      } else if (!follow) {
        throw CommandError{ipc::code::not_found, "job " + target + " has no execution yet"};
      }
    }
  } else {
    auto found = store_->execution(target);
    if (!found) {
      throw CommandError{ipc::code::invalid, found.error().message};
    }
    if (!*found) {
      std::vector<std::string> ids;
      for (const auto& [id, job] : jobs_) {
        ids.push_back(id);
      }
      throw CommandError{ipc::code::not_found,
                         "no execution or job \"" + target + "\"" +
                             base::did_you_mean(target, ids, " (an execution id or a job id)")};
    }
    f.log_path = (**found).log_path;
    f.ended_id = (**found).execution_id;
    // It has ended: its log is complete, followed or not.
    f.until_eof = true;
    zone = (**found).timezone;
  }
  if (!f.execution_id.empty()) {
    running_.at(f.execution_id)->watched = true;
  }
  send(c, ipc::event(request.id, {{"timezone", zone}}));
  followers_.push_back(std::move(f));
  pending_pumps_.insert(c.fd);
  Reply r;
  r.deferred = true;
  return r;
}

void Daemon::pump_all() {
  std::set<int> fds;
  fds.swap(pending_pumps_);
  for (int fd : fds) {
    for (size_t i = 0; i < followers_.size();) {
      if (followers_[i].fd == fd && client(followers_[i]) != nullptr &&
          pump(followers_[i], false)) {
        followers_.erase(followers_.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }
}

void Daemon::pump_followers(const std::string& execution_id, bool ended) {
  for (size_t i = 0; i < followers_.size();) {
    if (followers_[i].execution_id == execution_id && pump(followers_[i], ended)) {
      followers_.erase(followers_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
}

bool Daemon::pump(Follower& f, bool ended) {
  Connection* c = client(f);
  if (c == nullptr) {
    return true;
  }
  const int fd = f.fd;
  const std::int64_t id = f.request_id;
  const auto x = f.execution_id.empty() ? running_.end() : running_.find(f.execution_id);
  if (x == running_.end()) {
    // A log that is complete (or an execution not started yet, or none: a job followed, waiting).
    if (!f.execution_id.empty()) {
      return false;
    }
    if (f.send_log && !f.log_path.empty() && !read_log(*c, f, false)) {
      return false; // more when the client has read what it was sent
    }
    if (f.until_eof) {
      const ipc::Json record = f.ended_id.empty() ? ipc::Json(nullptr) : execution_json(f.ended_id);
      if (Connection* still = connection(fd)) {
        send(*still, ipc::reply(id, record));
      }
      return true;
    }
    if (f.job_wide && !f.told_waiting) {
      // Following a job that runs nothing now: when its next fire is due.
      f.told_waiting = true;
      send(*c, ipc::event(id, {{"waiting",
                                {{"job_id", f.job_id},
                                 {"next_fire", iso_or_null(scheduler_.next_fire(f.job_id))}}}}));
    }
    f.log_path.clear();
    return false;
  }
  std::string path, last_attempt;
  {
    std::lock_guard lock(x->second->mutex);
    path = x->second->log_path;
    last_attempt =
        x->second->results.empty() ? x->second->attempt_id : x->second->results.back().execution_id;
  }
  if (path != f.log_path) {
    // A retry writes a new log: the old one is read to its end first.
    if (f.send_log && !f.log_path.empty()) {
      read_log(*c, f, true);
    }
    f.log_path = path;
    f.offset = 0;
  }
  if (f.send_log && !f.log_path.empty() && !read_log(*c, f, ended) && !ended) {
    return false;
  }
  if (f.until_eof && !ended) {
    // logs without follow: what the log holds now, and the execution as it stands.
    if (Connection* still = connection(fd)) {
      send(*still, ipc::reply(id, execution_json(x->second->pending.execution_id)));
    }
    return true;
  }
  if (!ended) {
    return false;
  }
  const ipc::Json record = execution_json(last_attempt);
  Connection* still = connection(fd);
  if (still == nullptr) {
    return true;
  }
  if (f.job_wide) {
    // Following a job: the end of one execution, then wait for its next.
    send(*still, ipc::event(id, {{"execution_end", record}}));
    f.execution_id.clear();
    f.told_waiting = false;
    f.log_path.clear();
    f.offset = 0;
    return false;
  }
  send(*still, ipc::reply(id, record));
  return true;
}

bool Daemon::read_log(Connection& c, Follower& f, bool to_end) {
  const int fd = c.fd;
  std::ifstream in(f.log_path, std::ios::binary);
  if (!in) {
    return true; // not written yet (or gone): nothing to send
  }
  in.seekg(static_cast<std::streamoff>(f.offset));
  std::string chunk(follow_chunk, '\0');
  while (to_end || c.out.size() < follow_backlog) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto got = static_cast<size_t>(in.gcount());
    if (got == 0) {
      return true;
    }
    std::string_view data(chunk.data(), got);
    // Only whole lines, unless the log is complete.
    size_t end = data.rfind('\n');
    if (end == std::string_view::npos) {
      if (!to_end || got == chunk.size()) {
        return true;
      }
      end = got - 1;
    }
    std::string_view lines = data.substr(0, end + 1);
    f.offset += lines.size();
    std::string events;
    for (size_t start = 0; start < lines.size();) {
      const size_t nl = std::min(lines.find('\n', start), lines.size());
      events += ipc::encode(
          ipc::event(f.request_id, {{"line", std::string(lines.substr(start, nl - start))}}));
      start = nl + 1;
    }
    c.out += events;
    on_writable(c);
    if (connection(fd) == nullptr) {
      return true;
    }
    in.clear();
    in.seekg(static_cast<std::streamoff>(f.offset));
  }
  return false;
}

// --- Mutating commands

const JobPtr& Daemon::job_arg(const ipc::Request& request) {
  const std::string id = string_arg(request, "job");
  const auto it = jobs_.find(id);
  if (it != jobs_.end()) {
    return it->second;
  }
  std::vector<std::string> ids;
  for (const auto& [k, v] : jobs_) {
    ids.push_back(k);
  }
  const auto near = base::suggest(id, ids, 1);
  throw CommandError{
      ipc::code::not_found,
      "no job \"" + id + "\" in " + config_.jobs_dir +
          (near.empty() ? "" : "; did you mean " + base::quoted_alternatives(near) + "?")};
}

Daemon::Reply Daemon::cmd_trigger(Connection& c, const ipc::Request& request) {
  const JobPtr job = job_arg(request);
  const bool follow = bool_arg(request, "follow");
  const bool wait = bool_arg(request, "wait") || follow;
  if (stopping_) {
    throw CommandError{ipc::code::conflict, "jobsd is stopping"};
  }
  // replace: the job's queued and running executions are cancelled first, whatever its
  // concurrency (the HTTP API's {"replace": true}).
  const bool replacing = bool_arg(request, "replace");
  std::string which;
  if (active(job->id, &which)) {
    if (job->concurrency == jobs::Concurrency::forbid && !replacing) {
      throw CommandError{ipc::code::conflict,
                         "job " + job->id + " is " +
                             (running_.count(which) ? "running" : "queued") + " (execution " +
                             which + ") and has concurrency: forbid; cancel it first or wait"};
    }
    if (job->concurrency == jobs::Concurrency::replace || replacing) {
      replace(*job, "replaced by a run triggered by " + c.user);
    }
  }
  const std::string id = enqueue(job, std::nullopt, "manual", c.user);
  // A paused job runs when asked to: the reply says it is paused.
  const auto pause = paused_.find(job->id);
  const ipc::Json paused =
      pause == paused_.end() ? ipc::Json(nullptr) : store::to_json(pause->second);
  Reply r;
  r.target = job->id;
  if (wait) {
    Follower f;
    f.fd = c.fd;
    f.serial = c.serial;
    f.request_id = request.id;
    f.execution_id = id;
    f.job_id = job->id;
    f.send_log = follow;
    followers_.push_back(std::move(f));
    send(c, ipc::event(request.id, {{"execution_id", id}, {"paused", paused}}));
    r.deferred = true;
  }
  dispatch();
  if (!wait) {
    r.result = {{"execution_id", id},
                {"job_id", job->id},
                {"state", running_.count(id) ? "running" : "queued"},
                {"paused", paused}};
  }
  return r;
}

Daemon::Reply Daemon::cmd_cancel(Connection& c, const ipc::Request& request) {
  const std::string target = string_arg(request, "execution");
  Reply r;
  if (target.empty()) {
    throw CommandError{ipc::code::invalid, "\"execution\" must not be empty"};
  }
  // Running (any attempt), then queued; an id or a unique prefix.
  std::set<std::string> running;
  for (const auto& [attempt, first] : attempts_) {
    if (attempt.starts_with(target)) {
      running.insert(first);
    }
  }
  std::vector<const Pending*> queued;
  for (const Pending* p : queues_.queued()) {
    if (p->execution_id.starts_with(target)) {
      queued.push_back(p);
    }
  }
  if (running.size() + queued.size() > 1) {
    throw CommandError{ipc::code::invalid, "execution id prefix \"" + target + "\" is ambiguous: " +
                                               std::to_string(running.size() + queued.size()) +
                                               " executions start with it"};
  }
  if (!running.empty()) {
    Execution& x = *running_.at(*running.begin());
    cancel_execution(x, "cancelled by " + c.user);
    r.target = x.pending.job->id + " " + *running.begin();
    r.result = {
        {"execution_id", *running.begin()}, {"job_id", x.pending.job->id}, {"state", "running"}};
    return r;
  }
  if (!queued.empty()) {
    auto p = queues_.remove(queued.front()->execution_id);
    record_unstarted(*p, "cancelled", "cancelled by " + c.user + " before it started");
    forget_active(p->job->id, p->execution_id);
    r.target = p->job->id + " " + p->execution_id;
    r.result = {{"execution_id", p->execution_id}, {"job_id", p->job->id}, {"state", "queued"}};
    return r;
  }
  auto found = store_->execution(target);
  if (found && *found) {
    throw CommandError{ipc::code::conflict, "execution " + (**found).execution_id + " of job " +
                                                (**found).job_id + " has ended already (" +
                                                (**found).status + ")"};
  }
  throw CommandError{ipc::code::not_found, "no execution \"" + target + "\" is queued or running"};
}

Daemon::Reply Daemon::cmd_reload(Connection&, const ipc::Request&) {
  const ReloadReport report = reload(false);
  ipc::Json errors = ipc::Json::array();
  for (const auto& d : report.errors) {
    errors.push_back(jobs::to_json(d));
  }
  Reply r;
  r.result = {{"generation", generation_}, {"files", report.files}, {"changed", report.changed},
              {"removed", report.removed}, {"jobs", report.jobs},   {"seconds", report.seconds},
              {"errors", errors},          {"stale", report.stale}};
  return r;
}

Daemon::Reply Daemon::cmd_enable(Connection& c, const ipc::Request& r) {
  return cmd_set_enabled(c, r, true);
}

Daemon::Reply Daemon::cmd_disable(Connection& c, const ipc::Request& r) {
  return cmd_set_enabled(c, r, false);
}

Daemon::Reply Daemon::cmd_set_enabled(Connection&, const ipc::Request& request, bool value) {
  const std::string id = string_arg(request, "job");
  // The file refusal() checked the token's glob against (job_of).
  const auto file = job_file(id);
  if (!file) {
    job_arg(request); // throws not_found with a suggestion
  }
  const std::string& path = file->path;
  auto changed = jobs::set_enabled_in_file(path, value, jobsd::load_options(config_));
  if (!changed) {
    throw CommandError{ipc::code::invalid, changed.error().render()};
  }
  reload(false);
  Reply r;
  r.target = file->job;
  r.result = {{"job", id}, {"path", path}, {"enabled", value}, {"changed", *changed}};
  return r;
}

Daemon::Reply Daemon::cmd_schedule(Connection& c, const ipc::Request& request) {
  const JobPtr job = job_arg(request);
  std::int64_t at = 0;
  if (const auto seconds = int_arg(request, "at_utc")) {
    at = *seconds;
  } else {
    // Clock times ("09:40", "tomorrow 03:00") are the job's.
    auto parsed = tz::parse_when(string_arg(request, "at"), now_ms() / 1000,
                                 job->zone ? *job->zone : tz::utc());
    if (!parsed) {
      throw CommandError{ipc::code::invalid, "\"at\": " + parsed.error().message};
    }
    at = *parsed;
  }
  const std::int64_t now = now_ms() / 1000;
  if (at < now) {
    throw CommandError{ipc::code::invalid,
                       tz::format_utc(at) + " is in the past (now " + tz::format_utc(now) + ")"};
  }
  one_offs_.push_back({job->id, at, c.user});
  save_one_offs();
  Reply r;
  r.target = job->id;
  r.result = {{"job", job->id},
              {"at", tz::format_utc(at)},
              {"local", job->zone ? tz::format_local(at, *job->zone) : tz::format_utc(at)}};
  return r;
}

Daemon::Reply Daemon::cmd_pause(Connection& c, const ipc::Request& request) {
  const JobPtr job = job_arg(request);
  store::PauseRecord p;
  p.job_id = job->id;
  p.since_ms = now_ms();
  p.user = c.user;
  p.reason = string_arg(request, "reason", false);
  if (p.reason.size() > max_pause_reason) {
    throw CommandError{ipc::code::invalid,
                       "\"reason\" is longer than " + std::to_string(max_pause_reason) + " bytes"};
  }
  // It goes into jobsd.log and the zone logs with each fire skipped: one line of UTF-8, nothing
  // a terminal acts on (no C0 or C1 control, no bidirectional override: base::visible).
  if (p.reason.find_first_of("\t\n") != std::string::npos || base::visible(p.reason) != p.reason) {
    throw CommandError{ipc::code::invalid,
                       "\"reason\" must be one line of UTF-8 without control characters, got " +
                           base::quoted(p.reason)};
  }
  if (const std::string until = string_arg(request, "until", false); !until.empty()) {
    // A duration from now ("2h", "1d12h"), else a time as schedule's "at" takes it.
    const std::int64_t now = p.since_ms / 1000;
    const auto parsed =
        tz::parse_when(until, now, job->zone ? *job->zone : tz::utc(), tz::BareDuration::ahead);
    if (!parsed) {
      throw CommandError{ipc::code::invalid, "\"until\": " + parsed.error().message};
    }
    const std::int64_t at = *parsed;
    if (at <= now) {
      throw CommandError{ipc::code::invalid, "\"until\": " + tz::format_utc(at) +
                                                 " is not in the future (now " +
                                                 tz::format_utc(now) + ")"};
    }
    p.until_ms = at * 1000;
  }
  if (auto stored = store_->pause_job(p); !stored) {
    throw CommandError{ipc::code::internal, stored.error().message};
  }
  const bool was_paused = paused_.count(job->id) > 0;
  paused_[job->id] = p;
  logs_->daemon().info("job {}: {}", job->id, paused_reason(job->id, p.since_ms));
  Reply r;
  r.target = job->id;
  r.result = {{"job", job->id}, {"changed", !was_paused}, {"paused", store::to_json(p)}};
  return r;
}

Daemon::Reply Daemon::cmd_resume(Connection&, const ipc::Request& request) {
  // A job whose file is gone keeps its pause, and can be resumed by its id.
  const std::string id = string_arg(request, "job");
  if (!paused_.count(id) && !jobs_.count(id)) {
    std::vector<std::string> ids;
    for (const auto& [k, v] : jobs_) {
      ids.push_back(k);
    }
    for (const auto& [k, v] : paused_) {
      ids.push_back(k);
    }
    throw CommandError{ipc::code::not_found, "no job \"" + id + "\" in " + config_.jobs_dir +
                                                 " and no pause of one" +
                                                 base::did_you_mean(id, ids)};
  }
  const bool was_paused = paused_.count(id) > 0;
  if (was_paused) {
    if (auto ended = store_->resume_job(id); !ended) {
      throw CommandError{ipc::code::internal, ended.error().message};
    }
    paused_.erase(id);
    logs_->daemon().info("job {}: resumed", id);
  }
  Reply r;
  r.target = id;
  r.result = {{"job", id}, {"changed", was_paused}, {"paused", nullptr}};
  return r;
}

// --- The HTTP API's tokens (admins only)

Daemon::Reply Daemon::cmd_token_create(Connection&, const ipc::Request& request) {
  const std::string name = string_arg(request, "name");
  const std::string role_text = string_arg(request, "role");
  std::string jobs = string_arg(request, "jobs", false);
  const auto role = parse_role(role_text);
  if (!role) {
    throw CommandError{ipc::code::invalid,
                       "unknown role \"" + role_text + "\" (viewer, operator or admin)"};
  }
  if (jobs.empty()) {
    jobs = "*";
  }
  auto text = tokens_->create(name, *role, jobs, now_ms());
  if (!text) {
    throw CommandError{ipc::code::invalid, text.error().message};
  }
  Reply r;
  r.target = name;
  r.result = {{"name", name}, {"role", to_string(*role)}, {"jobs", jobs}, {"token", *text}};
  return r;
}

Daemon::Reply Daemon::cmd_token_list(Connection&, const ipc::Request&) {
  Reply r;
  r.result = {{"tokens", ipc::Json::array()}};
  for (const auto& t : tokens_->list()) {
    r.result["tokens"].push_back({{"name", t.name},
                                  {"role", to_string(t.role)},
                                  {"jobs", t.jobs},
                                  {"created", store::iso_time(t.created_ms)}});
  }
  return r;
}

Daemon::Reply Daemon::cmd_token_revoke(Connection& c, const ipc::Request& request) {
  const std::string name = string_arg(request, "name");
  auto removed = tokens_->revoke(name);
  if (!removed) {
    throw CommandError{ipc::code::internal, removed.error().message};
  }
  if (!*removed) {
    throw CommandError{ipc::code::not_found, "no token named " + name};
  }
  // A token is checked as each request begins: its open streams end with it.
  end_bridges(name, "token " + name + " was revoked", c.fd);
  Reply r;
  r.target = name;
  r.result = {{"name", name}, {"revoked", true}};
  return r;
}

} // namespace jobsd
