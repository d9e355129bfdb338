#include <base/duration.hpp>
#include <base/text.hpp>
#include <jobs/canonical.hpp>
#include <jobs/keys.hpp>
#include <jobs/step_types.hpp>
#include <tz/format.hpp>

#include <algorithm>

namespace jobs {

namespace {

std::string size_text(std::int64_t bytes) {
  const std::pair<int, const char*> units[] = {{40, "T"}, {30, "G"}, {20, "M"}, {10, "K"}};
  for (auto [shift, name] : units) {
    if (bytes > 0 && bytes % (std::int64_t{1} << shift) == 0) {
      return std::to_string(bytes >> shift) + name;
    }
  }
  return std::to_string(bytes);
}

nlohmann::ordered_json retries_json(const RetryPolicy& r) {
  return {{"max", r.max},
          {"delay", base::format_duration(r.delay)},
          {"backoff", r.backoff},
          {"max_delay", base::format_duration(r.max_delay)}};
}

nlohmann::ordered_json notifications_json(const std::vector<Notification>& list) {
  auto out = nlohmann::ordered_json::array();
  for (const auto& n : list) {
    if (n.one) {
      out.push_back({{n.kind, n.targets.front()}});
    } else {
      out.push_back({{n.kind, n.targets}});
    }
  }
  return out;
}

// YAML needs quotes for text that would read as another type or holds special characters:
// an indicator first, ": " or " #" inside, a blank at either end, a control character. Text
// with '*' is quoted too, as cron expressions are by custom.
bool needs_quotes(const std::string& s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ' || s.back() == ':' ||
      std::string_view("-?:,[]{}#&*!|>'\"%@`~").find(s.front()) != std::string_view::npos ||
      s.find(": ") != std::string::npos || s.find(" #") != std::string::npos ||
      s.find('*') != std::string::npos || // cron expressions read better quoted

      std::any_of(s.begin(), s.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
    return true;
  }
  static const char* const words[] = {"true", "false", "yes", "no", "on", "off", "null",
                                      "True", "False", "Yes", "No", "On", "Off", "Null",
                                      "TRUE", "FALSE", "YES", "NO", "ON", "OFF", "NULL",
                                      "y",    "Y",     "n",   "N"};
  if (std::find(std::begin(words), std::end(words), s) != std::end(words)) {
    return true;
  }
  // Anything that parses as a number (.inf and .nan too).
  if (s.front() == '.' && (base::to_lower(s) == ".inf" || base::to_lower(s) == ".nan")) {
    return true;
  }
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end != s.c_str() && *end == '\0';
}

// Multi-line text reads best as a literal block; it can be one when YAML gives it back byte for
// byte: printable, no leading blank (it would set the indentation), at most one final newline.
bool literal_block(const std::string& s) {
  if (s.find('\n') == std::string::npos || s.front() == ' ' || s.front() == '\n' ||
      s.ends_with("\n\n")) {
    return false;
  }
  return std::all_of(s.begin(), s.end(),
                     [](char c) {
                       return c == '\n' || c == '\t' || static_cast<unsigned char>(c) >= 0x20;
                     }) &&
         s.find(" \n") == std::string::npos && !s.ends_with(" ");
}

void emit(const nlohmann::ordered_json& v, int indent, std::string& out, bool in_list_item) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  if (v.is_object()) {
    if (v.empty()) {
      out += " {}\n";
      return;
    }
    bool first = true;
    if (!in_list_item) {
      out += "\n";
    }
    for (const auto& [key, value] : v.items()) {
      out += (first && in_list_item) ? " " : pad;
      first = false;
      out += (needs_quotes(key) ? nlohmann::ordered_json(key).dump() : key) + ":";
      emit(value, indent + 2, out, false);
    }
    return;
  }
  if (v.is_array()) {
    if (v.empty()) {
      out += " []\n";
      return;
    }
    out += "\n";
    for (const auto& item : v) {
      out += pad + "-";
      emit(item, indent + 2, out, true);
    }
    return;
  }
  out += " ";
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (literal_block(s)) {
      // "|" keeps the text's final newline, "|-" means it has none.
      out += s.back() == '\n' ? "|\n" : "|-\n";
      size_t start = 0;
      while (start < s.size()) {
        const size_t end = std::min(s.find('\n', start), s.size());
        if (end > start) {
          out += pad + s.substr(start, end - start);
        }
        out += "\n";
        start = end + 1;
      }
      return;
    }
    out += needs_quotes(s) ? v.dump() : s;
  } else {
    out += v.dump();
  }
  out += "\n";
}

// A step key's value as written, booleans by their meaning: `dry_run: yes` is true, as the
// loader read it (plain yes/no/on/off would otherwise become strings, which it refuses).
nlohmann::ordered_json step_key_json(const StepType* type, const Node::Entry& e) {
  if (type != nullptr && e.value.is_scalar() && !e.value.quoted) {
    for (const auto& key : type->keys) {
      if (key.name == e.key && key.type == ValueType::boolean) {
        if (const auto b = boolean_word(e.value.scalar)) {
          return *b;
        }
      }
    }
  }
  return to_json(e.value);
}

} // namespace

nlohmann::ordered_json to_json(const Node& node) {
  switch (node.kind) {
  case Node::Kind::null:
    return nullptr;
  case Node::Kind::scalar: {
    if (node.quoted) {
      return node.scalar;
    }
    if (node.scalar == "true" || node.scalar == "false") {
      return node.scalar == "true";
    }
    if (is_json_number(node.scalar)) {
      // A number too large for a double (1e999) stays text, as the loader read it.
      auto number = nlohmann::ordered_json::parse(node.scalar, nullptr, false);
      if (!number.is_discarded()) {
        return number;
      }
    }
    return node.scalar;
  }
  case Node::Kind::sequence: {
    auto out = nlohmann::ordered_json::array();
    for (const auto& item : node.items) {
      out.push_back(to_json(item));
    }
    return out;
  }
  case Node::Kind::map: {
    auto out = nlohmann::ordered_json::object();
    for (const auto& e : node.entries) {
      out[e.key] = to_json(e.value);
    }
    return out;
  }
  }
  return nullptr;
}

nlohmann::ordered_json to_json(const JobDefinition& job) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  out["id"] = job.id;
  out["name"] = job.name;
  if (!job.description.empty()) {
    out["description"] = job.description;
  }
  out["enabled"] = job.enabled;
  out["timezone"] = job.zone ? job.zone->name() : "UTC";
  if (!job.schedule.empty()) {
    nlohmann::ordered_json s = nlohmann::ordered_json::object();
    if (!job.schedule.cron.empty()) {
      s["cron"] = job.schedule.cron;
    }
    if (job.schedule.at) {
      s["at"] = job.schedule.at_text;
    }
    if (job.schedule.jitter > 0) {
      s["jitter"] = base::format_duration(job.schedule.jitter);
    }
    s["missed"] = to_string(job.schedule.missed);
    if (job.schedule.max_lateness) {
      s["max_lateness"] = base::format_duration(*job.schedule.max_lateness);
    }
    s["dst_gap"] = job.schedule.dst_gap == cron::DstGap::skip ? "skip" : "shift";
    out["schedule"] = s;
  }
  out["concurrency"] = to_string(job.concurrency);
  out["priority"] = job.priority;
  // The limit that applies, the daemon's default_timeout included (as the zone is).
  out["timeout"] = format_timeout(job.timeout);
  out["retries"] = retries_json(job.retries);
  if (!job.working_directory.empty()) {
    out["working_directory"] = job.working_directory;
  }
  if (!job.env.empty()) {
    nlohmann::ordered_json env = nlohmann::ordered_json::object();
    for (const auto& [k, v] : job.env) {
      env[k] = v;
    }
    out["env"] = env;
  }
  if (!job.run_as.empty()) {
    out["run_as"] = job.run_as;
  }
  nlohmann::ordered_json limits = nlohmann::ordered_json::object();
  if (job.limits.memory) {
    limits["memory"] = size_text(*job.limits.memory);
  }
  if (job.limits.cpu_time) {
    limits["cpu_time"] = base::format_duration(*job.limits.cpu_time);
  }
  if (job.limits.open_files) {
    limits["open_files"] = *job.limits.open_files;
  }
  if (job.limits.processes) {
    limits["processes"] = *job.limits.processes;
  }
  if (job.limits.output) {
    limits["output"] = size_text(*job.limits.output);
  }
  if (!limits.empty()) {
    out["limits"] = limits;
  }
  if (!job.on_failure.empty() || !job.on_success.empty() || !job.on_retry.empty()) {
    nlohmann::ordered_json notify = nlohmann::ordered_json::object();
    for (const auto& [when, list] :
         {std::pair{"on_failure", &job.on_failure}, std::pair{"on_success", &job.on_success},
          std::pair{"on_retry", &job.on_retry}}) {
      if (!list->empty()) {
        notify[when] = notifications_json(*list);
      }
    }
    out["notify"] = notify;
  }
  if (!job.after.empty()) {
    out["after"] = job.after;
  }
  if (!job.metadata.is_null()) {
    out["metadata"] = to_json(job.metadata);
  }
  auto steps = nlohmann::ordered_json::array();
  for (const auto& step : job.steps) {
    nlohmann::ordered_json s = nlohmann::ordered_json::object();
    s["id"] = step.id;
    if (!step.name.empty()) {
      s["name"] = step.name;
    }
    s["type"] = step.type;
    if (step.timeout) {
      s["timeout"] = base::format_duration(*step.timeout);
    }
    if (step.retries) {
      s["retries"] = retries_json(*step.retries);
    }
    s["continue_on_failure"] = step.continue_on_failure;
    s["when"] = to_string(step.when);
    // The type's own keys and the common ones not normalised above, as written.
    const StepType* type = find_step_type(step.type);
    for (const auto& e : step.keys.entries) {
      if (!s.contains(e.key) && !e.key.starts_with("x-") && e.key != "retries") {
        s[e.key] = step_key_json(type, e);
      }
    }
    steps.push_back(s);
  }
  out["steps"] = steps;
  return out;
}

std::string to_yaml(const nlohmann::ordered_json& value) {
  std::string out;
  if (value.is_object()) {
    for (const auto& [key, v] : value.items()) {
      out += (needs_quotes(key) ? nlohmann::ordered_json(key).dump() : key) + ":";
      emit(v, 2, out, false);
    }
    return out;
  }
  emit(value, 0, out, false);
  return out.substr(1);
}

} // namespace jobs
