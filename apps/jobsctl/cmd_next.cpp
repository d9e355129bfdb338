// jobsctl next EXPR: the next fires of a schedule, with the DST notes of man/jobs.5.
#include "commands.hpp"
#include "output.hpp"

#include <base/exit_codes.hpp>
#include <cron/schedule.hpp>
#include <tz/format.hpp>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

namespace jobsctl {

namespace {

struct NextOptions {
  std::string expression;
  std::string zone;
  std::string from;
  std::string id;
  std::string dst_gap = "shift";
  int count = 5;
  bool json = false;
};

// "02:30", or "02:30:15" when the seconds matter.
std::string clock_time(std::int64_t local) {
  auto s = tz::format_civil(local).substr(11);
  return s.ends_with(":00") ? s.substr(0, 5) : s;
}

// Why DST moved or doubled this fire, or "" when it did not.
std::string dst_note(const cron::Schedule& schedule, const cron::Fire& fire) {
  const tz::Zone& zone = schedule.zone();
  const std::int64_t utc = fire.time.time_since_epoch().count();
  const std::int64_t local = zone.to_local(utc);
  if (fire.shifted_from) {
    return "DST gap: " + clock_time(*fire.shifted_from) + " shifted to " + clock_time(local);
  }
  const auto mapped = zone.to_utc(local);
  if (mapped.kind != tz::LocalKind::overlap) {
    return {};
  }
  if (!schedule.is_interval()) {
    return "DST overlap: first " + clock_time(local) + " only";
  }
  return "DST overlap: " + std::string(utc == mapped.first ? "first " : "second ") +
         clock_time(local) + " of two";
}

int run_next(const NextOptions& o) {
  const tz::Zone* zone = &tz::utc();
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
  if (!schedule) {
    print_error(schedule.error());
    return base::exit_code::usage;
  }

  std::int64_t from = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  if (!o.from.empty()) {
    auto t = tz::parse_time(o.from, schedule->zone());
    if (!t) {
      print_error(t.error());
      return base::exit_code::usage;
    }
    from = *t;
  }

  std::vector<cron::Fire> fires;
  if (schedule->is_reboot()) {
    if (!o.json) {
      std::cerr << "jobsctl: @reboot fires once per boot, at no fixed time\n";
    }
  } else {
    cron::Instant t{std::chrono::seconds{from}};
    for (int k = 0; k < o.count; ++k) {
      auto fire = schedule->next_fire(t);
      if (!fire) {
        break;
      }
      fires.push_back(*fire);
      t = fire->time;
    }
  }

  const tz::Zone& z = schedule->zone();
  if (o.json) {
    auto out = nlohmann::json::array();
    for (const auto& fire : fires) {
      const auto utc = fire.time.time_since_epoch().count();
      const auto period = z.period_at(utc);
      const auto note = dst_note(*schedule, fire);
      out.push_back({{"utc", tz::format_utc(utc)},
                     {"local", tz::format_local(utc, z)},
                     {"zone", z.name()},
                     {"offset", tz::format_offset(period.offset)},
                     {"abbrev", period.abbrev},
                     {"note", note.empty() ? nlohmann::json(nullptr) : nlohmann::json(note)}});
    }
    std::cout << out.dump(2) << "\n";
    return base::exit_code::ok;
  }

  if (fires.empty()) {
    if (!schedule->is_reboot()) {
      std::cerr << "jobsctl: no fire found (searched " << cron::horizon_years
                << " years ahead, up to the year 9999)\n";
    }
    return base::exit_code::ok;
  }
  if (stdout_is_terminal()) {
    std::cout << "schedule: " << schedule->to_string() << "  (" << z.name() << ", "
              << (schedule->is_interval() ? "interval" : "fixed-time") << ")\n";
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& fire : fires) {
    const auto utc = fire.time.time_since_epoch().count();
    const auto period = z.period_at(utc);
    const auto local = utc + period.offset;
    rows.push_back({std::string(tz::weekday_name(local)) + " " + tz::format_civil(local) + " " +
                        tz::format_offset(period.offset) + " " + std::string(period.abbrev),
                    tz::format_utc(utc), dst_note(*schedule, fire)});
  }
  print_table({"LOCAL", "UTC", "NOTE"}, rows);
  return base::exit_code::ok;
}

} // namespace

Run setup_next(CLI::App& command) {
  auto o = std::make_shared<NextOptions>();
  command
      .add_option("expression", o->expression,
                  "Cron expression, macro (@daily, @every 15m) with optional CRON_TZ= prefix")
      ->required();
  command.add_option("--tz", o->zone, "Time zone (IANA name); default UTC or the CRON_TZ= prefix");
  command.add_option("--from", o->from,
                     "Start after this time (ISO 8601: 2025-03-08T12:00Z, with an offset, or "
                     "local to the zone); default now");
  command.add_option("-n,--count", o->count, "How many fires to print")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  command.add_option("--id", o->id, "Job id that seeds H fields");
  command.add_option("--dst-gap", o->dst_gap, "A fixed-time fire in a DST gap: shift or skip")
      ->check(CLI::IsMember({"shift", "skip"}))
      ->capture_default_str();
  command.add_flag("--json", o->json, "Print a JSON array");
  return [o] { return run_next(*o); };
}

} // namespace jobsctl
