// jobsctl next EXPR: the next fires of a schedule, with the DST notes of man/jobs.5.
#include "commands.hpp"
#include "job_folder.hpp"
#include "options.hpp"
#include "output.hpp"
#include "times.hpp"

#include <base/exit_codes.hpp>
#include <base/text.hpp>
#include <cron/schedule.hpp>
#include <jobs/loader.hpp>
#include <jobs/model.hpp>
#include <tz/format.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

namespace jobsctl {

namespace {

struct NextOptions {
  JobFolder folder;
  std::string expression;
  std::string zone;
  std::string from;
  std::string id;
  std::string dst_gap = "shift";
  int limit = 5;
  bool json = false;
};

int print_fires(const NextOptions& o, const std::vector<cron::Schedule>& schedules,
                const tz::Zone& z, std::optional<std::int64_t> at);

// The job the argument names, when it names one: an existing job file, or an id of the jobs
// folder. Expressions have spaces or begin with '@', so they never look like either. An id of no
// job that is close to one sets `mistyped` to what to say if it is no expression either.
std::optional<jobs::LoadedFile> find_job(const NextOptions& o, std::string& mistyped) {
  const auto& arg = o.expression;
  if (arg.empty() || arg[0] == '@' || arg.find(' ') != std::string::npos) {
    return std::nullopt;
  }
  std::error_code ec;
  if (std::filesystem::is_regular_file(arg, ec)) {
    return jobs::load_job_file(arg, o.folder.load_options());
  }
  if (!jobs::is_valid_id(arg)) {
    return std::nullopt;
  }
  auto set = o.folder.load();
  for (auto& f : set.files) {
    if (f.job && f.job->id == arg) {
      return std::move(f);
    }
  }
  if (!base::suggest(arg, job_names(set), 1).empty()) {
    mistyped = no_job(o.folder, set, arg);
  }
  return std::nullopt;
}

int run_expression(const NextOptions& o, const std::string& mistyped) {
  // As a job with this schedule and no `timezone` would run: in the daemon's default zone.
  const tz::Zone* zone = o.folder.load_options().default_zone;
  if (zone == nullptr) {
    zone = &tz::utc();
  }
  if (!o.zone.empty()) {
    auto found = tz::find_zone(o.zone);
    if (!found) {
      print_error(found.error());
      return base::exit_code::usage;
    }
    zone = *found;
  }
  cron::ParseOptions options;
  options.zone = zone;
  options.seed = o.id;
  options.dst_gap = o.dst_gap == "skip" ? cron::DstGap::skip : cron::DstGap::shift;
  auto schedule = cron::Schedule::parse(o.expression, options);
  if (!schedule && !mistyped.empty()) {
    std::cerr << "jobsctl: " << mistyped << "\n";
    return base::exit_code::usage;
  }
  if (!schedule) {
    print_error(schedule.error());
    return base::exit_code::usage;
  }

  return print_fires(o, {*schedule}, schedule->zone(), std::nullopt);
}

int run_next(const NextOptions& o) {
  std::string mistyped;
  auto file = find_job(o, mistyped);
  if (!file) {
    return run_expression(o, mistyped);
  }
  if (!file->job) {
    for (const auto& d : file->diagnostics) {
      print_finding(std::cerr, d);
    }
    return base::exit_code::usage;
  }
  if (!o.zone.empty()) {
    std::cerr << "jobsctl: --tz does not apply to a job: " << file->job->id
              << " runs in its own zone (" << file->job->zone->name() << ")\n";
    return base::exit_code::usage;
  }
  const auto& job = *file->job;
  return print_fires(o, job.schedule.compiled, *job.zone, job.schedule.at);
}

int print_fires(const NextOptions& o, const std::vector<cron::Schedule>& schedules,
                const tz::Zone& z, std::optional<std::int64_t> at) {
  const std::int64_t now = now_seconds();
  const std::int64_t from = o.from.empty() ? now : time_argument("--from", o.from, z);

  const bool reboot_only =
      !at && std::all_of(schedules.begin(), schedules.end(),
                         [](const cron::Schedule& s) { return s.is_reboot(); });
  if (reboot_only && !o.json) {
    std::cerr << "jobsctl: @reboot fires once per boot, at no fixed time\n";
  }
  const auto fires =
      jobs::next_fires(schedules, at, cron::Instant{std::chrono::seconds{from}}, o.limit);

  if (o.json) {
    auto out = nlohmann::ordered_json::array();
    for (const auto& [fire, note] : fires) {
      const auto utc = fire.time.time_since_epoch().count();
      const auto period = z.period_at(utc);
      out.push_back({{"utc", tz::format_utc(utc)},
                     {"local", tz::format_local(utc, z)},
                     {"zone", z.name()},
                     {"offset", tz::format_offset(period.offset)},
                     {"abbrev", period.abbrev},
                     {"note", note.empty() ? nlohmann::ordered_json(nullptr)
                                           : nlohmann::ordered_json(note)}});
    }
    std::cout << out.dump(2) << "\n";
    return base::exit_code::ok;
  }

  if (fires.empty()) {
    if (!reboot_only) {
      std::cerr << "jobsctl: no fire found (searched " << cron::horizon_years
                << " years ahead, up to the year 9999)\n";
    }
    return base::exit_code::ok;
  }
  if (aligned_tables()) {
    for (const auto& s : schedules) {
      std::cout << "schedule: " << s.to_string() << "  (" << z.name() << ", "
                << (s.is_interval() ? "interval" : "fixed-time") << ")\n";
    }
  }
  // In the zone, and in UTC to compare; with --utc, in UTC alone.
  const tz::Zone& shown = shown_zone(z.name());
  std::vector<std::vector<std::string>> rows;
  for (const auto& [fire, note] : fires) {
    const auto utc = fire.time.time_since_epoch().count();
    const auto period = shown.period_at(utc);
    const auto local = utc + period.offset;
    std::vector<std::string> row = {
        std::string(tz::weekday_name(local)) + " " + tz::format_civil(local) + " " +
        tz::format_offset(period.offset) + " " + std::string(period.abbrev)};
    if (&shown != &tz::utc()) {
      row.push_back(tz::format_utc(utc));
    }
    row.push_back(note);
    row.push_back(relative_time(utc - now));
    rows.push_back(std::move(row));
  }
  if (&shown == &tz::utc()) {
    print_table({"UTC", "NOTE", "IN"}, rows);
  } else {
    print_table({"LOCAL", "UTC", "NOTE", "IN"}, rows);
  }
  return base::exit_code::ok;
}

} // namespace

Run setup_next(CLI::App& command) {
  auto o = std::make_shared<NextOptions>();
  command
      .add_option("expression", o->expression,
                  "Cron expression, macro (@daily, @every 15m) with optional CRON_TZ= "
                  "prefix, or a job (its id or file)")
      ->required();
  o->folder.add_option(command);
  add_zone_option(command, o->zone,
                  "Time zone (IANA name); default the CRON_TZ= prefix, else the config's "
                  "default_timezone, else UTC");
  command.add_option("--from", o->from,
                     "Start after this time (2025-03-08T12:00Z, tomorrow 03:00, in 2h: TIME "
                     "FORMATS in jobsctl(1); clock times in the zone); default now");
  add_limit_option(command, o->limit, "How many fires to print")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  command.add_option("--id", o->id, "Job id that seeds H fields");
  command.add_option("--dst-gap", o->dst_gap, "A fixed-time fire in a DST gap: shift or skip")
      ->check(CLI::IsMember({"shift", "skip"}))
      ->capture_default_str();
  command.add_flag("--json", o->json, "Print a JSON array");
  add_utc_flag(command);
  add_tsv_flag(command);
  return [o] { return run_next(*o); };
}

} // namespace jobsctl
