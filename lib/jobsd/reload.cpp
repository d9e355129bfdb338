// Reading the jobs folder into a new generation of jobs, atomically: files whose identity and
// times did not change are not read again; the checks across files run over the whole folder;
// a file that fails keeps its last good version running (unless refused for whom it could run
// as: jobs/trust.hpp); the new set replaces the old at once. The reloads that changes start
// read the folder on a thread of their own, so that the loop goes on meanwhile.
#include <engine/executor.hpp>
#include <jobs/doc.hpp>
#include <jobs/folder.hpp>
#include <jobs/trust.hpp>
#include <jobsd/daemon.hpp>
#include <tz/zone.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

namespace jobsd {

namespace {

std::int64_t ns(const timespec& t) {
  return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

// An error at the value of `key` in the job file `path` (at the file when it has no such key).
base::Error at_key(const std::string& path, const std::string& key, std::string message) {
  base::Error e{std::move(message), {path, 0, 0}, "", 1};
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  const auto doc =
      path.ends_with(".json") ? jobs::parse_json(text, path) : jobs::parse_yaml(text, path);
  if (doc && doc->is_map()) {
    if (const jobs::Node* value = doc->find(key)) {
      e.location.line = value->mark.line;
      e.location.column = value->mark.column;
      e.source_line = jobs::source_line(text, value->mark.line);
      e.length = value->is_scalar() ? std::max<int>(1, static_cast<int>(value->scalar.size())) : 1;
    }
  }
  return e;
}

// An error when a zone of `job` has lost its tz database file; `checked` remembers the zones
// looked at in this reload.
std::optional<jobs::Diagnostic> zone_problem(const jobs::JobDefinition& job,
                                             std::map<std::string, std::string>& checked) {
  std::vector<std::pair<const tz::Zone*, std::string>> zones;
  if (job.zone != nullptr) {
    zones.emplace_back(job.zone, "timezone");
  }
  for (const auto& schedule : job.schedule.compiled) {
    if (&schedule.zone() != job.zone) {
      zones.emplace_back(&schedule.zone(), "schedule"); // a CRON_TZ= prefix
    }
  }
  for (const auto& [zone, key] : zones) {
    auto [it, fresh] = checked.try_emplace(zone->name());
    if (fresh) {
      it->second = tz::zone_file_problem(zone->name());
    }
    if (!it->second.empty()) {
      return jobs::Diagnostic{
          jobs::Severity::error,
          at_key(job.path, key,
                 "\"" + key + "\": time zone \"" + zone->name() + "\": " + it->second +
                     "; jobsd keeps the rules it read before, but would refuse the job if "
                     "restarted")};
    }
  }
  return std::nullopt;
}

} // namespace

void Daemon::schedule_reload() {
  // Debounced: a burst of changes (git checkout) is read once it is over, but not later than a
  // second after it began.
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
  if (reload_first_ == 0) {
    reload_first_ = now;
  }
  reload_at_ = std::max<std::int64_t>(
      1, std::min<std::int64_t>(now + config_.reload_debounce.count(), reload_first_ + 1000));
}

Daemon::ReloadReport Daemon::reload(bool initial) {
  drop_reading(); // of the folder as it was: read it again now
  reload_at_ = reload_first_ = 0;
  return apply_reload(read_folder(config_.jobs_dir, jobsd::load_options(config_), files_), initial);
}

void Daemon::start_reload() {
  reload_at_ = reload_first_ = 0; // a change from now on is read by the next reload
  read_done_ = false;
  reading_ = std::thread(
      [this, dir = config_.jobs_dir, options = jobsd::load_options(config_), known = files_] {
        read_ = read_folder(dir, options, known);
        read_done_ = true;
        const std::uint64_t one = 1;
        (void)::write(notice_fd_, &one, sizeof one);
      });
}

void Daemon::finish_reload() {
  drop_reading();
  apply_reload(std::move(read_), false);
}

void Daemon::drop_reading() {
  if (reading_.joinable()) {
    reading_.join();
  }
  read_done_ = false;
}

Daemon::FolderRead Daemon::read_folder(const std::string& dir, const jobs::LoadOptions& options,
                                       const std::map<std::string, FileState>& known) {
  FolderRead read;
  read.began = std::chrono::steady_clock::now();
  read.began_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  const auto paths = jobs::list_job_files({dir}, read.problems, options.daemon_is_root);
  for (const auto& path : paths) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      continue; // gone since the folder was listed
    }
    FileState f;
    f.dev = st.st_dev;
    f.ino = st.st_ino;
    f.size = st.st_size;
    f.mtime_ns = ns(st.st_mtim);
    f.ctime_ns = ns(st.st_ctim);
    const auto old = known.find(path);
    if (old != known.end() && old->second.dev == f.dev && old->second.ino == f.ino &&
        old->second.size == f.size && old->second.mtime_ns == f.mtime_ns &&
        old->second.ctime_ns == f.ctime_ns) {
      f.loaded = old->second.loaded;
    } else {
      read.changed.push_back(path);
    }
    read.files.emplace(path, std::move(f));
  }
  auto loaded = jobs::load_files(read.changed, options);
  for (size_t i = 0; i < read.changed.size(); ++i) {
    read.files[read.changed[i]].loaded =
        std::make_shared<const jobs::LoadedFile>(std::move(loaded[i]));
  }
  return read;
}

size_t Daemon::ReloadReport::files_with_errors() const {
  std::set<std::string> paths;
  for (const auto& d : errors) {
    paths.insert(d.error.location.path);
  }
  return paths.size();
}

Daemon::ReloadReport Daemon::apply_reload(FolderRead read, bool initial) {
  auto& log = logs_->daemon();
  ReloadReport report;
  report.time_ms = now_ms();

  const auto options = jobsd::load_options(config_);
  if (!config_.secrets_file.empty()) {
    std::ifstream in(config_.secrets_file);
    std::stringstream text;
    text << in.rdbuf();
    // Under root, only a file that only root can write and read (jobsd(8), SECURITY).
    struct stat st {};
    const std::string unsafe =
        options.daemon_is_root && ::stat(config_.secrets_file.c_str(), &st) == 0
            ? jobs::root_file_problem(st, config_.secrets_file, true)
            : std::string();
    using Secrets = base::Result<std::map<std::string, std::string>>;
    Secrets parsed = base::Error{"cannot read the secrets file " + config_.secrets_file, {}, "", 1};
    if (!unsafe.empty()) {
      parsed = base::Error{"refused: " + unsafe, {}, "", 1};
    } else if (in) {
      parsed = engine::parse_secrets(text.str(), config_.secrets_file);
    }
    if (parsed) {
      secrets_ = std::move(*parsed);
      for (const auto& [name, value] : secrets_) {
        if (const std::string problem = engine::short_secret(name, value); !problem.empty()) {
          log.warn("{}: {} (it is masked all the same)", config_.secrets_file, problem);
        }
      }
    } else {
      log.error("{} (the secrets read before stay)", parsed.error().render());
    }
  }

  const auto& problems = read.problems;
  const auto& changed = read.changed;
  for (const auto& [path, f] : files_) {
    report.removed += read.files.count(path) == 0;
  }
  files_ = std::move(read.files);

  // The new generation. The checks across files see a failing file as its last good version,
  // which keeps running: the jobs that name it in `after` stay valid.
  std::vector<const jobs::LoadedFile*> all;
  std::vector<std::unique_ptr<jobs::LoadedFile>> standing_in;
  for (const auto& [path, f] : files_) {
    const auto good = last_good_.find(path);
    if (f.loaded->has_errors() && !f.loaded->untrusted && good != last_good_.end()) {
      auto last = std::make_unique<jobs::LoadedFile>();
      last->path = path;
      last->job = *good->second;
      all.push_back(standing_in.emplace_back(std::move(last)).get());
    } else {
      all.push_back(f.loaded.get());
    }
  }
  const auto across = jobs::check_across(all);
  std::map<std::string, JobPtr> jobs;
  std::map<std::string, JobPtr> good;
  std::vector<std::string> failing;
  const std::set<std::string> changed_set(changed.begin(), changed.end());
  std::map<std::string, std::string> zones_checked;
  size_t i = 0;
  for (const auto& [path, f] : files_) {
    bool bad = f.loaded->has_errors();
    for (const auto& d : across[i]) {
      bad = bad || d.severity == jobs::Severity::error;
    }
    const bool fresh = initial || changed_set.count(path) > 0;
    for (const auto* list : {&f.loaded->diagnostics, &across[i]}) {
      for (const auto& d : *list) {
        if (d.severity == jobs::Severity::error) {
          report.errors.push_back(d);
        }
        if (fresh) {
          log.warn("{}", first_line(jobs::render(d)));
        }
      }
    }
    if (!bad && f.loaded->job) {
      // A zone whose file is gone fails the file; its last good version (the same job, with the
      // rules read before) keeps running, as for any file that turned bad.
      if (auto problem = zone_problem(*f.loaded->job, zones_checked)) {
        report.errors.push_back(*problem);
        log.error("{}", first_line(jobs::render(*problem)));
        bad = true;
      }
    }
    if (!bad) {
      JobPtr job(f.loaded, &*f.loaded->job);
      jobs[job->id] = job;
      good[path] = job;
    } else if (last_good_.count(path) && !f.loaded->untrusted) {
      failing.push_back(path);
    }
    ++i;
  }
  for (const auto& f : problems) {
    for (const auto& d : f.diagnostics) {
      report.errors.push_back(d);
      log.error("{}", first_line(jobs::render(d)));
    }
  }
  // A file that fails keeps its last good version, unless a good file now has its id.
  for (const auto& path : failing) {
    const JobPtr& job = last_good_.at(path);
    if (!jobs.count(job->id)) {
      jobs[job->id] = job;
      good[path] = job;
      report.stale.push_back(path);
      log.warn("{} has errors: job {} keeps running its last good version", path, job->id);
    }
  }
  last_good_ = std::move(good);

  // Jobs scheduled from now on (new, enabled again, or with a new schedule) start after now:
  // the store notes it, so that after a restart the fires missed since then are caught up, and
  // none from before (while it was disabled, say). At start-up, the store's last fire of a job
  // counts only if the job's schedule is the one that fired it: a job whose schedule changed,
  // or that was enabled, while jobsd was down starts now, as it would have with jobsd up.
  // The last success of each job new to this generation (all of them at start-up; one a reload
  // adds back, say) is read from the store, so that its gauge is exported as before.
  std::map<std::string, std::int64_t> last;
  const bool adds = std::any_of(jobs.begin(), jobs.end(),
                                [&](const auto& j) { return jobs_.count(j.first) == 0; });
  if (initial || adds) {
    if (auto states = store_->job_states(); states) {
      for (const auto& s : *states) {
        if (s.last_success_ms && jobs_.count(s.job_id) == 0 &&
            (initial || jobs.count(s.job_id) > 0)) {
          metrics_.seed_last_success(s.job_id, *s.last_success_ms);
        }
        if (!initial) {
          continue;
        }
        if (s.schedule) {
          recorded_schedules_[s.job_id] = *s.schedule;
        }
        const auto job = jobs.find(s.job_id);
        const bool same = !s.schedule || (job != jobs.end() && job->second->enabled &&
                                          *s.schedule == schedule_key(*job->second));
        if (s.last_fire_ms && same) {
          last[s.job_id] = *s.last_fire_ms / 1000;
        }
      }
    } else {
      log.error("{}", states.error().message);
    }
  }
  std::vector<store::JobSchedule> schedules;
  for (const auto& [id, job] : jobs) {
    const auto old = jobs_.find(id);
    const bool was_scheduled =
        old != jobs_.end() && old->second->enabled && same_schedule(*old->second, *job);
    const std::string key = job->enabled ? schedule_key(*job) : "";
    const bool starts = !key.empty() && (initial ? last.count(id) == 0 : !was_scheduled);
    const auto recorded = recorded_schedules_.find(id);
    if (starts || recorded == recorded_schedules_.end() || recorded->second != key) {
      schedules.push_back({id, key, starts});
    }
  }
  for (const auto& [id, key] : recorded_schedules_) {
    if (!key.empty() && jobs.count(id) == 0) {
      schedules.push_back({id, "", false}); // removed
    }
  }
  jobs_ = std::move(jobs);
  downstream_.clear();
  std::vector<JobPtr> list;
  list.reserve(jobs_.size());
  std::vector<std::string> ids;
  for (const auto& [id, job] : jobs_) {
    list.push_back(job);
    ids.push_back(id);
    queues_.ensure(zone_of(*job));
    for (const auto& up : job->after) {
      downstream_[up].push_back(id);
    }
  }
  std::erase_if(upstream_done_, [&](const auto& e) { return jobs_.count(e.first) == 0; });
  const std::int64_t now = now_ms() / 1000;
  // After a restart, the fires from each job's last one (from the store) to the start of this
  // load (before the folder was read) were missed; the later ones are just late.
  const Scheduler::StartUp start_up{
      read.began_ms / 1000, [&](const std::string& id) -> std::optional<std::int64_t> {
        const auto it = last.find(id);
        return it == last.end() ? std::nullopt : std::optional(it->second);
      }};
  scheduler_.set_jobs(list, now, initial ? std::optional(start_up) : std::nullopt);
  const std::int64_t since = initial ? std::min(start_up.began, now) : now;
  if (auto recorded = store_->schedule_jobs(schedules, since * 1000); recorded) {
    for (const auto& j : schedules) {
      recorded_schedules_[j.job_id] = j.schedule;
    }
  } else {
    log.error("{}", recorded.error().message);
  }
  ++generation_;
  metrics_.set_jobs(ids, initial);

  report.files = files_.size();
  report.changed = changed.size();
  report.jobs = jobs_.size();
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - read.began).count();
  if (initial || report.changed > 0 || report.removed > 0) {
    log.info("{}: {} job{} from {} file{} ({} read, {} removed, {} with errors) in {:.3f}s",
             initial ? "loaded" : "reloaded", report.jobs, report.jobs == 1 ? "" : "s",
             report.files, report.files == 1 ? "" : "s", report.changed, report.removed,
             report.files_with_errors(), report.seconds);
  }
  last_reload_ = report;
  return report;
}

} // namespace jobsd
