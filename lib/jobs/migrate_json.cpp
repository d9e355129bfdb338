// jobsctl migrate for the JSON job formats of the older designs: the production-jobs flat
// file, the multi-step EDD's legacy single-step format and its V2 API job (both key styles),
// and the dynamic-registry job documents.
#include <base/duration.hpp>
#include <jobs/canonical.hpp>
#include <jobs/doc.hpp>
#include <jobs/loader.hpp>
#include <jobs/migrate.hpp>
#include <tz/format.hpp>
#include <tz/zone.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace jobs::migrate {

namespace {

using json = nlohmann::ordered_json;

const std::string* text_of(const Node* n) {
  return n != nullptr && n->is_scalar() ? &n->scalar : nullptr;
}

// "dryRun" -> "dry_run"
std::string snake_case(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      if (!out.empty()) {
        out += '_';
      }
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

class JsonConverter {
public:
  JsonConverter(const std::string& path, const Options& options)
      : stem_(std::filesystem::path(path).stem().string()), options_(options) {}

  void document(const Node& d) {
    const Node* job = d.is_map() ? d.find("job") : nullptr;
    entry_ = job != nullptr && job->is_map() ? job->mark.line : d.mark.line;
    if (!d.is_map()) {
      unconverted(d, "expected a job (a JSON object), got " +
                         std::string(d.is_sequence() ? "a list" : "a value"));
    } else if (job != nullptr && job->is_map()) {
      edd_v2(*job, &d);
    } else if (d.find("template_type") != nullptr) {
      registry(d);
    } else if (d.find("job_type") != nullptr || d.find("sql_query") != nullptr) {
      edd_legacy(d);
    } else if (d.find("steps") != nullptr) {
      edd_v2(d, nullptr);
    } else if (d.find("command") != nullptr) {
      production(d);
    } else {
      unconverted(d, "not a job of a known format: expected the production-jobs {name, "
                     "schedule, command, ...}, an EDD job ({\"job\": ...}, job_type or steps) "
                     "or a dynamic-registry job (template_type)");
    }
  }

  Result finish() {
    std::string format;
    for (const auto& f : formats_) {
      format += (format.empty() ? "" : " + ") + f;
    }
    result_.format = format.empty() ? "JSON" : format;
    std::stable_sort(result_.findings.begin(), result_.findings.end(),
                     [](const Finding& a, const Finding& b) { return a.line < b.line; });
    return std::move(result_);
  }

  void unconverted(const Node& at, std::string message) {
    result_.findings.push_back({Finding::Kind::unconverted, at.mark.line, at.mark.column,
                                std::move(message), entry_ != 0 ? entry_ : at.mark.line});
  }

private:
  void difference(const Node& at, std::string message) {
    result_.findings.push_back(
        {Finding::Kind::difference, at.mark.line, at.mark.column, std::move(message), entry_});
  }

  // The job's id: `explicit_id` when it is a valid id, else one made from the name, else the
  // file's stem; unique within the file.
  std::string choose_id(const Node* explicit_id, const Node* name) {
    std::string id;
    if (const std::string* s = text_of(explicit_id); s != nullptr && is_valid_id(*s)) {
      id = *s;
    } else if (const std::string* n = text_of(name)) {
      id = id_from_text(*n);
    }
    if (id.empty()) {
      id = id_from_text(stem_);
    }
    if (id.empty()) {
      id = "job";
    }
    std::string unique = id;
    for (int n = 2; ids_.count(unique); ++n) {
      unique = id + "-" + std::to_string(n);
    }
    ids_.insert(unique);
    return unique;
  }

  // name (from `name_key`), description and enabled, as the source has them.
  void describe(json& doc, const Node& d, const char* name_key) {
    if (const std::string* s = text_of(d.find(name_key))) {
      doc["name"] = *s;
    }
    if (const std::string* s = text_of(d.find("description"))) {
      doc["description"] = *s;
    }
    if (const Node* e = d.find("enabled")) {
      doc["enabled"] = to_json(*e);
    }
  }

  // Seconds as a duration ("300" -> "5m"); other text as written.
  json duration(const Node& n) {
    if (n.is_scalar() && !n.quoted) {
      char* end = nullptr;
      const long long seconds = std::strtoll(n.scalar.c_str(), &end, 10);
      if (*end == '\0' && seconds >= 0) {
        return base::format_duration(seconds);
      }
    }
    return to_json(n);
  }

  // Sets timezone from `zone` or, when the source names none, from the options (said once).
  void timezone(json& doc, const Node& at, const Node* zone) {
    if (const std::string* z = text_of(zone)) {
      doc["timezone"] = *z;
      return;
    }
    doc["timezone"] = options_.timezone;
    if (!zone_said_) {
      zone_said_ = true;
      difference(at, "no time zone in the source: the jobs say timezone: " + options_.timezone +
                         " (the host's; --timezone sets another)");
    }
  }

  // schedule: "expr" | {type: cron, expression, timezone} | {cron: expr} | {interval_seconds}
  void schedule(json& doc, const Node& s) {
    if (s.is_scalar()) {
      doc["schedule"] = s.scalar;
      return;
    }
    if (!s.is_map()) {
      unconverted(s, "schedule: expected a cron expression or a map");
      return;
    }
    const Node* type = s.find("type");
    const Node* expression = s.find("expression");
    const Node* cron = s.find("cron");
    const Node* interval = s.find("interval_seconds");
    if (const Node* zone = s.find("timezone"); text_of(zone) != nullptr) {
      doc["timezone"] = zone->scalar;
    }
    const std::string kind = text_of(type) ? *text_of(type) : "";
    if (cron != nullptr) {
      doc["schedule"] = to_json(*cron);
    } else if (interval != nullptr || kind == "interval") {
      const Node* every = interval ? interval : expression;
      if (every == nullptr) {
        unconverted(s, "an interval schedule without interval_seconds");
        return;
      }
      doc["schedule"] = {{"every", duration(*every)}};
      difference(*every, "interval: the old scheduler counted it from its own start; every: "
                         "counts from the Unix epoch (every 1h fires on the hour)");
    } else if (expression != nullptr && (kind.empty() || kind == "cron")) {
      doc["schedule"] = to_json(*expression);
    } else {
      unconverted(s,
                  "schedule of type \"" + kind + "\": only cron expressions and intervals convert");
    }
  }

  // Keys of `d` that the converter did not read: kept under metadata, and said.
  void keep_rest(json& doc, const Node& d, const std::set<std::string>& used) {
    for (const auto& e : d.entries) {
      if (used.count(e.key)) {
        continue;
      }
      if (!doc.contains("metadata")) {
        doc["metadata"] = json::object();
      }
      doc["metadata"][e.key] = to_json(e.value);
      Node at;
      at.mark = e.key_mark;
      difference(at, "\"" + e.key + "\" has no equivalent in job files; kept under metadata");
    }
  }

  // One step of the EDD: its own keys renamed where the names changed.
  json edd_step(const Node& s, size_t index) {
    json step = json::object();
    const Node* config = s.find("config");
    const Node* id = s.find("id") ? s.find("id") : s.find("step_id");
    const Node* name = s.find("name") ? s.find("name") : s.find("step_name");
    const Node* type = s.find("type") ? s.find("type") : s.find("step_type");
    std::string step_id = text_of(id) ? id_from_text(*text_of(id)) : "";
    step["id"] = step_id.empty() ? "step-" + std::to_string(index + 1) : step_id;
    if (text_of(name)) {
      step["name"] = *text_of(name);
    }
    std::string kind = text_of(type) ? *text_of(type) : "";
    if (kind == "file_operation") {
      kind = "file";
    }
    step["type"] = kind;
    const auto add = [&](const Node::Entry& e) {
      static const std::set<std::string> common = {"id",   "step_id",   "name",  "step_name",
                                                   "type", "step_type", "config"};
      if (common.count(e.key)) {
        return;
      }
      std::string key = e.key;
      if (key == "connection_name") {
        key = "connection";
      } else if (key == "parameters" && kind == "sql") {
        key = "params";
      } else if (key == "wait_for_completion") {
        key = "wait";
      }
      step[key] = key == "timeout" ? duration(e.value) : to_json(e.value);
    };
    for (const auto& e : s.entries) {
      add(e);
    }
    if (config != nullptr && config->is_map()) {
      for (const auto& e : config->entries) {
        add(e);
      }
    }
    if (kind == "azure_devops") {
      azure_devops_step(s, step);
    }
    return step;
  }

  // The EDD's pipeline id was text ("123"), and its PAT came from its own per-organization
  // settings.
  void azure_devops_step(const Node& s, json& step) {
    if (step.contains("pipeline_id") && step["pipeline_id"].is_string()) {
      const std::string text = step["pipeline_id"];
      if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
        step["pipeline_id"] = std::stoll(text);
      }
    }
    if (!step.contains("token") && !step.contains("token_env")) {
      step["token_env"] = "AZURE_DEVOPS_PAT";
      difference(s, "azure_devops: the EDD took the PAT from its settings for the organization; "
                    "the step reads it from the environment variable AZURE_DEVOPS_PAT (or write "
                    "token: ${secret.NAME})");
    }
  }

  // The registry's database_cleanup template worked on a MongoDB collection with a filter; the
  // step works on a table of a named connection with SQL. A filter {field: {$lt: "N units
  // ago"}} becomes older_than on that column; any other filter is kept as x-condition for the
  // user to rewrite as where.
  void database_cleanup_step(const Node& parameters, json& step) {
    if (step.contains("collection")) {
      step["table"] = step["collection"];
      step.erase("collection");
    }
    step["connection"] = "default";
    difference(parameters, "database_cleanup: the registry cleaned its own database; the step "
                           "uses the connection \"default\" of jobsd.yaml");
    const Node* condition = parameters.find("condition");
    if (condition == nullptr) {
      return;
    }
    step.erase("condition");
    if (auto older = older_than_filter(*condition)) {
      step["column"] = older->first;
      step["older_than"] = older->second;
      difference(*condition, "condition: now column " + older->first + " with older_than " +
                                 older->second + " (a month counted as 30 days)");
      return;
    }
    step["x-condition"] = to_json(*condition);
    difference(*condition, "condition: a MongoDB filter has no SQL equivalent; kept as "
                           "x-condition, write the step's where: from it");
  }

  // {field: {"$lt": "6 months ago"}} -> (field, "180d").
  static std::optional<std::pair<std::string, std::string>> older_than_filter(const Node& c) {
    if (!c.is_map() || c.entries.size() != 1 || !c.entries[0].value.is_map() ||
        c.entries[0].value.entries.size() != 1) {
      return std::nullopt;
    }
    const std::string& op = c.entries[0].value.entries[0].key;
    const Node& value = c.entries[0].value.entries[0].value;
    if ((op != "$lt" && op != "$lte") || !value.is_scalar()) {
      return std::nullopt;
    }
    std::istringstream words(value.scalar);
    long long n = 0;
    std::string unit, ago;
    if (!(words >> n >> unit >> ago) || ago != "ago" || n <= 0) {
      return std::nullopt;
    }
    if (unit.ends_with('s')) {
      unit.pop_back();
    }
    static const std::map<std::string, long long> days = {
        {"day", 1}, {"week", 7}, {"month", 30}, {"year", 365}};
    const auto it = days.find(unit);
    if (it == days.end()) {
      return std::nullopt;
    }
    return std::pair{c.entries[0].key, std::to_string(n * it->second) + "d"};
  }

  // The multi-step EDD's V2 job: {"job": {...}} (wrapper: its scheduled_time) or the job map.
  void edd_v2(const Node& d, const Node* wrapper) {
    const bool second_style = d.find("job_name") != nullptr || d.find("job_id") != nullptr;
    formats_.insert(second_style ? "EDD V2 JSON (job_id/job_name/step_type/config)"
                                 : "EDD V2 JSON (id/name/type)");
    const Node* name = d.find(second_style ? "job_name" : "name");
    json doc = json::object();
    const std::string id = choose_id(d.find(second_style ? "job_id" : "id"), name);
    describe(doc, d, second_style ? "job_name" : "name");
    timezone(doc, d, d.find("timezone"));
    if (const Node* s = d.find("schedule"); s != nullptr && !s->is_null()) {
      schedule(doc, *s);
    }
    if (const Node* at = wrapper ? wrapper->find("scheduled_time") : nullptr) {
      one_off(doc, *at);
    }
    if (const Node* t = d.find("timeout_seconds")) {
      doc["timeout"] = duration(*t);
    }
    if (const Node* r = d.find("max_retries")) {
      doc["retries"] = {{"max", to_json(*r)}};
    }
    const Node* steps = d.find("steps");
    if (steps == nullptr || !steps->is_sequence() || steps->items.empty()) {
      unconverted(steps ? *steps : d, "an EDD job needs a list of steps");
      return;
    }
    json list = json::array();
    for (size_t i = 0; i < steps->items.size(); ++i) {
      list.push_back(edd_step(steps->items[i], i));
    }
    doc["steps"] = list;
    keep_rest(doc, d,
              {"id", "job_id", "name", "job_name", "description", "enabled", "timezone", "schedule",
               "timeout_seconds", "max_retries", "steps", "metadata"});
    if (const Node* m = d.find("metadata"); m != nullptr && m->is_map()) {
      for (const auto& e : m->entries) {
        doc["metadata"][e.key] = to_json(e.value);
      }
    }
    if (wrapper != nullptr) {
      for (const auto& e : wrapper->entries) {
        if (e.key != "job" && e.key != "scheduled_time") {
          Node at;
          at.mark = e.key_mark;
          difference(at, "\"" + e.key + "\" of the API request has no equivalent; dropped");
        }
      }
    }
    add(id, d, std::move(doc));
  }

  // scheduled_time of the EDD's schedule request: a one-off run at that instant. A time with
  // "Z" or an offset keeps it ("at" then shows the zone's time with the offset: in a fall-back
  // overlap the local time alone would name two instants); one without is the zone's.
  void one_off(json& doc, const Node& at) {
    const std::string* text = text_of(&at);
    auto zone = tz::find_zone(doc["timezone"].get<std::string>());
    if (text == nullptr || !zone) {
      unconverted(at, "scheduled_time: expected an ISO 8601 time in a job with a known zone");
      return;
    }
    auto utc = tz::parse_time(*text, **zone);
    if (!utc) {
      unconverted(at, "scheduled_time: " + utc.error().message);
      return;
    }
    std::string local = tz::format_local(*utc, **zone);
    const bool has_offset =
        text->size() > 10 && (text->find_first_of("Zz+", 10) != std::string::npos ||
                              text->find('-', 10) != std::string::npos);
    if (!has_offset) {
      local.resize(19);
    }
    doc["schedule"] = {{"at", local}};
  }

  // The EDD's legacy single-step job: {job_id, name, job_type, sql_query, connection_name,
  // timeout}.
  void edd_legacy(const Node& d) {
    formats_.insert("EDD legacy JSON");
    json doc = json::object();
    const std::string id = choose_id(d.find("job_id"), d.find("name"));
    describe(doc, d, "name");
    timezone(doc, d, d.find("timezone"));
    if (const Node* s = d.find("schedule"); s != nullptr && !s->is_null()) {
      schedule(doc, *s);
    }
    const std::string* type = text_of(d.find("job_type"));
    json step = {{"id", "main"}, {"type", type ? *type : "sql"}};
    std::set<std::string> used = {"job_id",   "name",     "description", "enabled",
                                  "timezone", "schedule", "job_type"};
    const std::pair<const char*, const char*> renames[] = {
        {"sql_query", "query"},
        {"connection_name", "connection"},
        {"timeout", "timeout"},
        {"max_rows", "max_rows"},
        {"script", "script"},
        {"script_path", "script_path"},
        {"execution_policy", "execution_policy"}};
    for (const auto& [from, to] : renames) {
      if (const Node* v = d.find(from)) {
        step[to] = std::string_view(to) == "timeout" ? duration(*v) : to_json(*v);
        used.insert(from);
      }
    }
    if (const Node* p = d.find("parameters")) {
      step[step["type"] == "sql" ? "params" : "parameters"] = to_json(*p);
      used.insert("parameters");
    }
    doc["steps"] = json::array({step});
    keep_rest(doc, d, used);
    add(id, d, std::move(doc));
  }

  // The dynamic registry's job document.
  void registry(const Node& d) {
    formats_.insert("dynamic-registry JSON");
    json doc = json::object();
    const std::string id = choose_id(d.find("_id"), d.find("name"));
    describe(doc, d, "name");
    const Node* s = d.find("schedule");
    timezone(doc, d, s && s->is_map() ? s->find("timezone") : nullptr);
    if (s != nullptr && !s->is_null()) {
      schedule(doc, *s);
    }
    if (const Node* t = d.find("timeout_seconds")) {
      doc["timeout"] = duration(*t);
    }
    if (const Node* r = d.find("retry_policy"); r != nullptr && r->is_map()) {
      json retries = json::object();
      if (const Node* m = r->find("max_retries")) {
        retries["max"] = to_json(*m);
      }
      if (const Node* delay = r->find("retry_delay_seconds")) {
        retries["delay"] = duration(*delay);
      }
      retries["backoff"] = 1.0;
      // The registry waited the delay however long; max_delay (10m unless set) would cut it.
      if (const Node* delay = r->find("retry_delay_seconds");
          delay != nullptr && delay->is_scalar() && !delay->quoted &&
          std::strtoll(delay->scalar.c_str(), nullptr, 10) > 600) {
        retries["max_delay"] = retries["delay"];
      }
      doc["retries"] = retries;
    }
    if (const Node* n = d.find("notifications"); n != nullptr && n->is_map()) {
      json notify = json::object();
      for (const char* when : {"on_failure", "on_success"}) {
        const Node* list = n->find(when);
        if (list == nullptr || !list->is_sequence()) {
          continue;
        }
        json out = json::array();
        for (const auto& item : list->items) {
          if (!item.is_scalar()) {
            out.push_back(to_json(item));
          } else if (item.scalar.starts_with("http://") || item.scalar.starts_with("https://")) {
            out.push_back({{"webhook", item.scalar}});
          } else {
            out.push_back({{"email", item.scalar}});
          }
        }
        notify[when] = out;
      }
      doc["notify"] = notify;
    }
    const std::string* type = text_of(d.find("template_type"));
    json step = {{"id", "main"}, {"type", type ? *type : ""}};
    if (const Node* p = d.find("parameters"); p != nullptr && p->is_map()) {
      for (const auto& e : p->entries) {
        step[snake_case(e.key)] = to_json(e.value);
      }
      if (step["type"] == "database_cleanup") {
        database_cleanup_step(*p, step);
      }
    }
    doc["steps"] = json::array({step});
    // Bookkeeping of the registry: who made the job and when, kept; its run state dropped.
    json metadata = json::object();
    std::string keys;
    const Node* first = nullptr;
    for (const char* key : {"created_by", "created_at", "updated_at", "version"}) {
      if (const Node* v = d.find(key)) {
        metadata[key] = to_json(*v);
        keys += (keys.empty() ? "" : ", ") + std::string(key);
        first = first != nullptr ? first : v;
      }
    }
    if (first != nullptr) {
      doc["metadata"] = metadata;
      difference(*first, keys + ": the registry's bookkeeping, which job files have no key for; "
                                "kept under metadata");
    }
    for (const char* key : {"last_run_at", "next_run_at"}) {
      if (const Node* v = d.find(key)) {
        difference(*v, std::string(key) +
                           ": run state, not part of the definition; dropped (jobsd computes "
                           "the next run and starts the history empty)");
      }
    }
    keep_rest(doc, d,
              {"_id", "name", "description", "enabled", "schedule", "timeout_seconds",
               "retry_policy", "notifications", "template_type", "parameters", "created_by",
               "created_at", "updated_at", "version", "last_run_at", "next_run_at"});
    add(id, d, std::move(doc));
  }

  // The production-jobs flat job: {name, schedule, command, working_directory, enabled}.
  void production(const Node& d) {
    formats_.insert("production-jobs JSON");
    json doc = json::object();
    const std::string id = choose_id(d.find("id"), d.find("name"));
    if (const std::string* s = text_of(d.find("name")); s != nullptr && *s != id) {
      doc["name"] = *s;
    }
    if (const std::string* s = text_of(d.find("description"))) {
      doc["description"] = *s;
    }
    if (const Node* e = d.find("enabled")) {
      doc["enabled"] = to_json(*e);
    }
    timezone(doc, d, d.find("timezone"));
    if (const Node* s = d.find("schedule")) {
      schedule(doc, *s);
    }
    // The production executor killed a command after its timeout, one hour by default.
    doc["timeout"] = "1h";
    if (const Node* w = d.find("working_directory")) {
      doc["working_directory"] = to_json(*w);
      if (w->is_scalar() && !w->scalar.starts_with("/")) {
        difference(*w, "working_directory \"" + w->scalar +
                           "\" is relative: the production scheduler read it from its project "
                           "root; write the absolute path");
      }
    }
    if (const Node* c = d.find("command")) {
      doc["command"] = to_json(*c);
    }
    keep_rest(doc, d,
              {"id", "name", "description", "enabled", "timezone", "schedule", "working_directory",
               "command"});
    add(id, d, std::move(doc));
  }

  void add(const std::string& id, const Node& d, json doc) {
    result_.jobs.push_back({id, d.mark.line, std::move(doc)});
  }

  std::string stem_;
  const Options& options_;
  std::set<std::string> ids_;
  std::set<std::string> formats_;
  bool zone_said_ = false;
  int entry_ = 0; // the line of the entry being converted; 0 outside one
  Result result_;
};

} // namespace

Result convert_json(const std::string& path, std::string_view text, const Options& options) {
  JsonConverter converter(path, options);
  auto doc = parse_json(text, path);
  if (!doc) {
    Node at;
    at.mark = {doc.error().location.line, doc.error().location.column};
    converter.unconverted(at, doc.error().message);
    return converter.finish();
  }
  // One job, a list of jobs, or {"jobs": [...]}.
  const Node* list = doc->is_map() ? doc->find("jobs") : nullptr;
  if (list != nullptr && list->is_sequence()) {
    for (const auto& item : list->items) {
      converter.document(item);
    }
  } else if (doc->is_sequence()) {
    for (const auto& item : doc->items) {
      converter.document(item);
    }
  } else {
    converter.document(*doc);
  }
  return converter.finish();
}

} // namespace jobs::migrate
