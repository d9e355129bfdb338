#pragma once

// How jobsctl shows times and reads time arguments (jobsctl(1), "Time formats"): every time shown
// carries its zone's abbreviation, in the job's zone where a job is in view, else this
// machine's, or in UTC with --utc; time arguments take the forms of tz::parse_when.

#include <tz/when.hpp>
#include <tz/zone.hpp>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace jobsctl {

// --utc: show every time in UTC. Each verb that shows times calls it from its setup.
void add_utc_flag(CLI::App& command);

// The zone times are shown in: UTC with --utc, else the zone named `job_zone` (a job's), else
// this machine's.
const tz::Zone& shown_zone(const std::string& job_zone = "");

// "2026-12-01 09:00:00 CET": a UTC instant (seconds) in shown_zone(job_zone).
std::string shown_time(std::int64_t utc, const std::string& job_zone = "");

// The same from a UTC ISO time as jobsd and the store give them; "-" for none.
std::string shown_time(const nlohmann::ordered_json& iso, const std::string& job_zone = "");

// The current time, UTC seconds.
std::int64_t now_seconds();

// "in 3h12m", "4m ago", "now": the two largest units of the distance from now.
std::string relative_time(std::int64_t seconds_from_now);

// A time argument (tz::parse_when at the current time in `zone`) as UTC seconds. Anything else
// is printed as an error naming `option` with the valid forms, and throws Exit{2}.
std::int64_t time_argument(const std::string& option, const std::string& text, const tz::Zone& zone,
                           tz::BareDuration bare = tz::BareDuration::refused);

} // namespace jobsctl
