#pragma once

#include <jobs/model.hpp>

#include <nlohmann/json.hpp>
#include <string>

namespace jobs {

// The job in canonical form: every key spelled out, defaults included, durations and sizes
// as text ("1h30m", "512M"), keys in the order of the key tables.
nlohmann::ordered_json to_json(const JobDefinition& job);

// A scalar of a document tree as JSON: quoted text stays a string; plain true/false become
// booleans, plain JSON numbers numbers; null stays null; maps and lists recursively.
nlohmann::ordered_json to_json(const Node& node);

// Block-style YAML for a JSON value, strings quoted only where YAML needs it.
std::string to_yaml(const nlohmann::ordered_json& value);

} // namespace jobs
