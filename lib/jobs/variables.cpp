#include <base/text.hpp>
#include <jobs/variables.hpp>

#include <algorithm>
#include <cctype>

namespace jobs {

namespace {

std::string upper_word(std::string_view s) {
  std::string out;
  for (char c : s) {
    out += std::isalnum(static_cast<unsigned char>(c))
               ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
               : '_';
  }
  return out;
}

bool is_name(std::string_view s) {
  return !s.empty() && !std::isdigit(static_cast<unsigned char>(s[0])) &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
         });
}

// word.word[.word...]: a variable of ours (or a misspelt one); anything else in ${...} is the
// shell's ("${HOME}", "${f%.txt}", "${#list[@]}") and stays as it is.
bool is_variable_name(std::string_view name) {
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == name.size() ||
      !is_name(name.substr(0, dot))) {
    return false;
  }
  return std::all_of(name.begin() + static_cast<std::ptrdiff_t>(dot), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

// Text between references: "$${" stands for "${".
std::string unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.substr(i, 3) == "$${") {
      ++i;
    }
    out += text[i];
  }
  return out;
}

} // namespace

const std::vector<std::string>& job_variable_names() {
  static const std::vector<std::string> names = {"job.id", "job.name", "job.description",
                                                 "job.timezone"};
  return names;
}

const std::vector<std::string>& execution_variable_names() {
  static const std::vector<std::string> names = {
      "execution.id",      "execution.scheduled_time", "execution.scheduled_date",
      "execution.trigger", "execution.attempt",        "execution.status"};
  return names;
}

const std::vector<std::string>& step_variable_fields() {
  // The first three for every step; the others as the in-process step types set them (sql:
  // row_count, affected, columns, rows, json; http: status_code, body, headers, json;
  // azure_devops: run_id, run_url, run_state, run_result; file: files, bytes, json).
  static const std::vector<std::string> fields = {
      "output",  "exit_code", "status",      "row_count", "affected", "columns",
      "rows",    "json",      "status_code", "body",      "headers",  "run_id",
      "run_url", "run_state", "run_result",  "files",     "bytes"};
  return fields;
}

std::vector<VariableRef> find_variables(std::string_view text) {
  std::vector<VariableRef> out;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text.substr(i, 3) == "$${") {
      i += 2; // a literal "${"
    } else if (text.substr(i, 2) == "${") {
      const size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos) {
        break;
      }
      const std::string_view name = text.substr(i + 2, close - i - 2);
      if (is_variable_name(name)) {
        out.push_back({i, close + 1, std::string(name)});
        i = close;
      }
    }
  }
  return out;
}

std::string check_variable(std::string_view name, const std::vector<std::string>& earlier_steps) {
  const size_t dot = name.find('.');
  const std::string_view ns = name.substr(0, dot);
  const std::string_view rest = dot == std::string_view::npos ? "" : name.substr(dot + 1);
  const std::string quoted = "\"" + std::string(name) + "\"";
  if (ns == "job" || ns == "execution") {
    const auto& names = ns == "job" ? job_variable_names() : execution_variable_names();
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      return {};
    }
    return "unknown variable " + quoted + base::did_you_mean(name, names);
  }
  if (ns == "env" || ns == "secret") {
    if (is_name(rest)) {
      return {};
    }
    return "variable " + quoted + ": expected " + std::string(ns) +
           ".NAME with a name of letters, digits and '_'";
  }
  if (ns == "steps") {
    // steps.<id>.json.<path> reads into a step's JSON.
    size_t dot2 = rest.find(".json.");
    dot2 = dot2 != std::string_view::npos ? dot2 : rest.rfind('.');
    const std::string id(rest.substr(0, dot2));
    std::string field(dot2 == std::string_view::npos ? "" : rest.substr(dot2 + 1));
    field = field.substr(0, field.find('.'));
    if (dot2 == std::string_view::npos || id.empty()) {
      return "variable " + quoted + ": expected steps.<id>.<field> (" +
             base::quoted_alternatives(step_variable_fields()) + ")";
    }
    if (std::find(earlier_steps.begin(), earlier_steps.end(), id) == earlier_steps.end()) {
      return "variable " + quoted + ": no step \"" + id + "\" runs before this one" +
             base::did_you_mean(id, earlier_steps);
    }
    const auto& fields = step_variable_fields();
    if (std::find(fields.begin(), fields.end(), field) == fields.end()) {
      return "variable " + quoted + ": a step has no \"" + field + "\" (it has " +
             base::quoted_alternatives(fields) + ")";
    }
    return {};
  }
  std::vector<std::string> all = job_variable_names();
  all.insert(all.end(), execution_variable_names().begin(), execution_variable_names().end());
  return "unknown variable " + quoted + base::did_you_mean(name, all) +
         " (variables: job.*, execution.*, steps.<id>.*, env.NAME, secret.NAME)";
}

std::string variable_env_name(std::string_view name) {
  const size_t dot = name.find('.');
  const std::string_view ns = name.substr(0, dot);
  const std::string_view rest = dot == std::string_view::npos ? "" : name.substr(dot + 1);
  if (ns == "env") {
    return std::string(rest);
  }
  if (ns == "secret") {
    return "JOBS_SECRET_" + std::string(rest);
  }
  if (ns == "steps") {
    return "STEP_" + upper_word(rest);
  }
  if (ns == "execution") {
    return rest == "id" ? "JOB_EXECUTION_ID" : "JOB_" + upper_word(rest);
  }
  return "JOB_" + upper_word(rest);
}

std::string substitute_variables(std::string_view text,
                                 const std::function<std::string(const std::string&)>& replace) {
  std::string out;
  size_t at = 0;
  for (const auto& ref : find_variables(text)) {
    out.append(unescape(text.substr(at, ref.begin - at)));
    out += replace(ref.name);
    at = ref.end;
  }
  out.append(unescape(text.substr(at)));
  return out;
}

void for_each_variable(
    const Node& n, const std::function<void(const Node& scalar, const VariableRef& ref)>& visit) {
  if (n.is_scalar()) {
    for (const auto& ref : find_variables(n.scalar)) {
      visit(n, ref);
    }
  }
  for (const auto& item : n.items) {
    for_each_variable(item, visit);
  }
  for (const auto& e : n.entries) {
    for_each_variable(e.value, visit);
  }
}

Mark place_of(const Node& scalar, const VariableRef& ref) {
  const bool one_line = scalar.scalar.find('\n') == std::string::npos;
  return one_line ? inside(scalar, static_cast<int>(ref.begin)) : scalar.mark;
}

} // namespace jobs
