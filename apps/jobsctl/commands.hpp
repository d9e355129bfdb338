#pragma once

#include <jobsd/job_checks.hpp>

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace jobsd {
struct Config;
}
namespace jobs {
struct JobSet;
}

namespace jobsctl {

// A verb's run function: called after the command line parsed, returns the exit code.
using Run = std::function<int()>;

// What a verb's operand (its positional argument) is, for the shell completion scripts
// (`jobsctl completion`): which values they offer for it.
enum class Operand { other, job, execution, job_or_execution, path, step_type, verb };

// One jobsctl verb: its name, one line for --help (none: hidden), a function that declares its
// options on its subcommand and returns what runs it, and what its operand is.
struct Verb {
  const char* name;
  const char* summary;
  Run (*setup)(CLI::App& command);
  Operand operand = Operand::other;
};

Run setup_next(CLI::App& command);
Run setup_validate(CLI::App& command);
Run setup_list(CLI::App& command);
Run setup_show(CLI::App& command);
Run setup_enable(CLI::App& command);
Run setup_disable(CLI::App& command);
Run setup_new(CLI::App& command);
Run setup_edit(CLI::App& command);
Run setup_delete(CLI::App& command);
Run setup_schema(CLI::App& command);
Run setup_migrate(CLI::App& command);
Run setup_run(CLI::App& command);
Run setup_history(CLI::App& command);
Run setup_logs(CLI::App& command);
Run setup_stats(CLI::App& command);
Run setup_check(CLI::App& command);
Run setup_status(CLI::App& command);
Run setup_trigger(CLI::App& command);
Run setup_cancel(CLI::App& command);
Run setup_reload(CLI::App& command);
Run setup_schedule(CLI::App& command);
Run setup_pause(CLI::App& command);
Run setup_resume(CLI::App& command);
Run setup_connections(CLI::App& command);
Run setup_token(CLI::App& command);
Run setup_config(CLI::App& command);
Run setup_completion(CLI::App& command);
Run setup_help(CLI::App& command);
Run setup_version(CLI::App& command);
Run setup_complete(CLI::App& command);

// Every verb, in the order --help lists them.
inline const Verb verbs[] = {
    {"validate", "Check job files; every finding with its file, line and column", &setup_validate,
     Operand::path},
    {"list", "List the jobs of the folder with their next fire", &setup_list},
    {"show", "Print one job in canonical form with its next fires", &setup_show, Operand::job},
    {"run", "Run a job now in the foreground, without a daemon", &setup_run, Operand::job},
    {"history", "List past executions from the history store", &setup_history, Operand::job},
    {"logs", "Print the log of an execution (a job's last by default); -f follows it", &setup_logs,
     Operand::job_or_execution},
    {"stats", "Sum up each job's runs: by status, success rate, durations, skipped fires",
     &setup_stats, Operand::job},
    {"check", "Check jobsd and the jobs for a monitoring system (exit 0 OK to 3 UNKNOWN)",
     &setup_check, Operand::job},
    {"status", "Show the running jobsd: queues, running executions, file errors", &setup_status},
    {"trigger", "Run a job now in jobsd (--wait, --follow)", &setup_trigger, Operand::job},
    {"cancel", "Cancel a queued or running execution in jobsd", &setup_cancel, Operand::execution},
    {"reload", "Make jobsd re-read the jobs folder now", &setup_reload},
    {"schedule", "Make jobsd run a job once at a given time", &setup_schedule, Operand::job},
    {"pause", "Make jobsd skip jobs' fires until resumed (--until, --reason)", &setup_pause,
     Operand::job},
    {"resume", "End the pause of jobs in jobsd", &setup_resume, Operand::job},
    {"enable", "Set enabled: true in job files, changing nothing else", &setup_enable,
     Operand::job},
    {"disable", "Set enabled: false in job files, changing nothing else", &setup_disable,
     Operand::job},
    {"new", "Write a new, valid, commented job file", &setup_new},
    {"edit", "Edit a job's file in $VISUAL or $EDITOR, checked before it is written (--new ID)",
     &setup_edit, Operand::job},
    {"delete", "Delete jobs' files (asks first)", &setup_delete, Operand::job},
    {"schema", "Print the JSON Schema of job files (or of one step type)", &setup_schema,
     Operand::step_type},
    {"migrate", "Convert crontabs and older JSON jobs into job files", &setup_migrate,
     Operand::path},
    {"next", "Print the next fires of a schedule or a job, with DST notes", &setup_next,
     Operand::job},
    {"connections", "List the daemon config's database connections, or test that they open",
     &setup_connections},
    {"config", "Show the configuration file, folders, socket and zone in use, and their origin",
     &setup_config},
    {"token", "Make, list or revoke the bearer tokens of jobsd's HTTP API", &setup_token},
    {"completion", "Print a shell completion script (bash, zsh, fish)", &setup_completion},
    {"help", "Print the help of jobsctl, or of a verb", &setup_help, Operand::verb},
    {"version", "Print the version of jobsctl", &setup_version},
    // Hidden: what the completion scripts ask for as the user types (job ids, executions, zones).
    {"__complete", "", &setup_complete},
};

// What --version and jobsctl version print.
inline constexpr const char* version_text = "jobsctl " JOBS_VERSION;

// Prints what is wrong with a command line that CLI11 refused, one line beginning "jobsctl: ":
// 'unknown command "histroy"; did you mean "history"?', 'unknown option --jsno; did you mean
// --json?', or CLI11's message after the verb's name. Returns the exit code, 2.
int report_parse_error(CLI::App& root, const CLI::ParseError& error);

using jobsd::connections_unchecked;
using jobsd::unknown_connection;

// The checks of `validate` beyond loading, added to the findings of each file of `set` that has
// a job: its time limit, its steps' connections and SMTP server against `config`, and its
// ${secret.NAME} against the secrets file when it is readable.
void check_with_config(const jobsd::Config& config, jobs::JobSet& set);

} // namespace jobsctl
