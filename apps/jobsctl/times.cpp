#include "times.hpp"

#include "daemon_config.hpp"

#include <base/duration.hpp>
#include <base/exit_codes.hpp>
#include <tz/format.hpp>

#include <chrono>
#include <iostream>

namespace jobsctl {

namespace {

// One verb runs per process: its --utc sets this.
bool utc_flag = false;

} // namespace

void add_utc_flag(CLI::App& command) {
  command.add_flag("--utc", utc_flag,
                   "Show times in UTC (default: the job's zone, else this machine's)");
}

const tz::Zone& shown_zone(const std::string& job_zone) {
  if (utc_flag) {
    return tz::utc();
  }
  if (!job_zone.empty()) {
    if (const auto z = tz::find_zone(job_zone)) {
      return **z;
    }
  }
  const auto host = tz::find_zone(tz::host_zone_name());
  return host ? **host : tz::utc();
}

std::string shown_time(std::int64_t utc, const std::string& job_zone) {
  const auto period = shown_zone(job_zone).period_at(utc);
  return tz::format_civil(utc + period.offset) + " " + std::string(period.abbrev);
}

std::string shown_time(const nlohmann::ordered_json& iso, const std::string& job_zone) {
  const auto t = iso.is_string() ? tz::parse_time(iso.get<std::string>(), tz::utc())
                                 : base::Result<std::int64_t>(base::Error{});
  return t ? shown_time(*t, job_zone) : std::string("-");
}

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string relative_time(std::int64_t seconds_from_now) {
  if (seconds_from_now == 0) {
    return "now";
  }
  auto text = base::format_duration(seconds_from_now < 0 ? -seconds_from_now : seconds_from_now);
  size_t units = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] >= 'a' && text[i] <= 'z' && ++units == 2) {
      text.resize(i + 1);
      break;
    }
  }
  return seconds_from_now < 0 ? text + " ago" : "in " + text;
}

std::int64_t time_argument(const std::string& option, const std::string& text, const tz::Zone& zone,
                           tz::BareDuration bare) {
  auto t = tz::parse_when(text, now_seconds(), zone, bare);
  if (!t) {
    std::cerr << "jobsctl: " << option << ": " << t.error().message << "\n";
    throw Exit{base::exit_code::usage};
  }
  return *t;
}

} // namespace jobsctl
