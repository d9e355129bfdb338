#include <store/json.hpp>

#include <cstdio>
#include <ctime>

namespace store {

std::string iso_time(std::int64_t ms) {
  const auto seconds = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms - static_cast<std::int64_t>(seconds) * 1000));
  return text;
}

nlohmann::ordered_json time_json(std::optional<std::int64_t> ms) {
  if (!ms) {
    return nullptr;
  }
  return iso_time(*ms);
}

nlohmann::ordered_json to_json(const ExecutionRecord& e) {
  nlohmann::ordered_json out = {
      {"execution_id", e.execution_id},
      {"job_id", e.job_id},
      {"job_name", e.job_name},
      {"status", e.status},
      {"timezone", e.timezone},
      {"scheduled_time", time_json(e.scheduled_ms)},
      {"start_time", time_json(e.start_ms)},
      {"end_time", time_json(e.end_ms)},
      {"duration_seconds",
       e.end_ms ? nlohmann::ordered_json(static_cast<double>(*e.end_ms - e.start_ms) / 1000)
                : nullptr},
      {"attempt", e.attempt},
      {"trigger", e.trigger},
      {"triggered_by", e.triggered_by},
      {"host", e.host},
      {"error_message", e.error_message},
      {"log_path", e.log_path}};
  if (!e.steps.empty()) {
    nlohmann::ordered_json steps = nlohmann::ordered_json::array();
    for (const auto& s : e.steps) {
      steps.push_back({{"step_id", s.step_id},
                       {"step_name", s.step_name},
                       {"step_type", s.step_type},
                       {"status", s.status},
                       {"start_time", time_json(s.start_ms)},
                       {"end_time", time_json(s.end_ms)},
                       {"exit_code", s.exit_code ? nlohmann::ordered_json(*s.exit_code) : nullptr},
                       {"attempt", s.attempt},
                       {"error_message", s.error_message}});
    }
    out["steps"] = steps;
  }
  return out;
}

nlohmann::ordered_json to_json(const FireRecord& f) {
  return {{"execution_id", nullptr},     {"job_id", f.job_id},
          {"status", "skipped"},         {"scheduled_time", iso_time(f.scheduled_ms)},
          {"start_time", nullptr},       {"end_time", nullptr},
          {"duration_seconds", nullptr}, {"trigger", "schedule"},
          {"error_message", f.reason}};
}

nlohmann::ordered_json to_json(const JobStats& s) {
  nlohmann::ordered_json runs = {{"total", s.runs}};
  // Every status, in a fixed order, so that a script finds each key.
  for (const char* status : {"success", "failed", "partial_success", "timeout", "cancelled",
                             "interrupted", "skipped", "running"}) {
    const auto it = s.by_status.find(status);
    runs[status] = it == s.by_status.end() ? 0 : it->second;
  }
  const auto seconds = [](std::optional<std::int64_t> ms) {
    return ms ? nlohmann::ordered_json(static_cast<double>(*ms) / 1000) : nullptr;
  };
  return {{"job_id", s.job_id},
          {"runs", runs},
          {"success_rate", s.success_rate ? nlohmann::ordered_json(*s.success_rate) : nullptr},
          {"duration_seconds",
           {{"p50", seconds(s.p50_ms)}, {"p95", seconds(s.p95_ms)}, {"max", seconds(s.max_ms)}}},
          {"skipped_fires", s.skipped_fires},
          {"missed_fires", s.missed_fires},
          {"last_success", time_json(s.last_success_ms)}};
}

nlohmann::ordered_json to_json(const PauseRecord& p) {
  return {{"since", iso_time(p.since_ms)},
          {"until", time_json(p.until_ms)},
          {"user", p.user},
          {"reason",
           p.reason.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(p.reason)}};
}

} // namespace store
