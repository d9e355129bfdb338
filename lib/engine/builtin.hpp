#pragma once

// The step types that run inside the runner rather than as a process: sql, http, webhook,
// azure_devops, file and email. Each reads its keys, resolves variables the safe way for its
// kind (bound SQL parameters, URL-encoded values in URLs, JSON-escaped values in JSON bodies,
// header values without line breaks), and reports what later steps may read as variables.

#include <engine/integrations.hpp>
#include <engine/result.hpp>
#include <exec/process.hpp>
#include <jobs/model.hpp>

#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace engine {

struct BuiltinContext {
  const jobs::JobDefinition& job;
  const jobs::StepDefinition& step;
  const Integrations& integrations;
  // The value of a variable by name ("steps.extract.row_count"), secrets included.
  std::function<std::string(const std::string&)> value;
  // Fires when the execution is cancelled and when the step's time is up.
  exec::CancelToken* cancel = nullptr;
  // A line for the step's log and output.
  std::function<void(std::string_view)> line;
};

struct BuiltinResult {
  Status status = Status::success; // success or failed; the caller tells timeouts and cancels
  std::string error_message;
  std::string output;                        // the lines logged, as the step's output
  std::map<std::string, std::string> fields; // variables for later steps: row_count, json, ...
};

// Whether steps of `type` run in-process.
bool is_builtin(std::string_view type);

// Runs one in-process step. Never throws for a failure of the step: that is the result. The
// credentials it resolves (a connection's password, a token) are replaced by *** in its lines,
// output, error and fields.
BuiltinResult run_builtin(const BuiltinContext& c);

} // namespace engine
