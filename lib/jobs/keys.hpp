#pragma once

#include <string_view>
#include <vector>

namespace jobs {

// What a key holds; drives validation, `jobsctl schema` and `jobsctl new` alike.
enum class ValueType {
  string,
  boolean,
  integer,
  number,
  duration,    // 90s, 15m, 1h30m, 2d or integer seconds
  timeout,     // a duration of at least 1s, or none (no limit)
  size,        // 512K, 1M, 2G or integer bytes
  string_list, // a list of strings (a single string is accepted as a list of one)
  string_map,  // a map of names to scalars
  map,         // a map of known keys (described elsewhere)
  list,        // a list of maps (described elsewhere)
  schedule,    // a string, a list of strings, or a map
  any,
};

struct KeySpec {
  std::string_view name;
  ValueType type;
  std::string_view description;
  std::vector<std::string_view> choices = {}; // allowed values of a string key
  bool required = false;
  long long min = 0, max = 1LL << 40; // the bounds of an integer key
};

// The key of this name among `keys` (which has it).
const KeySpec& key_spec(const std::vector<KeySpec>& keys, std::string_view name);

// The keys of each level of a job file.
const std::vector<KeySpec>& job_keys();
const std::vector<KeySpec>& schedule_keys();
const std::vector<KeySpec>& retries_keys();
const std::vector<KeySpec>& limits_keys();
const std::vector<KeySpec>& notify_keys();
const std::vector<KeySpec>& step_common_keys();

} // namespace jobs
