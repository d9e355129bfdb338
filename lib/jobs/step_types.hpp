#pragma once

#include <jobs/diagnostics.hpp>
#include <jobs/keys.hpp>
#include <jobs/model.hpp>

#include <string_view>
#include <vector>

namespace jobs {

// A step type plugin: its name, its own keys (besides the common step keys) and the checks
// that the key table alone cannot express. Runners join in the execution issue.
struct StepType {
  std::string_view name;
  std::string_view description;
  std::vector<KeySpec> keys;
  void (*check)(const StepDefinition& step, Diagnostics& out) = nullptr;
};

// Every registered type, sorted by name.
const std::vector<StepType>& step_types();

// The type named `name`, or nullptr.
const StepType* find_step_type(std::string_view name);

// Warns of each ${secret.NAME} in `n`, the arguments of a program that `what` names ("argv"):
// a process's arguments are in /proc/PID/cmdline, which every local user may read.
void warn_secrets_in_argv(const Node& n, std::string_view what, Diagnostics& out);

} // namespace jobs
