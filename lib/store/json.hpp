#pragma once

// A stored execution as JSON, with the seeds' JobExecutionResult field names: what
// `jobsctl history --json` prints and what jobsd's history command sends; a pause as list and
// status show it.

#include <store/store.hpp>

#include <nlohmann/json.hpp>

namespace store {

// The execution object of jobsctl(1), JSON OUTPUT: its keys always, in that order. Times are
// ISO 8601 UTC with milliseconds; absent values (an empty text among them) are null; steps are
// null when the record was read without them.
nlohmann::ordered_json to_json(const ExecutionRecord& e);

// A skipped fire in the shape of an execution: status "skipped", the scheduled time, the reason
// as error_message; execution_id, the times but the scheduled one and attempt are null.
nlohmann::ordered_json to_json(const FireRecord& f);

// A job's figures (jobsctl stats --json, jobsd's stats command): job_id, runs (total and each
// execution status, zeros included), success_rate, duration_seconds (p50, p95, max),
// skipped_fires, missed_fires, last_success; absent values are null.
nlohmann::ordered_json to_json(const JobStats& s);

// A pause without its job id: since, until (null: until resumed), user, reason (null: none).
nlohmann::ordered_json to_json(const PauseRecord& p);

// "2026-11-23T18:40:01.123Z": UTC milliseconds, ISO 8601.
std::string iso_time(std::int64_t ms);

// `text`, or null when it is empty: JSON output says "none" with null, never "".
nlohmann::ordered_json text_json(const std::string& text);

// iso_time(), or null when absent.
nlohmann::ordered_json time_json(std::optional<std::int64_t> ms);

} // namespace store
