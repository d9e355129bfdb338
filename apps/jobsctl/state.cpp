#include "state.hpp"

#include "daemon_config.hpp"
#include "output.hpp"
#include "times.hpp"

#include <base/exit_codes.hpp>
#include <engine/recorder.hpp>
#include <store/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>

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

namespace {

std::string store_path(const StateOption& o) {
  return engine::StateDir{o.dir(), settings().log_dir.value}.store_path();
}

} // namespace

bool StateOption::has_store() const {
  std::error_code ec;
  return std::filesystem::exists(store_path(*this), ec);
}

base::Result<std::unique_ptr<store::Store>> StateOption::open_existing() const {
  if (!has_store()) {
    base::Error e;
    e.message = "no history yet in " + dir() +
                " (jobsctl run records there; --state-dir names "
                "another folder)";
    return e;
  }
  return store::open_sqlite(store_path(*this));
}

std::optional<std::int64_t> history_time_ms(const std::string& option, const std::string& text) {
  if (text.empty()) {
    return std::nullopt;
  }
  return time_argument(option, text, shown_zone(), tz::BareDuration::ago) * 1000;
}

nlohmann::ordered_json result_json(const engine::JobResult& r, const std::string& log_path) {
  return store::to_json(engine::to_record(r, log_path));
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
