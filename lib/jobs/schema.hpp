#pragma once

#include <jobs/step_types.hpp>

#include <nlohmann/json.hpp>

namespace jobs {

// The JSON Schema (draft 2020-12) of a job file, from the same key tables that drive the
// loader; editors use it for completion (yaml-language-server: $schema=...).
nlohmann::ordered_json job_schema();

// The JSON Schema of one step of the given type.
nlohmann::ordered_json step_schema(const StepType& type);

} // namespace jobs
