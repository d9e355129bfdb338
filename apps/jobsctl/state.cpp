#include "state.hpp"

#include "daemon_config.hpp"
#include "output.hpp"

#include <base/duration.hpp>
#include <base/exit_codes.hpp>
#include <engine/recorder.hpp>
#include <tz/format.hpp>
#include <tz/zone.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>

namespace jobsctl {

void StateOption::add_option(CLI::App& command) {
  command.add_option("--state-dir", flags().state_dir,
                     "Folder of the history store (default: JOBS_STATE_DIR, the config's "
                     "state_dir, " +
                         jobsd::default_state_dir(jobsd::Environment::of_process()) + ")");
  add_config_option(command);
}

const std::string& StateOption::dir() const {
  return settings().state_dir.value;
}

base::Result<std::unique_ptr<store::Store>> StateOption::open_existing() const {
  const engine::StateDir state{dir(), settings().log_dir.value};
  std::error_code ec;
  if (!std::filesystem::exists(state.store_path(), ec)) {
    base::Error e;
    e.message = "no history yet in " + dir() +
                " (jobsctl run records there; --state-dir names "
                "another folder)";
    return e;
  }
  return store::open_sqlite(state.store_path());
}

std::optional<std::int64_t> since_ms(const std::string& text) {
  if (text.empty()) {
    return std::nullopt;
  }
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  if (auto ago = base::parse_duration(text)) {
    return now - *ago * 1000;
  }
  auto zone = tz::find_zone(tz::host_zone_name());
  auto t = tz::parse_time(text, zone ? **zone : tz::utc());
  if (!t) {
    std::cerr << "jobsctl: --since: expected a time (2026-11-23T08:00) or a duration ago (2h, "
                 "3d), got \""
              << text << "\"\n";
    throw Exit{base::exit_code::usage};
  }
  return *t * 1000;
}

nlohmann::ordered_json result_json(const engine::JobResult& r) {
  nlohmann::ordered_json steps = nlohmann::ordered_json::array();
  for (const auto& s : r.steps) {
    steps.push_back({{"step_id", s.step_id},
                     {"step_name", s.step_name},
                     {"step_type", s.step_type},
                     {"status", engine::to_string(s.status)},
                     {"start_time", engine::iso_time(s.start)},
                     {"end_time", engine::iso_time(s.end)},
                     {"duration_seconds", s.duration_seconds()},
                     {"exit_code", s.exit_code ? nlohmann::ordered_json(*s.exit_code) : nullptr},
                     {"signal", s.signal ? nlohmann::ordered_json(*s.signal) : nullptr},
                     {"attempt", s.attempt},
                     {"output", s.output},
                     {"error_output", s.error_output},
                     {"error_message", s.error_message}});
  }
  return {{"execution_id", r.execution_id},
          {"job_id", r.job_id},
          {"job_name", r.job_name},
          {"status", engine::to_string(r.status)},
          {"timezone", r.timezone},
          {"scheduled_time", r.scheduled_time
                                 ? nlohmann::ordered_json(engine::iso_time(
                                       engine::TimePoint(std::chrono::seconds(*r.scheduled_time))))
                                 : nullptr},
          {"start_time", engine::iso_time(r.start)},
          {"end_time", engine::iso_time(r.end)},
          {"duration_seconds", r.duration_seconds()},
          {"attempt", r.attempt},
          {"trigger", r.trigger},
          {"triggered_by", r.triggered_by},
          {"host", r.host},
          {"error_message", r.error_message},
          {"steps", steps}};
}

int exit_code_of(engine::Status status) {
  switch (status) {
  case engine::Status::success:
    return base::exit_code::ok;
  case engine::Status::partial_success:
    return base::exit_code::partial_success;
  case engine::Status::timeout:
    return base::exit_code::timeout;
  case engine::Status::cancelled:
    return base::exit_code::interrupted;
  default:
    return base::exit_code::job_failed;
  }
}

void print_summary(std::ostream& out, const nlohmann::ordered_json& r) {
  std::int64_t ok = 0, failed = 0, skipped = 0, cancelled = 0, steps = 0;
  if (const auto it = r.find("steps"); it != r.end() && it->is_array()) {
    for (const auto& s : *it) {
      const std::string status = s.value("status", std::string());
      ++steps;
      ok += status == "success";
      skipped += status == "skipped";
      cancelled += status == "cancelled";
      failed += status != "success" && status != "skipped" && status != "cancelled";
    }
  }
  const auto duration = r.value("duration_seconds", nlohmann::ordered_json());
  const int attempt = r.value("attempt", 1);
  const std::string status = r.value("status", std::string("?"));
  out << Painted{status_color(status), status} << ": " << counted(steps, "step") << " (" << ok
      << " succeeded, " << failed << " failed, " << skipped << " skipped"
      << (cancelled > 0 ? ", " + std::to_string(cancelled) + " cancelled" : "") << ") in "
      << short_duration(duration.is_number() ? duration.get<double>() : 0) << ", execution "
      << r.value("execution_id", std::string())
      << (attempt > 1 ? ", attempt " + std::to_string(attempt) : "") << "\n";
}

std::string local_time(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

std::string short_duration(double seconds) {
  char text[32];
  if (seconds < 60) {
    std::snprintf(text, sizeof text, "%.2fs", seconds);
  } else if (seconds < 3600) {
    std::snprintf(text, sizeof text, "%dm%02ds", static_cast<int>(seconds) / 60,
                  static_cast<int>(seconds) % 60);
  } else {
    std::snprintf(text, sizeof text, "%dh%02dm", static_cast<int>(seconds) / 3600,
                  static_cast<int>(seconds) % 3600 / 60);
  }
  return text;
}

} // namespace jobsctl
