#include <base/duration.hpp>
#include <base/size.hpp>
#include <base/text.hpp>
#include <jobs/keys.hpp>
#include <jobs/loader.hpp>
#include <jobs/step_types.hpp>
#include <jobs/trust.hpp>
#include <jobs/variables.hpp>
#include <tz/format.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace jobs {

namespace {

bool is_job_key(std::string_view key) {
  const auto& keys = job_keys();
  return std::any_of(keys.begin(), keys.end(), [&](const KeySpec& k) { return k.name == key; });
}

// Whether a key of a top-level map shows a job file: a job key, a user's x- key, or a typo of
// a job key.
bool shows_job_file(const std::string& key) {
  if (is_job_key(key) || key.starts_with("x-")) {
    return true;
  }
  std::vector<std::string> names;
  for (const auto& k : job_keys()) {
    names.emplace_back(k.name);
  }
  return !base::suggest(key, names, 1).empty();
}

// The text of a file that is not a job file that findings may quote: its first 80 bytes.
std::string_view head(std::string_view text) {
  return text.substr(0, 80);
}

// Whether a line before `line` of `text` sets a job key at its start ("id: ..." in YAML,
// "\"id\": ..." in JSON): the file shows itself a job file before a syntax error, whose line
// may then be quoted.
bool shows_job_key(std::string_view text, int line) {
  size_t start = 0;
  for (int i = 1; i < line && start < text.size(); ++i) {
    const size_t end = std::min(text.find('\n', start), text.size());
    auto s = text.substr(start, end - start);
    start = end + 1;
    while (!s.empty() && (s[0] == ' ' || s[0] == '\t' || s[0] == '{' || s[0] == ',')) {
      s.remove_prefix(1);
    }
    const bool quoted = s.starts_with('"');
    s.remove_prefix(quoted ? 1 : 0);
    const size_t key_end = s.find_first_of(quoted ? "\"" : ":");
    if (key_end == std::string_view::npos || !is_job_key(s.substr(0, key_end))) {
      continue;
    }
    auto rest = base::trim(s.substr(key_end + (quoted ? 1 : 0)));
    if (rest.starts_with(':') && (rest.size() == 1 || rest[1] == ' ' || rest[1] == '\t')) {
      return true;
    }
  }
  return false;
}

// What a document that is not a map is, without quoting it.
std::string kind_of(const Node& n) {
  return n.is_scalar() ? "text" : describe(n);
}

constexpr const char* link_refusal =
    "is a symbolic link, which jobsd does not follow: move or copy the file here instead";

std::string not_regular(mode_t mode) {
  return "is " + file_kind(mode) + ", not a regular file: not read";
}

std::string too_big(std::int64_t size, std::int64_t limit) {
  return "is " + std::to_string(size) + " bytes, over max_job_file_size (" +
         base::format_size(limit) + "): not read";
}

bool is_env_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Every ${...} variable in the strings of `n` names something that exists for a step after
// `earlier_steps`.
void check_variables(const Node& n, const std::vector<std::string>& earlier_steps,
                     Diagnostics& out) {
  for_each_variable(n, [&](const Node& scalar, const VariableRef& ref) {
    if (const std::string problem = check_variable(ref.name, earlier_steps); !problem.empty()) {
      out.error(place_of(scalar, ref), problem, static_cast<int>(ref.end - ref.begin));
    }
  });
}

// The word that lifts a job's time limit: `timeout: none` (quoted too: JSON has only strings).
bool is_none(const Node& n) {
  return n.is_scalar() && n.scalar == "none";
}

// What a job's timeout takes besides a duration, at the end of its errors.
constexpr std::string_view no_limit = ", or none for no limit";

// Type checks and conversions, each reporting at the value's place.
class Reader {
public:
  explicit Reader(Diagnostics& out) : out_(out) {}

  // Reports unknown keys (with a suggestion; keys beginning with "x-" are the user's) and
  // missing required ones. `what` names the level: "job", "step", "schedule".
  void check_keys(const Node& map, const std::vector<KeySpec>& specs, std::string_view what,
                  const std::vector<KeySpec>* more = nullptr) {
    std::vector<std::string> names;
    for (const auto* list : {&specs, more}) {
      if (list != nullptr) {
        for (const auto& k : *list) {
          names.emplace_back(k.name);
        }
      }
    }
    for (const auto& e : map.entries) {
      if (e.key.starts_with("x-") || std::find(names.begin(), names.end(), e.key) != names.end()) {
        continue;
      }
      std::string message = "unknown " + std::string(what) + " key \"" + e.key + "\"";
      const auto near = base::suggest(e.key, names, 1);
      if (!near.empty()) {
        message += "; did you mean " + base::quoted_alternatives(near) + "?";
      } else {
        message += " (keys beginning with x- are free for your own use)";
      }
      out_.error(e.key_mark, message, static_cast<int>(e.key.size()));
    }
    for (const auto* list : {&specs, more}) {
      if (list == nullptr) {
        continue;
      }
      for (const auto& k : *list) {
        if (k.required && map.find(k.name) == nullptr) {
          out_.error(map.mark, "missing key \"" + std::string(k.name) + "\" in " +
                                   std::string(what) + ": " + std::string(k.description));
        }
      }
    }
  }

  std::optional<std::string> string(const Node& n, std::string_view key) {
    if (!n.is_scalar()) {
      expected(n, key, "a string");
      return std::nullopt;
    }
    return n.scalar;
  }

  std::optional<std::string> choice(const Node& n, std::string_view key,
                                    const std::vector<std::string_view>& choices) {
    auto s = string(n, key);
    if (!s) {
      return std::nullopt;
    }
    if (std::find(choices.begin(), choices.end(), *s) != choices.end()) {
      return s;
    }
    std::string list;
    for (size_t i = 0; i < choices.size(); ++i) {
      list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + std::string(choices[i]);
    }
    expected(n, key, list);
    return std::nullopt;
  }

  std::optional<bool> boolean(const Node& n, std::string_view key) {
    if (n.is_scalar() && !n.quoted) {
      if (const auto b = boolean_word(n.scalar)) {
        return b;
      }
    }
    expected(n, key, "true or false");
    return std::nullopt;
  }

  // A whole number within the key's bounds.
  std::optional<long long> integer(const Node& n, const KeySpec& spec) {
    if (n.is_scalar() && !n.quoted && is_whole_number(n.scalar)) {
      size_t used = 0;
      try {
        const long long v = std::stoll(n.scalar, &used);
        if (used == n.scalar.size() && v >= spec.min && v <= spec.max) {
          return v;
        }
      } catch (const std::exception&) {
      }
    }
    expected(n, spec.name,
             "a whole number from " + std::to_string(spec.min) + " to " + std::to_string(spec.max));
    return std::nullopt;
  }

  std::optional<double> number(const Node& n, std::string_view key) {
    if (n.is_scalar() && !n.quoted && is_json_number(n.scalar)) {
      size_t used = 0;
      try {
        const double v = std::stod(n.scalar, &used);
        if (used == n.scalar.size() && std::isfinite(v)) {
          return v;
        }
      } catch (const std::exception&) {
      }
    }
    expected(n, key, "a number");
    return std::nullopt;
  }

  std::optional<std::int64_t> duration(const Node& n, std::string_view key) {
    if (!n.is_scalar()) {
      expected(n, key, "a duration such as 90s, 15m, 1h30m or 2d");
      return std::nullopt;
    }
    auto d = base::parse_duration(n.scalar);
    if (!d) {
      out_.error(inside(n, d.error().location.column - 1),
                 "\"" + std::string(key) + "\": " + d.error().message);
      return std::nullopt;
    }
    return *d;
  }

  // A time limit: a duration of at least 1s. `also` ends each error with what else the key
  // takes (", or none for no limit"), or is empty.
  std::optional<std::int64_t> limit(const Node& n, std::string_view key, std::string_view also) {
    const std::string what =
        "a duration of at least 1s such as 90s, 15m, 1h30m or 2d" + std::string(also);
    if (!n.is_scalar()) {
      expected(n, key, what);
      return std::nullopt;
    }
    auto d = base::parse_duration(n.scalar);
    if (!d) {
      out_.error(inside(n, d.error().location.column - 1),
                 "\"" + std::string(key) + "\": " + d.error().message + std::string(also));
      return std::nullopt;
    }
    if (*d == 0) {
      expected(n, key, what);
      return std::nullopt;
    }
    return *d;
  }

  std::optional<std::int64_t> size(const Node& n, std::string_view key) {
    if (n.is_scalar() && !n.scalar.empty()) {
      std::int64_t v = 0;
      size_t i = 0;
      for (; i < n.scalar.size() && n.scalar[i] >= '0' && n.scalar[i] <= '9' && v < (1LL << 50);
           ++i) {
        v = v * 10 + (n.scalar[i] - '0');
      }
      const std::string unit = base::to_lower(n.scalar.substr(i));
      const std::pair<const char*, int> units[] = {{"", 0},   {"b", 0},   {"k", 10}, {"kb", 10},
                                                   {"m", 20}, {"mb", 20}, {"g", 30}, {"gb", 30},
                                                   {"t", 40}, {"tb", 40}};
      for (auto [name, shift] : units) {
        if (i > 0 && unit == name && v < (1LL << (62 - shift))) {
          return v << shift;
        }
      }
    }
    expected(n, key, "a size such as 512K, 1M or 2G (or bytes)");
    return std::nullopt;
  }

  // A list of strings; a single string counts as a list of one.
  std::optional<std::vector<std::string>> string_list(const Node& n, std::string_view key,
                                                      std::vector<Mark>* marks = nullptr) {
    std::vector<std::string> out;
    if (n.is_scalar()) {
      if (marks) {
        marks->push_back(n.mark);
      }
      return std::vector<std::string>{n.scalar};
    }
    if (!n.is_sequence()) {
      expected(n, key, "a string or a list of strings");
      return std::nullopt;
    }
    bool ok = true;
    for (const auto& item : n.items) {
      if (auto s = string(item, key)) {
        out.push_back(*s);
        if (marks) {
          marks->push_back(item.mark);
        }
      } else {
        ok = false;
      }
    }
    return ok ? std::optional(out) : std::nullopt;
  }

  // A map of names to scalars (env, parameters).
  std::optional<std::vector<std::pair<std::string, std::string>>>
  string_map(const Node& n, std::string_view key, bool env_names) {
    if (!n.is_map()) {
      expected(n, key, "a map of names to values");
      return std::nullopt;
    }
    std::vector<std::pair<std::string, std::string>> out;
    bool ok = true;
    for (const auto& e : n.entries) {
      if (env_names && !is_env_name(e.key)) {
        out_.error(e.key_mark,
                   "\"" + std::string(key) + "\": \"" + e.key +
                       "\" is not a valid variable name (letters, digits and _, not first a digit)",
                   static_cast<int>(e.key.size()));
        ok = false;
        continue;
      }
      if (e.value.is_null()) {
        out.emplace_back(e.key, "");
      } else if (e.value.is_scalar()) {
        out.emplace_back(e.key, e.value.scalar);
      } else {
        expected(e.value, e.key, "a string, number or boolean");
        ok = false;
      }
    }
    return ok ? std::optional(out) : std::nullopt;
  }

  // Checks a value against a key's declared type; returns whether it is valid.
  bool check_value(const Node& n, const KeySpec& spec) {
    switch (spec.type) {
    case ValueType::string:
      return spec.choices.empty() ? string(n, spec.name).has_value()
                                  : choice(n, spec.name, spec.choices).has_value();
    case ValueType::boolean:
      return boolean(n, spec.name).has_value();
    case ValueType::integer:
      return integer(n, spec).has_value();
    case ValueType::number:
      return number(n, spec.name).has_value();
    case ValueType::duration:
      return duration(n, spec.name).has_value();
    case ValueType::timeout:
      return is_none(n) || limit(n, spec.name, no_limit).has_value();
    case ValueType::size:
      return size(n, spec.name).has_value();
    case ValueType::string_list:
      return string_list(n, spec.name).has_value();
    case ValueType::string_map:
      return string_map(n, spec.name, spec.name == "env").has_value();
    case ValueType::map:
      if (!n.is_map()) {
        expected(n, spec.name, "a map");
        return false;
      }
      return true;
    case ValueType::list:
      if (!n.is_sequence()) {
        expected(n, spec.name, "a list");
        return false;
      }
      return true;
    case ValueType::schedule:
    case ValueType::any:
      return true;
    }
    return true;
  }

  void expected(const Node& n, std::string_view key, const std::string& what) {
    out_.error(n.mark, "\"" + std::string(key) + "\": expected " + what + ", got " + describe(n));
  }

  Diagnostics& out() { return out_; }

private:
  Diagnostics& out_;
};

// Whether `s` holds a credential in a well-known format: GitHub, Slack and AWS tokens,
// private keys, JWTs. Plain scans: this runs on every value of every file.
bool looks_like_credential(std::string_view s) {
  const auto run = [&](size_t from, auto accepts) {
    size_t n = 0;
    while (from + n < s.size() && accepts(s[from + n])) {
      ++n;
    }
    return n;
  };
  const auto token_char = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  };
  const auto jwt_char = [&](char c) { return token_char(c) || c == '-'; };
  const auto upper_or_digit = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  for (std::string_view prefix : {"ghp_", "gho_", "ghs_", "ghu_", "github_pat_"}) {
    for (auto at = s.find(prefix); at != std::string_view::npos; at = s.find(prefix, at + 1)) {
      if (run(at + prefix.size(), token_char) >= 20) {
        return true;
      }
    }
  }
  for (auto at = s.find("xox"); at != std::string_view::npos; at = s.find("xox", at + 1)) {
    if (at + 4 < s.size() && std::string_view("abprs").find(s[at + 3]) != std::string_view::npos &&
        s[at + 4] == '-' && run(at + 5, jwt_char) >= 10) {
      return true;
    }
  }
  for (auto at = s.find("AKIA"); at != std::string_view::npos; at = s.find("AKIA", at + 1)) {
    if (run(at + 4, upper_or_digit) >= 16) {
      return true;
    }
  }
  for (auto at = s.find("-----BEGIN "); at != std::string_view::npos;
       at = s.find("-----BEGIN ", at + 1)) {
    const auto end = s.find("-----", at + 11);
    if (end != std::string_view::npos && s.substr(at, end - at).ends_with("PRIVATE KEY")) {
      return true;
    }
  }
  for (auto at = s.find("eyJ"); at != std::string_view::npos; at = s.find("eyJ", at + 1)) {
    const size_t header = run(at, jwt_char);
    const size_t body = at + header + 1;
    if (header >= 13 && body < s.size() && s[body - 1] == '.' &&
        s.substr(body).starts_with("eyJ")) {
      const size_t payload = run(body, jwt_char);
      if (payload >= 13 && body + payload < s.size() && s[body + payload] == '.' &&
          run(body + payload + 1, jwt_char) >= 10) {
        return true;
      }
    }
  }
  return false;
}

// Secrets do not belong in job files: a key named like a credential with a literal value, or
// a value that looks like a known token format.
void check_secrets(const Node& n, Diagnostics& out) {
  static const std::set<std::string> secret_keys = {
      "password",      "passwd",     "secret",       "token",        "api_key",
      "apikey",        "access_key", "secret_key",   "private_key",  "pat",
      "client_secret", "auth_token", "access_token", "refresh_token"};
  const auto literal = [](const Node& v) {
    return v.is_scalar() && !v.scalar.empty() && v.scalar.find("${") == std::string::npos;
  };
  if (n.is_map()) {
    for (const auto& e : n.entries) {
      if (secret_keys.count(base::to_lower(e.key)) && literal(e.value)) {
        out.error(e.value.mark, "inline secret in \"" + e.key +
                                    "\": keep it out of job files and write ${secret.NAME}");
        continue;
      }
      check_secrets(e.value, out);
    }
  } else if (n.is_sequence()) {
    for (const auto& item : n.items) {
      check_secrets(item, out);
    }
  } else if (n.is_scalar() && looks_like_credential(n.scalar)) {
    out.error(n.mark, "this value looks like a credential (a token or private key): keep it "
                      "out of job files and write ${secret.NAME}");
  }
}

void read_retries(Reader& r, const Node& n, RetryPolicy& out) {
  r.check_keys(n, retries_keys(), "retries");
  if (const Node* v = n.find("max")) {
    if (auto x = r.integer(*v, key_spec(retries_keys(), "max"))) {
      out.max = static_cast<int>(*x);
    }
  }
  if (const Node* v = n.find("delay")) {
    out.delay = r.duration(*v, "delay").value_or(out.delay);
  }
  if (const Node* v = n.find("backoff")) {
    if (auto x = r.number(*v, "backoff")) {
      if (*x < 1.0 || *x > 100.0) {
        r.expected(*v, "backoff", "a number from 1 to 100");
      } else {
        out.backoff = *x;
      }
    }
  }
  if (const Node* v = n.find("max_delay")) {
    out.max_delay = r.duration(*v, "max_delay").value_or(out.max_delay);
  }
}

// The job's time limit: its `timeout` (a duration, or none), else the daemon's default_timeout.
void read_timeout(Reader& r, const Node& root, const LoadOptions& options, JobDefinition& job) {
  const Node* v = root.find("timeout");
  if (v == nullptr) {
    job.timeout = options.default_timeout;
    job.timeout_from = TimeoutFrom::default_timeout;
    return;
  }
  job.timeout_mark = v->mark;
  if (!is_none(*v)) {
    job.timeout = r.limit(*v, "timeout", no_limit);
  }
}

void read_schedule(Reader& r, const Node& n, JobDefinition& job) {
  ScheduleSpec& s = job.schedule;
  std::vector<const Node*> expressions;
  if (n.is_scalar()) {
    expressions.push_back(&n);
  } else if (n.is_sequence()) {
    for (const auto& item : n.items) {
      if (item.is_scalar()) {
        expressions.push_back(&item);
      } else {
        r.expected(item, "schedule", "a cron expression");
      }
    }
  } else if (n.is_map()) {
    r.check_keys(n, schedule_keys(), "schedule");
    const char* kinds[] = {"cron", "every", "at"};
    int given = 0;
    for (const char* k : kinds) {
      given += n.find(k) != nullptr;
    }
    if (given != 1) {
      r.out().error(n.mark, "a schedule map needs exactly one of \"cron\", \"every\" and \"at\"");
    }
    if (const Node* v = n.find("cron")) {
      if (v->is_scalar()) {
        expressions.push_back(v);
      } else if (v->is_sequence()) {
        for (const auto& item : v->items) {
          if (item.is_scalar()) {
            expressions.push_back(&item);
          } else {
            r.expected(item, "cron", "a cron expression");
          }
        }
      } else {
        r.expected(*v, "cron", "a cron expression or a list of them");
      }
    }
    if (const Node* v = n.find("every")) {
      if (auto d = r.duration(*v, "every")) {
        if (*d < 1) {
          r.expected(*v, "every", "a duration of at least 1s");
        } else {
          s.cron.push_back("@every " + base::format_duration(*d));
        }
      }
    }
    if (const Node* v = n.find("jitter")) {
      s.jitter = r.duration(*v, "jitter").value_or(0);
    }
    if (const Node* v = n.find("missed")) {
      if (auto m = r.choice(*v, "missed", {"skip", "once", "all"})) {
        s.missed = *m == "skip" ? Missed::skip : *m == "all" ? Missed::all : Missed::once;
      }
    }
    if (const Node* v = n.find("max_lateness")) {
      s.max_lateness = r.duration(*v, "max_lateness");
    }
    if (const Node* v = n.find("dst_gap")) {
      if (auto g = r.choice(*v, "dst_gap", {"shift", "skip"})) {
        s.dst_gap = *g == "skip" ? cron::DstGap::skip : cron::DstGap::shift;
      }
    }
    if (const Node* v = n.find("at")) {
      if (auto text = r.string(*v, "at")) {
        auto t = tz::parse_time(*text, job.zone ? *job.zone : tz::utc());
        if (!t) {
          r.out().error(inside(*v, t.error().location.column - 1), "\"at\": " + t.error().message);
        } else {
          s.at = *t;
          s.at_text = *text;
        }
      }
    }
  } else if (!n.is_null()) {
    r.expected(n, "schedule", "a cron expression, a list of them, or a map");
  }

  for (const Node* e : expressions) {
    s.cron.push_back(e->scalar);
  }
  // Compile every expression with the job's zone and its id as the H seed.
  cron::ParseOptions options;
  options.zone = job.zone;
  options.seed = job.id;
  options.dst_gap = s.dst_gap;
  const size_t from_expressions = s.cron.size() - expressions.size();
  for (size_t i = 0; i < s.cron.size(); ++i) {
    auto compiled = cron::Schedule::parse(s.cron[i], options);
    if (compiled) {
      s.compiled.push_back(*compiled);
      continue;
    }
    const Node* at = i >= from_expressions ? expressions[i - from_expressions] : n.find("every");
    const auto& err = compiled.error();
    const bool one_line = at->scalar.find('\n') == std::string::npos;
    r.out().error(one_line ? inside(*at, err.location.column - 1) : at->mark,
                  "schedule: " + err.message, err.length);
  }
}

// A list of {email: ADDRESS or [ADDRESS, ...]}, {webhook: URL}, {command: LINE or [ARGV]}.
// Their text may hold ${secret.*}, ${env.*}, ${job.*} and ${execution.*}.
void read_notifications(Reader& r, const Node& n, std::string_view key,
                        std::vector<Notification>& out) {
  if (!n.is_sequence()) {
    r.expected(n, key, "a list of {email: ...}, {webhook: ...} or {command: ...}");
    return;
  }
  for (const auto& item : n.items) {
    static const std::vector<std::string> kinds = {"email", "webhook", "command"};
    if (!item.is_map() || item.entries.size() != 1 ||
        std::find(kinds.begin(), kinds.end(), item.entries[0].key) == kinds.end()) {
      r.expected(item, key, "{email: ADDRESS}, {webhook: URL} or {command: COMMAND}");
      continue;
    }
    const std::string& kind = item.entries[0].key;
    const Mark& mark = item.entries[0].key_mark;
    const Node& value = item.entries[0].value;
    Notification note{kind, {}, value.is_scalar(), mark};
    if (auto list = r.string_list(value, kind)) {
      note.targets = *list;
    } else {
      continue;
    }
    check_variables(value, {}, r.out());
    const auto bad = [&](const std::string& message) { r.out().error(value.mark, message); };
    if (kind == "command" && value.is_scalar() && !find_variables(value.scalar).empty()) {
      // A value spliced into a command line would be code: the list form, or JOB_* variables.
      bad("\"command\": a command line cannot hold ${...} (a value would become shell code); "
          "write it as a list [program, args...] or read $JOB_ID, $JOB_STATUS, ... and the JSON "
          "on standard input");
      continue;
    }
    if (kind == "command") {
      warn_secrets_in_argv(value, "command", r.out());
    }
    if (note.targets.empty() || note.targets.front().empty()) {
      bad("\"" + kind + "\": expected " +
          (kind == "email"     ? "an address"
           : kind == "webhook" ? "a URL"
                               : "a command"));
      continue;
    }
    if (kind == "webhook") {
      const std::string& url = note.targets.front();
      if (!value.is_scalar()) {
        bad("\"webhook\": expected one URL, got a list");
        continue;
      }
      if (!url.starts_with("http://") && !url.starts_with("https://") && !url.starts_with("${")) {
        bad("\"webhook\": expected an http:// or https:// URL, got \"" + url + "\"");
        continue;
      }
    }
    if (kind == "email") {
      const auto invalid = std::find_if(note.targets.begin(), note.targets.end(), [](auto& a) {
        return !a.starts_with("${") && (a.find('@') == std::string::npos ||
                                        a.find_first_of(" \t\r\n,<>") != std::string::npos);
      });
      if (invalid != note.targets.end()) {
        bad("\"email\": expected an address such as ops@example.com, got \"" + *invalid + "\"");
        continue;
      }
    }
    out.push_back(std::move(note));
  }
}

void read_step(Reader& r, const Node& n, size_t index, JobDefinition& job) {
  if (!n.is_map()) {
    r.expected(n, "steps", "a map with type and the type's keys");
    return;
  }
  StepDefinition step;
  step.mark = n.mark;
  step.keys = n;
  step.id = "step-" + std::to_string(index + 1);
  const StepType* type = nullptr;
  if (const Node* v = n.find("type")) {
    if (auto name = r.string(*v, "type")) {
      step.type = *name;
      type = find_step_type(*name);
      if (type == nullptr) {
        std::vector<std::string> names;
        std::string list;
        for (const auto& t : step_types()) {
          names.emplace_back(t.name);
          list += (list.empty() ? "" : ", ") + std::string(t.name);
        }
        const auto near = base::suggest(*name, names, 1);
        r.out().error(
            v->mark,
            "unknown step type \"" + *name + "\"" +
                (near.empty() ? "" : "; did you mean " + base::quoted_alternatives(near) + "?") +
                " (known types: " + list + ")",
            static_cast<int>(name->size()));
      }
    }
  }
  // With an unknown type its keys cannot be judged: the type error alone says what is wrong.
  if (type != nullptr || step.type.empty()) {
    r.check_keys(n, step_common_keys(), "step", type ? &type->keys : nullptr);
  }
  if (const Node* v = n.find("id")) {
    if (auto id = r.string(*v, "id")) {
      if (!is_valid_id(*id)) {
        r.expected(*v, "id", "an id of letters, digits, '_', '.' and '-' (not first)");
      }
      step.id = *id;
    }
  }
  for (const auto& other : job.steps) {
    if (other.id == step.id) {
      const Node* v = n.find("id");
      r.out().error(v ? v->mark : n.mark, "duplicate step id \"" + step.id + "\" (first at line " +
                                              std::to_string(other.mark.line) + ")");
    }
  }
  if (const Node* v = n.find("name")) {
    step.name = r.string(*v, "name").value_or("");
  }
  if (const Node* v = n.find("timeout")) {
    if (is_none(*v)) {
      r.out().error(v->mark,
                    "\"timeout\": a step's timeout is a duration such as 90s or 15m; "
                    "none lifts only the job's timeout, which bounds every step: write "
                    "it on the job",
                    4);
    } else {
      step.timeout = r.limit(*v, "timeout", "");
    }
  }
  if (const Node* v = n.find("retries")) {
    if (v->is_map()) {
      step.retries.emplace();
      read_retries(r, *v, *step.retries);
    } else {
      r.expected(*v, "retries", "a map with max, delay, backoff, max_delay");
    }
  }
  if (const Node* v = n.find("continue_on_failure")) {
    step.continue_on_failure = r.boolean(*v, "continue_on_failure").value_or(false);
  }
  if (const Node* v = n.find("when")) {
    if (auto w = r.choice(*v, "when", {"on_success", "on_failure", "always"})) {
      step.when = *w == "always"       ? When::always
                  : *w == "on_failure" ? When::on_failure
                                       : When::on_success;
    }
  }
  for (const auto& spec : step_common_keys()) {
    if (spec.name == "working_directory" || spec.name == "env") {
      if (const Node* v = n.find(spec.name)) {
        r.check_value(*v, spec);
      }
    }
  }
  if (type != nullptr) {
    for (const auto& spec : type->keys) {
      if (const Node* v = n.find(spec.name)) {
        r.check_value(*v, spec);
      }
    }
    if (type->check) {
      type->check(step, r.out());
    }
  }
  std::vector<std::string> earlier;
  for (const auto& other : job.steps) {
    earlier.push_back(other.id);
  }
  for (const auto& e : n.entries) {
    if (e.key != "id" && e.key != "name" && e.key != "type") {
      check_variables(e.value, earlier, r.out());
    }
  }
  // An http step's query names take variables as its values do.
  if (const Node* query = n.find("query"); step.type == "http" && query != nullptr) {
    for (const auto& e : query->entries) {
      Node name;
      name.kind = Node::Kind::scalar;
      name.mark = e.key_mark;
      name.scalar = e.key;
      check_variables(name, earlier, r.out());
    }
  }
  job.steps.push_back(std::move(step));
}

std::string file_stem(const std::string& path) {
  const auto slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const auto dot = name.find_last_of('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

} // namespace

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > 200) {
    return false;
  }
  const auto word = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  };
  if (!word(id[0])) {
    return false;
  }
  return std::all_of(id.begin(), id.end(),
                     [&](char c) { return word(c) || c == '_' || c == '.' || c == '-'; });
}

bool LoadedFile::has_errors() const {
  return std::any_of(diagnostics.begin(), diagnostics.end(),
                     [](const Diagnostic& d) { return d.severity == Severity::error; });
}

LoadedFile load_job_text(const std::string& path, std::string_view text,
                         const LoadOptions& options) {
  LoadedFile result;
  result.path = path;
  Diagnostics out(path, text);
  const bool json = path.ends_with(".json");
  auto doc = json ? parse_json(text, path) : parse_yaml(text, path);
  if (!doc) {
    auto e = doc.error();
    if (!shows_job_key(text, e.location.line)) {
      e.source_line = source_line(head(text), e.location.line);
      if (e.location.column > static_cast<int>(e.source_line.size()) + 1) {
        e.source_line.clear(); // the place is past the head: a caret under nothing
      }
    }
    out.add(std::move(e));
    result.diagnostics = std::move(out.items());
    return result;
  }
  const Node& root = *doc;
  const bool job_map =
      root.is_map() && std::any_of(root.entries.begin(), root.entries.end(),
                                   [](const Node::Entry& e) { return shows_job_file(e.key); });
  if (!job_map) {
    // Not a job file: its text is not quoted past its head (it may be anything, a secret too).
    Diagnostics head_only(path, head(text));
    head_only.error({1, 1}, "not a job file: a job file holds one map of keys (id, name, "
                            "schedule, steps, ...), this holds " +
                                (root.is_map() ? std::string("none of them") : kind_of(root)));
    result.diagnostics = std::move(head_only.items());
    return result;
  }

  Reader r(out);
  JobDefinition job;
  job.path = path;
  job.format = json ? FileFormat::json : FileFormat::yaml;
  r.check_keys(root, job_keys(), "job");

  if (const Node* v = root.find("id")) {
    job.id_mark = v->mark;
    if (auto id = r.string(*v, "id")) {
      job.id = *id;
      if (!is_valid_id(job.id)) {
        r.expected(*v, "id", "an id of letters, digits, '_', '.' and '-' (not first)");
      }
    }
  } else {
    job.id = file_stem(path);
    if (!is_valid_id(job.id)) {
      out.error({1, 1}, "the file name \"" + job.id +
                            "\" is not a valid job id (letters, digits, '_', '.' and '-', not "
                            "first); rename the file or add an id key");
    }
  }
  job.name = job.id;
  if (const Node* v = root.find("name")) {
    job.name = r.string(*v, "name").value_or(job.id);
  }
  if (const Node* v = root.find("description")) {
    job.description = r.string(*v, "description").value_or("");
  }
  if (const Node* v = root.find("enabled")) {
    job.enabled = r.boolean(*v, "enabled").value_or(true);
  }
  job.zone = options.default_zone ? options.default_zone : &tz::utc();
  if (const Node* v = root.find("timezone")) {
    if (auto name = r.string(*v, "timezone")) {
      auto zone = tz::find_zone(*name);
      if (zone) {
        job.zone = *zone;
        job.timezone = *name;
      } else {
        out.error(inside(*v, 0), "\"timezone\": " + zone.error().message,
                  static_cast<int>(name->size()));
      }
    }
  }
  if (const Node* v = root.find("schedule")) {
    read_schedule(r, *v, job);
  }
  if (const Node* v = root.find("concurrency")) {
    if (auto c = r.choice(*v, "concurrency", {"allow", "forbid", "replace"})) {
      job.concurrency = *c == "allow"     ? Concurrency::allow
                        : *c == "replace" ? Concurrency::replace
                                          : Concurrency::forbid;
    }
  }
  // The catch-ups of missed: all start together; only allow lets them all run. (A one-off has
  // one fire to catch up.)
  if (job.schedule.missed == Missed::all && !job.schedule.at &&
      job.concurrency != Concurrency::allow) {
    const Node* missed = root.find("schedule")->find("missed");
    const bool forbid = job.concurrency == Concurrency::forbid;
    out.warning(missed->mark,
                std::string("\"missed: all\" with concurrency ") + (forbid ? "forbid" : "replace") +
                    (root.find("concurrency") ? "" : " (the default)") + ": " +
                    (forbid ? "the first catch-up runs and the others are skipped while it does"
                            : "each catch-up replaces the one before, so only the last runs") +
                    "; set concurrency: allow to run them all");
  }
  if (const Node* v = root.find("priority")) {
    job.priority = static_cast<int>(r.integer(*v, key_spec(job_keys(), "priority")).value_or(50));
  }
  read_timeout(r, root, options, job);
  if (const Node* v = root.find("retries")) {
    if (v->is_map()) {
      read_retries(r, *v, job.retries);
    } else {
      r.expected(*v, "retries", "a map with max, delay, backoff, max_delay");
    }
  }
  if (const Node* v = root.find("working_directory")) {
    check_variables(*v, {}, out);
    job.working_directory = r.string(*v, "working_directory").value_or("");
  }
  if (const Node* v = root.find("env")) {
    check_variables(*v, {}, out);
    job.env = r.string_map(*v, "env", true).value_or(decltype(job.env){});
  }
  const Node* run_as = root.find("run_as");
  if (run_as != nullptr) {
    job.run_as = r.string(*run_as, "run_as").value_or("");
    if (!job.run_as.empty() && !account_exists(job.run_as)) {
      out.error(inside(*run_as, 0),
                "\"run_as\": there is no account \"" + job.run_as + "\" on this system",
                static_cast<int>(job.run_as.size()));
    } else if (!options.daemon_is_root && !job.run_as.empty()) {
      out.warning(run_as->mark, "\"run_as\": only a daemon running as root can switch users; the "
                                "job will fail to start here");
    }
  }
  // Under root, a file of user U runs as U: U could not make root run anything else.
  const bool owner_implied = options.daemon_is_root && options.owner && *options.owner != 0;
  if (owner_implied) {
    const auto owner = account_of(*options.owner);
    if (!owner) {
      out.error({1, 1}, "refused: the file's owner, uid " + std::to_string(*options.owner) +
                            ", has no account to run its jobs as; chown it to a user");
      result.untrusted = true;
    } else if (run_as != nullptr && !job.run_as.empty() && job.run_as != *owner) {
      out.error(inside(*run_as, 0),
                "\"run_as\": refused: a file owned by " + *owner + " runs as " + *owner +
                    " only; only a file owned by root may name another user",
                static_cast<int>(job.run_as.size()));
      result.untrusted = true;
    }
    job.run_as = owner.value_or("");
  }
  if (const Node* v = root.find("limits")) {
    if (v->is_map()) {
      r.check_keys(*v, limits_keys(), "limits");
      if (const Node* x = v->find("memory")) {
        job.limits.memory = r.size(*x, "memory");
      }
      if (const Node* x = v->find("cpu_time")) {
        job.limits.cpu_time = r.duration(*x, "cpu_time");
      }
      if (const Node* x = v->find("open_files")) {
        job.limits.open_files = r.integer(*x, key_spec(limits_keys(), "open_files"));
      }
      if (const Node* x = v->find("processes")) {
        job.limits.processes = r.integer(*x, key_spec(limits_keys(), "processes"));
        // Linux does not hold root to RLIMIT_NPROC (CAP_SYS_RESOURCE): a limit that would
        // silently do nothing is said.
        const bool as_root = job.run_as == "root" || (job.run_as.empty() && options.daemon_is_root);
        if (job.limits.processes && as_root) {
          out.warning(x->mark, "\"processes\": the steps run as root, whom Linux does not hold to "
                               "this limit; set run_as to another user");
        }
      }
      if (const Node* x = v->find("output")) {
        job.limits.output = r.size(*x, "output");
      }
    } else {
      r.expected(*v, "limits", "a map with memory, cpu_time, open_files, processes, output");
    }
  }
  if (const Node* v = root.find("notify")) {
    if (v->is_map()) {
      r.check_keys(*v, notify_keys(), "notify");
      if (const Node* x = v->find("on_failure")) {
        read_notifications(r, *x, "on_failure", job.on_failure);
      }
      if (const Node* x = v->find("on_success")) {
        read_notifications(r, *x, "on_success", job.on_success);
      }
      if (const Node* x = v->find("on_retry")) {
        read_notifications(r, *x, "on_retry", job.on_retry);
      }
    } else {
      r.expected(*v, "notify", "a map with on_failure, on_success and on_retry");
    }
  }
  if (const Node* v = root.find("after")) {
    job.after = r.string_list(*v, "after", &job.after_marks).value_or(std::vector<std::string>{});
  }
  if (const Node* v = root.find("metadata")) {
    job.metadata = *v;
  }

  const Node* command = root.find("command");
  const Node* steps = root.find("steps");
  if (command != nullptr && steps != nullptr) {
    out.error(command->mark,
              "a job has either \"command\" (one shell step) or \"steps\", not both");
  } else if (command != nullptr) {
    if (auto run = r.string(*command, "command")) {
      // The single-step form: one shell step running the command.
      Node step;
      step.kind = Node::Kind::map;
      step.mark = command->mark;
      Node type;
      type.kind = Node::Kind::scalar;
      type.mark = command->mark;
      type.scalar = "shell";
      step.entries.push_back({"type", command->mark, type});
      step.entries.push_back({"run", command->mark, *command});
      read_step(r, step, 0, job);
      job.steps.back().id = "main";
    }
  } else if (steps != nullptr) {
    if (!steps->is_sequence() || steps->items.empty()) {
      r.expected(*steps, "steps", "a list of one or more steps");
    } else {
      for (size_t i = 0; i < steps->items.size(); ++i) {
        read_step(r, steps->items[i], i, job);
      }
    }
  } else {
    out.error(root.mark.line > 0 ? root.mark : Mark{1, 1},
              "a job needs \"steps\" (or \"command\" for a single shell command)");
  }

  // The steps that read and write files run inside the runner, as its user: run_as cannot
  // apply to them.
  if (!job.run_as.empty()) {
    for (const auto& step : job.steps) {
      static const std::set<std::string> in_runner = {"file", "backup", "data_export", "report"};
      if (in_runner.count(step.type)) {
        const Node* type = step.keys.find("type");
        out.error(type != nullptr ? type->mark : step.mark,
                  "a " + step.type + " step runs inside jobsd as its user, not as " +
                      (owner_implied ? "the file's owner \"" + job.run_as +
                                           "\", whom its jobs run as: use a shell or command "
                                           "step, or a file owned by root"
                                     : "run_as \"" + job.run_as +
                                           "\": use a shell or command step, or a job without "
                                           "run_as"));
      }
    }
  }
  check_secrets(root, out);

  result.diagnostics = std::move(out.items());
  if (!result.has_errors()) {
    result.job = std::move(job);
  }
  return result;
}

base::Result<std::string> read_job_file(const std::string& path, std::int64_t max_size,
                                        uid_t* owner) {
  const auto refuse = [&](std::string message) {
    base::Error e;
    e.message = std::move(message);
    e.location.path = path;
    return e;
  };
  // Looked at before it is opened: opening a device can act (a tape rewinds), and a link could
  // lead anywhere root can read.
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    return refuse(std::string("cannot read the file: ") + std::strerror(errno));
  }
  if (S_ISLNK(st.st_mode)) {
    return refuse(link_refusal);
  }
  if (!S_ISREG(st.st_mode)) {
    return refuse(not_regular(st.st_mode));
  }
  // O_NOFOLLOW and O_NONBLOCK: if it became a link or a FIFO since, it is refused unread.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return refuse(errno == ELOOP ? std::string(link_refusal)
                                 : std::string("cannot read the file: ") + std::strerror(errno));
  }
  std::string text;
  std::string problem;
  if (::fstat(fd, &st) != 0) {
    problem = std::string("cannot read the file: ") + std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    problem = not_regular(st.st_mode);
  } else if (st.st_size > max_size) {
    problem = too_big(st.st_size, max_size);
  } else {
    // Bounded even if the file grows after fstat.
    text.resize(static_cast<size_t>(max_size) + 1);
    size_t got = 0;
    while (got < text.size()) {
      const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
      if (n > 0) {
        got += static_cast<size_t>(n);
      } else if (n == 0 || errno != EINTR) {
        if (n < 0) {
          problem = std::string("cannot read the file: ") + std::strerror(errno);
        }
        break;
      }
    }
    text.resize(got);
    if (problem.empty() && got > static_cast<size_t>(max_size)) {
      problem = too_big(static_cast<std::int64_t>(got), max_size);
    }
  }
  ::close(fd);
  if (!problem.empty()) {
    return refuse(std::move(problem));
  }
  if (owner != nullptr) {
    *owner = st.st_uid;
  }
  return text;
}

LoadedFile load_job_file(const std::string& path, const LoadOptions& options) {
  uid_t owner = 0;
  auto text = read_job_file(path, options.max_file_size, &owner);
  if (!text) {
    LoadedFile result;
    result.path = path;
    result.diagnostics.push_back({Severity::error, text.error()});
    return result;
  }
  LoadOptions own = options;
  own.owner = owner;
  return load_job_text(path, *text, own);
}

} // namespace jobs
