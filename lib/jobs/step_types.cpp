#include <base/http_status.hpp>
#include <jobs/step_types.hpp>
#include <jobs/variables.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

namespace jobs {

namespace {

// argv is a program and its arguments: a list, not a command line in one string.
void check_command(const StepDefinition& step, Diagnostics& out) {
  const Node* argv = step.keys.find("argv");
  if (argv == nullptr) {
    return;
  }
  warn_secrets_in_argv(*argv, "argv", out);
  if (argv->is_sequence() && argv->items.empty()) {
    out.error(argv->mark, "\"argv\": expected the program and its arguments, got an empty list");
  } else if (argv->is_scalar() && argv->scalar.find(' ') != std::string::npos) {
    out.error(argv->mark, "\"argv\": one string is one program name; write a list such as [" +
                              argv->scalar.substr(0, argv->scalar.find(' ')) +
                              ", ...] or use a shell step");
  }
}

// Whether a program of this name is in this process's PATH.
bool in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string_view rest = path != nullptr ? path : "/usr/bin:/bin";
  while (true) {
    const size_t colon = rest.find(':');
    const std::string dir(rest.substr(0, colon));
    if (access(((dir.empty() ? "." : dir) + "/" + name).c_str(), X_OK) == 0) {
      return true;
    }
    if (colon == std::string_view::npos) {
      return false;
    }
    rest.remove_prefix(colon + 1);
  }
}

void check_powershell(const StepDefinition& step, Diagnostics& out) {
  const bool script = step.keys.find("script") != nullptr;
  const bool script_path = step.keys.find("script_path") != nullptr;
  if (script == script_path) {
    out.error(step.mark, std::string("a powershell step needs exactly one of \"script\" and "
                                     "\"script_path\"") +
                             (script ? ", not both" : ""));
    return;
  }
  for (const char* key : {"script_path", "parameters"}) {
    if (const Node* n = step.keys.find(key)) {
      warn_secrets_in_argv(*n, key, out);
    }
  }
  static const bool pwsh = in_path("pwsh");
  if (!pwsh) {
    const Node* type = step.keys.find("type");
    out.warning(type != nullptr ? type->mark : step.mark,
                "pwsh not found in PATH: this step fails on this machine unless PowerShell is "
                "installed where it runs");
  }
}

// Exactly one of two keys.
void one_of(const StepDefinition& step, const char* a, const char* b, Diagnostics& out) {
  const bool has_a = step.keys.find(a) != nullptr;
  const bool has_b = step.keys.find(b) != nullptr;
  if (has_a == has_b) {
    out.error(step.mark, std::string(step.type.front() == 'a' ? "an " : "a ") + step.type +
                             " step needs exactly one of \"" + a + "\" and \"" + b + "\"" +
                             (has_a ? ", not both" : ""));
  }
}

void check_sql(const StepDefinition& step, Diagnostics& out) {
  one_of(step, "query", "file", out);
}

// Each expect_status item that holds no variable must read as statuses, here rather than when
// the step runs.
void check_expect_status(const Node& n, Diagnostics& out) {
  if (n.is_sequence()) {
    for (const auto& item : n.items) {
      check_expect_status(item, out);
    }
  } else if (n.is_scalar() && n.scalar.find("${") == std::string::npos) {
    if (auto set = base::parse_status_set({n.scalar}); !set) {
      out.error(n.mark, set.error().message);
    }
  }
}

void check_http(const StepDefinition& step, Diagnostics& out) {
  if (const Node* expect = step.keys.find("expect_status")) {
    check_expect_status(*expect, out);
  }
  if (step.keys.find("body") != nullptr && step.keys.find("json") != nullptr) {
    out.error(step.keys.find("json")->mark, "\"json\" and \"body\" cannot both be given");
  }
  if (step.keys.find("bearer_token") != nullptr && step.keys.find("basic") != nullptr) {
    out.error(step.keys.find("basic")->mark, "\"basic\" and \"bearer_token\" cannot both be given");
  }
}

void check_azure_devops(const StepDefinition& step, Diagnostics& out) {
  one_of(step, "token", "token_env", out);
}

void check_file(const StepDefinition& step, Diagnostics& out) {
  const Node* action = step.keys.find("action");
  const bool needs_destination =
      action != nullptr && action->is_scalar() && action->scalar != "delete";
  if (needs_destination && step.keys.find("destination") == nullptr) {
    out.error(action->mark, "action \"" + action->scalar + "\" needs a \"destination\"");
  }
}

void check_database_cleanup(const StepDefinition& step, Diagnostics& out) {
  one_of(step, "where", "older_than", out);
  const Node* older = step.keys.find("older_than");
  if (older != nullptr && step.keys.find("column") == nullptr) {
    out.error(older->mark,
              "\"older_than\" needs \"column\", the timestamp column it is compared with");
  }
}

void check_report(const StepDefinition& step, Diagnostics& out) {
  if (step.keys.find("output") == nullptr && step.keys.find("email") == nullptr) {
    out.error(step.mark, "a report step needs \"output\" (a file), \"email\" (recipients) or both");
  }
}

} // namespace

const std::vector<StepType>& step_types() {
  static const std::vector<StepType> types = {
      {"azure_devops",
       "Queues an Azure DevOps pipeline run and, with wait, follows it to its result",
       {
           {"organization", ValueType::string, "Azure DevOps organization", {}, true},
           {"project", ValueType::string, "Project", {}, true},
           {"pipeline_id", ValueType::integer, "Pipeline id", {}, true, 1},
           {"branch", ValueType::string, "Branch to run (main or refs/heads/main)"},
           {"parameters", ValueType::string_map, "Template parameters of the run"},
           {"wait", ValueType::boolean, "Wait for the run to complete (default false)"},
           {"poll_interval", ValueType::duration, "Between polls while waiting (default 15s)"},
           {"wait_timeout", ValueType::duration, "Longest wait for the run (default 1h)"},
           {"token", ValueType::string, "Personal access token: ${secret.NAME}"},
           {"token_env", ValueType::string, "Environment variable holding the token"},
           {"base_url", ValueType::string, "Server (default https://dev.azure.com)"},
           {"ca_file", ValueType::string, "CA certificates to verify the server with"},
       },
       &check_azure_devops},
      {"backup",
       "Backs up a database: SQLite online backup, pg_dump for PostgreSQL",
       {
           {"connection", ValueType::string, "Connection of the daemon config", {}, true},
           {"destination", ValueType::string, "Backup file (inside allowed_paths)", {}, true},
       }},
      {"command",
       "Runs a program with arguments, no shell",
       {
           {"argv",
            ValueType::string_list,
            "Program and arguments ([rsync, -a, src/, dst/])",
            {},
            true},
       },
       &check_command},
      {"data_export",
       "Writes a query's rows to a CSV or JSON file, atomically",
       {
           {"connection", ValueType::string, "Connection of the daemon config", {}, true},
           {"query", ValueType::string, "The query", {}, true},
           {"params", ValueType::string_map, "Bound parameters (:name in the query)"},
           {"output", ValueType::string, "File written (inside allowed_paths)", {}, true},
           {"format", ValueType::string, "csv (default) or json", {"csv", "json"}},
           {"max_rows", ValueType::integer,
            "Most rows allowed; more fails the step (default 1000000)"},
       }},
      {"database_cleanup",
       "Deletes old rows of a table in batches; a dry run by default",
       {
           {"connection", ValueType::string, "Connection of the daemon config", {}, true},
           {"table", ValueType::string, "Table (schema.table allowed)", {}, true},
           {"where", ValueType::string, "Condition of the rows to delete"},
           {"older_than", ValueType::duration, "Rows whose column is older than this"},
           {"column", ValueType::string, "Timestamp column for older_than"},
           {"params", ValueType::string_map, "Bound parameters (:name in where)"},
           {"batch_size", ValueType::integer, "Rows per delete (default 1000)", {}, false, 1},
           {"dry_run", ValueType::boolean, "Count, delete nothing (default true)"},
       },
       &check_database_cleanup},
      {"email",
       "Sends an email through the daemon config's SMTP server",
       {
           {"to", ValueType::string_list, "Recipients", {}, true},
           {"cc", ValueType::string_list, "Copy recipients"},
           {"bcc", ValueType::string_list, "Blind copy recipients"},
           {"subject", ValueType::string, "Subject", {}, true},
           {"body", ValueType::string, "Body text"},
           {"html", ValueType::boolean, "The body is HTML"},
           {"from", ValueType::string, "Sender (default: the config's smtp.from)"},
       }},
      {"file",
       "Copies, moves, deletes or archives files by glob and age, inside allowed_paths",
       {
           {"action", ValueType::string, "What to do", {"copy", "move", "delete", "archive"}, true},
           {"source", ValueType::string_list, "Paths or globs", {}, true},
           {"destination", ValueType::string, "Folder, file, or the .tar.gz of archive"},
           {"older_than", ValueType::duration, "Only files last modified longer ago"},
           {"recursive", ValueType::boolean, "Folders with their contents; ** descends"},
           {"dry_run", ValueType::boolean, "Report, change nothing"},
           {"overwrite", ValueType::boolean, "Replace existing files"},
           {"remove_sources", ValueType::boolean, "archive: delete what was archived"},
       },
       &check_file},
      {"http",
       "Sends an HTTP request; the response is recorded and readable by later steps",
       {
           {"url", ValueType::string, "URL (http or https)", {}, true},
           {"method",
            ValueType::string,
            "Method (default GET)",
            {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}},
           {"headers", ValueType::string_map, "Request headers"},
           {"query", ValueType::string_map, "Query parameters, encoded"},
           {"body", ValueType::string, "Request body"},
           {"json", ValueType::any, "JSON body (sets Content-Type)"},
           {"bearer_token", ValueType::string, "Bearer token: ${secret.NAME}"},
           {"basic", ValueType::string_map, "Basic auth: {user: ..., password: ${secret.NAME}}"},
           {"expect_status", ValueType::string_list, "Statuses that succeed (default 2xx)"},
           {"max_retries",
            ValueType::integer,
            "Retries on errors, 429 and 5xx (default 3)",
            {},
            false,
            0,
            100},
           {"retry_delay", ValueType::duration, "First wait between attempts (default 1s)"},
           {"request_timeout", ValueType::duration, "Limit on each attempt (default 30s)"},
           {"max_redirects",
            ValueType::integer,
            "Redirects followed (default 5)",
            {},
            false,
            0,
            100},
           {"max_body", ValueType::size, "Response bytes kept (default 1M)"},
           {"ca_file", ValueType::string, "CA certificates to verify the server with"},
           {"verify_tls", ValueType::boolean, "Verify the server's certificate (default true)"},
       },
       &check_http},
      {"powershell",
       "Runs a PowerShell script with pwsh -NoProfile -NonInteractive",
       {
           {"script", ValueType::string, "Script text"},
           {"script_path", ValueType::string, "Script file"},
           {"parameters", ValueType::string_map, "Named parameters, passed without splicing"},
           {"execution_policy",
            ValueType::string,
            "PowerShell execution policy",
            {"AllSigned", "Bypass", "Default", "RemoteSigned", "Restricted", "Undefined",
             "Unrestricted"}},
       },
       &check_powershell},
      {"report",
       "Turns a query's rows into a Markdown, HTML or CSV table, written or emailed",
       {
           {"connection", ValueType::string, "Connection of the daemon config", {}, true},
           {"query", ValueType::string, "The query", {}, true},
           {"params", ValueType::string_map, "Bound parameters (:name in the query)"},
           {"format",
            ValueType::string,
            "markdown (default), html or csv",
            {"markdown", "html", "csv"}},
           {"title", ValueType::string, "Heading of the report"},
           {"output", ValueType::string, "File written (inside allowed_paths)"},
           {"email", ValueType::string_list, "Recipients of the report"},
           {"subject", ValueType::string, "Subject of the email"},
       },
       &check_report},
      {"shell",
       "Runs a script with sh -c (or the shell named)",
       {
           {"run", ValueType::string, "The script", {}, true},
           {"shell", ValueType::string, "Shell to run it with", {"sh", "bash", "dash", "zsh"}},
       }},
      {"sql",
       "Runs SQL on a connection of the daemon config; variables are bound parameters",
       {
           {"connection", ValueType::string, "Connection of the daemon config", {}, true},
           {"query", ValueType::string, "SQL text (:name placeholders)"},
           {"file", ValueType::string, "File of SQL"},
           {"params", ValueType::string_map, "Bound parameters (:name in the SQL)"},
           {"fetch_results", ValueType::boolean, "Keep the rows (default true)"},
           {"max_rows", ValueType::integer, "Rows kept (default 1000)"},
           {"transaction", ValueType::boolean, "All statements in one transaction"},
       },
       &check_sql},
      {"webhook",
       "POSTs a JSON payload (an http step with method POST)",
       {
           {"url", ValueType::string, "URL (http or https)", {}, true},
           {"headers", ValueType::string_map, "Request headers"},
           {"json", ValueType::any, "Payload (default: the execution summary)"},
           {"bearer_token", ValueType::string, "Bearer token: ${secret.NAME}"},
           {"expect_status", ValueType::string_list, "Statuses that succeed (default 2xx)"},
           {"max_retries",
            ValueType::integer,
            "Retries on errors, 429 and 5xx (default 3)",
            {},
            false,
            0,
            100},
           {"request_timeout", ValueType::duration, "Limit on each attempt (default 30s)"},
           {"ca_file", ValueType::string, "CA certificates to verify the server with"},
       },
       &check_http},
  };
  return types;
}

const StepType* find_step_type(std::string_view name) {
  const auto& types = step_types();
  const auto it =
      std::find_if(types.begin(), types.end(), [&](const StepType& t) { return t.name == name; });
  return it == types.end() ? nullptr : &*it;
}

void warn_secrets_in_argv(const Node& n, std::string_view what, Diagnostics& out) {
  for_each_variable(n, [&](const Node& scalar, const VariableRef& ref) {
    if (!ref.name.starts_with("secret.")) {
      return;
    }
    const std::string name = ref.name.substr(7);
    out.warning(place_of(scalar, ref),
                "${" + ref.name + "} in \"" + std::string(what) +
                    "\" is a command-line argument, which every local user can read "
                    "(/proc/PID/cmdline, ps); pass it in the environment instead (env: {" +
                    name + ": \"${" + ref.name + "}\"}, read as \"$" + name + "\") or in a file",
                static_cast<int>(ref.end - ref.begin));
  });
}

} // namespace jobs
