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

nlohmann::ordered_json text_json(const std::string& text) {
  if (text.empty()) {
    return nullptr;
  }
  return text;
}

namespace {

// Seconds between two UTC millisecond times, or null when either is absent.
nlohmann::ordered_json seconds_between(std::optional<std::int64_t> start,
                                       std::optional<std::int64_t> end) {
  if (!start || !end) {
    return nullptr;
  }
  return static_cast<double>(*end - *start) / 1000;
}

// The standard error a step printed, kept in its data by engine::to_record; null when none.
nlohmann::ordered_json error_output(const StepRecord& s) {
  const auto data = nlohmann::ordered_json::parse(s.outputs_json, nullptr, false);
  if (data.is_object() && data.contains("stderr") && data["stderr"].is_string()) {
    return text_json(data["stderr"].get<std::string>());
  }
  return nullptr;
}

} // namespace

nlohmann::ordered_json to_json(const ExecutionRecord& e) {
  nlohmann::ordered_json steps = nullptr;
  if (!e.steps.empty()) {
    steps = nlohmann::ordered_json::array();
    for (const auto& s : e.steps) {
      steps.push_back({{"step_id", s.step_id},
                       {"step_name", text_json(s.step_name)},
                       {"step_type", s.step_type},
                       {"status", s.status},
                       {"start_time", time_json(s.start_ms)},
                       {"end_time", time_json(s.end_ms)},
                       {"duration_seconds", seconds_between(s.start_ms, s.end_ms)},
                       {"exit_code", s.exit_code ? nlohmann::ordered_json(*s.exit_code) : nullptr},
                       {"signal", s.signal ? nlohmann::ordered_json(*s.signal) : nullptr},
                       {"attempt", s.attempt},
                       {"error_message", text_json(s.error_message)},
                       {"output", text_json(s.output)},
                       {"error_output", error_output(s)}});
    }
  }
  return {{"execution_id", text_json(e.execution_id)},
          {"job_id", e.job_id},
          {"job_name", text_json(e.job_name)},
          {"status", e.status},
          {"timezone", text_json(e.timezone)},
          {"scheduled_time", time_json(e.scheduled_ms)},
          {"start_time", time_json(e.start_ms)},
          {"end_time", time_json(e.end_ms)},
          {"duration_seconds", seconds_between(e.start_ms, e.end_ms)},
          {"attempt", e.attempt},
          {"trigger", e.trigger},
          {"triggered_by", text_json(e.triggered_by)},
          {"host", text_json(e.host)},
          {"error_message", text_json(e.error_message)},
          {"log_path", text_json(e.log_path)},
          {"steps", steps}};
}

nlohmann::ordered_json to_json(const FireRecord& f) {
  // An execution that never started: the fields only an execution has are null.
  ExecutionRecord e;
  e.job_id = f.job_id;
  e.status = "skipped";
  e.trigger = "schedule";
  e.scheduled_ms = f.scheduled_ms;
  e.error_message = f.reason;
  auto out = to_json(e);
  out["start_time"] = nullptr;
  out["attempt"] = nullptr;
  return out;
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
          {"reason", text_json(p.reason)}};
}

} // namespace store
