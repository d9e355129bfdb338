// jobsctl schema, new and delete: the format's schema, new job files, and removing them.
#include "commands.hpp"
#include "daemon_config.hpp"
#include "job_folder.hpp"
#include "new_job.hpp"
#include "options.hpp"
#include "output.hpp"

#include <base/exit_codes.hpp>
#include <jobs/canonical.hpp>
#include <jobs/edit.hpp>
#include <jobs/schema.hpp>
#include <jobs/step_types.hpp>
#include <tz/zone.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

namespace jobsctl {

namespace {

std::string known_types() {
  std::string out;
  for (const auto& t : jobs::step_types()) {
    out += (out.empty() ? "" : ", ") + std::string(t.name);
  }
  return out;
}

struct SchemaOptions {
  std::string type;
};

int run_schema(const SchemaOptions& o) {
  if (o.type.empty()) {
    std::cout << jobs::job_schema().dump(2) << "\n";
    return base::exit_code::ok;
  }
  const auto* type = jobs::find_step_type(o.type);
  if (type == nullptr) {
    std::cerr << "jobsctl: unknown step type \"" << o.type << "\" (known types: " << known_types()
              << ")\n";
    return base::exit_code::usage;
  }
  std::cout << jobs::step_schema(*type).dump(2) << "\n";
  return base::exit_code::ok;
}

struct NewOptions {
  JobFolder folder;
  NewJob job;
};

// One key of a step template: its example value, the same in both formats, and what it does
// (a comment in YAML).
struct ExampleKey {
  const char* key;
  nlohmann::ordered_json value;
  const char* comment;
};

// The first step of a new job of one type: its required keys and the most useful optional
// ones, with values that validate and read like a real job. Secrets appear only as
// ${secret.NAME} or token_env, never as values.
struct StepTemplate {
  std::string_view type;
  const char* step_id;
  std::vector<ExampleKey> keys;
};

nlohmann::ordered_json list(nlohmann::ordered_json::initializer_list_t items) {
  return nlohmann::ordered_json::array(items);
}

const char* const connection_comment =
    "a connection of the daemon config (jobsctl connections list)";

const std::vector<StepTemplate>& step_templates() {
  static const std::vector<StepTemplate> templates = {
      {"azure_devops",
       "deploy",
       {
           {"organization", "mycompany", "the organization of dev.azure.com/mycompany"},
           {"project", "data-platform", "the project that holds the pipeline"},
           {"pipeline_id", 123, "the pipeline's id (definitionId=123 in its URL)"},
           {"branch", "main", "branch to run; default: the pipeline's default branch"},
           {"parameters", {{"Environment", "production"}}, "the run's template parameters"},
           {"wait", true, "follow the run to its result; false: only queue it"},
           {"wait_timeout", "1h", "longest wait for the run to finish"},
           {"token_env", "AZURE_DEVOPS_PAT", "variable holding a PAT; or token: ${secret.NAME}"},
       }},
      {"backup",
       "backup",
       {
           {"connection", "warehouse", connection_comment},
           {"destination", "/var/backups/jobs/warehouse-${execution.scheduled_date}.dump",
            "file written (inside the config's allowed_paths); pg_dump or SQLite backup"},
       }},
      {"command",
       "main",
       {
           {"argv", list({"rsync", "-a", "/srv/app/data/", "/mnt/backup/data/"}),
            "program and arguments, no shell: no globbing, no quoting"},
       }},
      {"data_export",
       "export",
       {
           {"connection", "warehouse", connection_comment},
           {"query", "SELECT id, customer, total FROM orders WHERE day = :day",
            "the query; :name placeholders are bound, never spliced"},
           {"params", {{"day", "${execution.scheduled_date}"}}, "values of the placeholders"},
           {"output", "/srv/exports/orders-${execution.scheduled_date}.csv",
            "file written atomically (inside the config's allowed_paths)"},
           {"format", "csv", "csv or json"},
           {"max_rows", 1000000, "rows written at most"},
       }},
      {"database_cleanup",
       "cleanup",
       {
           {"connection", "warehouse", connection_comment},
           {"table", "audit_log", "table to delete from (schema.table allowed)"},
           {"column", "created_at", "timestamp column compared with older_than"},
           {"older_than", "90d", "delete rows older than this; or where: <condition>"},
           {"batch_size", 1000, "rows deleted per statement"},
           {"dry_run", true, "reports what it would delete; set false to delete"},
       }},
      {"email",
       "notify",
       {
           {"to", list({"ops@example.com"}), "recipients"},
           {"subject", "${job.name}: ${execution.status}", "subject; variables are substituted"},
           {"body", "Execution ${execution.id} ended ${execution.status}.", "body text"},
           {"from", "jobs@example.com", "sender; default: the config's smtp.from"},
       }},
      {"file",
       "archive",
       {
           {"action", "archive", "copy, move, delete or archive"},
           {"source", list({"/var/log/app/*.log"}), "paths or globs (inside allowed_paths)"},
           {"destination", "/var/archive/app-logs-${execution.scheduled_date}.tar.gz",
            "folder, file, or the .tar.gz that archive writes"},
           {"older_than", "7d", "only files last modified longer ago"},
           {"remove_sources", true, "delete the files once archived"},
           {"dry_run", true, "reports what it would do; set false to do it"},
       }},
      {"http",
       "call",
       {
           {"url", "https://api.example.com/v1/refresh", "http or https"},
           {"method", "POST", "GET (default), POST, PUT, PATCH, DELETE or HEAD"},
           {"headers", {{"Accept", "application/json"}}, "request headers"},
           {"json",
            {{"source", "jobs"}, {"date", "${execution.scheduled_date}"}},
            "JSON body (sets Content-Type); or body: text"},
           {"bearer_token", "${secret.API_TOKEN}", "Authorization: Bearer, from the secrets"},
           {"expect_status", list({200, 202}), "statuses that succeed; default: any 2xx"},
           {"request_timeout", "30s", "limit on each attempt"},
       }},
      {"powershell",
       "main",
       {
           {"script", "param($Name) Write-Output \"hello $Name\"",
            "script text; or script_path: ./task.ps1"},
           {"parameters", {{"Name", "world"}}, "named parameters, passed without splicing"},
       }},
      {"report",
       "report",
       {
           {"connection", "warehouse", connection_comment},
           {"query", "SELECT region, sum(total) AS revenue FROM orders GROUP BY region",
            "the query whose rows make the table"},
           {"format", "html", "markdown (default), html or csv"},
           {"title", "Orders by region", "heading of the report"},
           {"output", "/srv/reports/orders-by-region.html",
            "file written (inside allowed_paths); output, email or both"},
           {"email", list({"sales@example.com"}), "recipients, through the config's smtp"},
           {"subject", "Orders by region, ${execution.scheduled_date}", "subject of the email"},
       }},
      {"shell",
       "main",
       {
           {"run", "echo hello", "the script, run with sh -c"},
           {"shell", "sh", "sh (default), bash, dash or zsh"},
       }},
      {"sql",
       "extract",
       {
           {"connection", "warehouse", connection_comment},
           {"query", "SELECT count(*) AS n FROM orders WHERE day = :day",
            "SQL text; or file: ./query.sql"},
           {"params",
            {{"day", "${execution.scheduled_date}"}},
            "bound to :day, never spliced into the SQL"},
           {"max_rows", 1000, "rows kept for ${steps.extract.rows} and the log"},
           {"transaction", false, "true: all statements in one transaction"},
       }},
      {"webhook",
       "notify",
       {
           {"url", "https://hooks.example.com/jobs", "http or https; the payload is POSTed"},
           {"json",
            {{"text", "${job.name}: ${execution.status}"}},
            "payload; default: the execution summary"},
           {"bearer_token", "${secret.WEBHOOK_TOKEN}", "Authorization: Bearer, from the secrets"},
           {"request_timeout", "10s", "limit on each attempt"},
       }},
  };
  return templates;
}

const StepTemplate* find_template(std::string_view type) {
  for (const auto& t : step_templates()) {
    if (t.type == type) {
      return &t;
    }
  }
  return nullptr;
}

// A value in YAML flow style, on one line. Strings are quoted (JSON quoting, which YAML reads)
// where YAML would read them as something else; inside [] and {} also when they hold , [ ] { }.
std::string flow(const nlohmann::ordered_json& v, bool inside) {
  if (v.is_array()) {
    std::string out;
    for (const auto& item : v) {
      out += (out.empty() ? "" : ", ") + flow(item, true);
    }
    return "[" + out + "]";
  }
  if (v.is_object()) {
    std::string out;
    for (const auto& [key, item] : v.items()) {
      out += (out.empty() ? "" : ", ") + flow(key, true) + ": " + flow(item, true);
    }
    return "{ " + out + " }";
  }
  if (!v.is_string()) {
    return v.dump();
  }
  const auto& s = v.get_ref<const std::string&>();
  std::string plain = jobs::to_yaml(v);
  if (s.find('\n') != std::string::npos ||
      (inside && s.find_first_of(",[]{}") != std::string::npos)) {
    return v.dump();
  }
  plain.pop_back(); // to_yaml's newline
  return plain;
}

// "key: value    # comment", indented: comments aligned where they fit, else on the line above.
std::string yaml_line(size_t indent, const std::string& entry, const std::string& comment) {
  constexpr size_t column = 36;
  const std::string pad(indent, ' ');
  const std::string line = pad + entry;
  const std::string padded =
      line + std::string(line.size() < column ? column - line.size() : 1, ' ');
  if (padded.size() + 2 + comment.size() <= 100) {
    return padded + "# " + comment + "\n";
  }
  return pad + "# " + comment + "\n" + line + "\n";
}

nlohmann::ordered_json example_step(const StepTemplate& t) {
  nlohmann::ordered_json step = {{"id", t.step_id}, {"type", t.type}};
  for (const auto& k : t.keys) {
    step[k.key] = k.value;
  }
  return step;
}

std::string new_yaml(const NewJob& o, const StepTemplate& t) {
  const auto* type = jobs::find_step_type(t.type);
  std::string out =
      "# " + o.id + ": made by jobsctl new; every key is described in jobs(5).\n" +
      "# Editors can complete keys from: jobsctl schema > jobs.schema.json\n" + "name: " + o.id +
      "\n" + "description: What this job does\n" + "enabled: true\n" +
      (o.timezone.empty()
           ? "# No timezone: the schedule is read in jobsd's default_timezone (now " +
                 settings().default_timezone.value + ").\n"
           : yaml_line(0, "timezone: " + o.timezone, "IANA zone the schedule is read in")) +
      yaml_line(0, "schedule: \"0 2 * * *\"", "minute hour day-of-month month day-of-week") +
      yaml_line(0, "concurrency: forbid", "a fire while running: allow, forbid or replace") +
      yaml_line(0, "timeout: 1h", "limit on the whole job, or none") +
      yaml_line(0, "retries: { max: 0, delay: 30s }", "retries after a failure, the first wait") +
      "steps:\n" + "  - id: " + t.step_id + "\n" +
      yaml_line(4, "type: " + std::string(t.type), std::string(type->description));
  for (const auto& k : t.keys) {
    out += yaml_line(4, std::string(k.key) + ": " + flow(k.value, false), k.comment);
  }
  return out;
}

} // namespace

NewFile new_job_file(const JobFolder& folder, const NewJob& o) {
  if (!jobs::is_valid_id(o.id)) {
    std::cerr << "jobsctl: \"" << o.id
              << "\" is not a valid job id (letters, digits, '_', '.' and '-', not first)\n";
    throw Exit{base::exit_code::usage};
  }
  if (jobs::find_step_type(o.type) == nullptr) {
    std::cerr << "jobsctl: unknown step type \"" << o.type << "\" (known types: " << known_types()
              << ")\n";
    throw Exit{base::exit_code::usage};
  }
  if (!o.timezone.empty()) {
    if (auto zone = tz::find_zone(o.timezone); !zone) {
      std::cerr << "jobsctl: --tz: " << zone.error().message << "\n";
      throw Exit{base::exit_code::usage};
    }
  }
  const StepTemplate* t = find_template(o.type);
  if (t == nullptr) {
    std::cerr << "jobsctl: internal error: no template for steps of type \"" << o.type << "\"\n";
    throw Exit{base::exit_code::internal};
  }
  // The first job of a folder makes it.
  std::error_code ec;
  const auto set = std::filesystem::exists(folder.dir(), ec) ? folder.load() : jobs::JobSet{};
  if (const auto* existing = set.find(o.id)) {
    std::cerr << "jobsctl: a job \"" << o.id << "\" exists already: " << existing->path << "\n";
    throw Exit{base::exit_code::usage};
  }
  const std::string path = folder.dir() + "/" + o.id + (o.format == "json" ? ".json" : ".yaml");
  if (std::filesystem::exists(std::filesystem::symlink_status(path, ec))) {
    std::cerr << "jobsctl: " << path << " exists already; not overwritten\n";
    throw Exit{base::exit_code::usage};
  }
  std::string text;
  if (o.format == "json") {
    nlohmann::ordered_json job = {
        {"name", o.id}, {"description", "What this job does"}, {"enabled", true}};
    if (!o.timezone.empty()) {
      job["timezone"] = o.timezone;
    }
    job["schedule"] = "0 2 * * *";
    job["concurrency"] = "forbid";
    job["timeout"] = "1h";
    job["retries"] = {{"max", 0}, {"delay", "30s"}};
    job["steps"] = {example_step(*t)};
    text = job.dump(2) + "\n";
  } else {
    text = new_yaml(o, *t);
  }
  // What we write must load.
  const auto check = jobs::load_job_text(path, text, folder.load_options());
  if (!check.job) {
    std::cerr << "jobsctl: internal error: the new file does not validate\n";
    for (const auto& d : check.diagnostics) {
      print_finding(std::cerr, d);
    }
    throw Exit{base::exit_code::internal};
  }
  return {path, text};
}

void add_new_job_options(CLI::App& command, NewJob& job, CLI::Option* needs) {
  const auto added = {
      command
          .add_option("--template", job.type,
                      "Step type of its step, with a commented example of its keys: " +
                          known_types())
          ->capture_default_str(),
      command.add_option("--format", job.format, "yaml or json")
          ->check(CLI::IsMember({"yaml", "json"}))
          ->capture_default_str(),
      add_zone_option(command, job.timezone,
                      "IANA zone to write in the file (default: none, so that jobsd's "
                      "default_timezone applies)"),
  };
  for (auto* option : added) {
    if (needs != nullptr) {
      option->needs(needs);
    }
  }
}

namespace {

int run_new(const NewOptions& o) {
  const auto file = new_job_file(o.folder, o.job);
  std::error_code ec;
  std::filesystem::create_directories(o.folder.dir(), ec);
  auto written = jobs::write_file_atomically(file.path, file.text);
  if (!written) {
    print_error(written.error());
    return base::exit_code::usage;
  }
  std::cout << file.path << "\n";
  return base::exit_code::ok;
}

struct DeleteOptions {
  JobFolder folder;
  std::vector<std::string> jobs;
  bool yes = false;
};

// All the files or none: a name that is no job's deletes nothing.
int run_delete(const DeleteOptions& o) {
  const auto set = o.folder.load();
  std::vector<std::string> paths;
  for (const auto& name : o.jobs) {
    const std::string path = find_job_path(set, name);
    if (path.empty()) {
      std::cerr << "jobsctl: " << no_job(o.folder, set, name) << "; nothing deleted\n";
      return base::exit_code::usage;
    }
    if (std::find(paths.begin(), paths.end(), path) == paths.end()) {
      paths.push_back(path);
    }
  }
  std::string listed;
  for (const auto& path : paths) {
    listed += (listed.empty() ? "" : ", ") + path;
  }
  if (!o.yes) {
    if (!stdin_is_terminal()) {
      std::cerr << "jobsctl: deleting " << listed << " needs --yes when not on a terminal\n";
      return base::exit_code::usage;
    }
    std::cerr << "Delete " << listed << "? [y/N] ";
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y" && answer != "yes") {
      std::cerr << "jobsctl: not deleted\n";
      return base::exit_code::usage;
    }
  }
  bool ok = true;
  for (const auto& path : paths) {
    std::error_code ec;
    if (!std::filesystem::remove(path, ec)) {
      std::cerr << "jobsctl: " << path << ": " << ec.message() << "\n";
      ok = false;
      continue;
    }
    std::cout << "deleted " << path << "\n";
  }
  return ok ? base::exit_code::ok : base::exit_code::usage;
}

} // namespace

Run setup_schema(CLI::App& command) {
  auto o = std::make_shared<SchemaOptions>();
  command.add_option("type", o->type, "A step type: print the schema of its steps only");
  return [o] { return run_schema(*o); };
}

Run setup_new(CLI::App& command) {
  auto o = std::make_shared<NewOptions>();
  command.add_option("id", o->job.id, "The new job's id (also its file name)")->required();
  add_new_job_options(command, o->job);
  o->folder.add_option(command);
  return [o] { return run_new(*o); };
}

Run setup_delete(CLI::App& command) {
  auto o = std::make_shared<DeleteOptions>();
  command.add_option("jobs", o->jobs, "Job ids or files")->required();
  command.add_flag("--yes", o->yes, "Do not ask (needed when not on a terminal)");
  o->folder.add_option(command);
  return [o] { return run_delete(*o); };
}

} // namespace jobsctl
