#pragma once

// Picking values out of JSON responses by a dotted path, for http step outputs and checks.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace net {

// The value at `path` ("a.b.0.c" or "a.b[0].c"; numbers index arrays, and name object keys
// too when the value is an object), or null when there is none. An empty path is `doc`.
const nlohmann::json* json_at(const nlohmann::json& doc, std::string_view path);

// A value as text: strings without quotes, everything else dumped compactly.
std::string json_text(const nlohmann::json& v);

} // namespace net
