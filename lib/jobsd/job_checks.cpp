// Checks of a job against the daemon's configuration, beyond loading it: its time limit and
// the connections and SMTP server its steps use.
#include <base/text.hpp>
#include <jobsd/job_checks.hpp>

#include <algorithm>

namespace jobsd {

namespace {

// The step types whose `connection` names a connection of the daemon's configuration.
bool uses_connection(const std::string& type) {
  return type == "sql" || type == "database_cleanup" || type == "data_export" || type == "backup" ||
         type == "report";
}

// The caret length of a scalar written on one line, quotes included.
int written_length(const jobs::Node& n) {
  if (n.scalar.find('\n') != std::string::npos) {
    return 1;
  }
  return std::max(static_cast<int>(n.scalar.size()) + (n.quoted ? 2 : 0), 1);
}

std::string known_names(const Config& config) {
  std::string out;
  for (const auto& [name, connection] : config.integrations.connections) {
    out += (out.empty() ? "" : ", ") + name;
  }
  return out;
}

// A job left with no time limit (timeout: none, or no timeout under default_timeout: none) can
// run forever, and a run that hangs holds up the job's later fires: a warning, not an error, as
// it may be meant (a migrated crontab's jobs: cron never stopped them).
void check_timeout(const Config& config, const jobs::JobDefinition& job, Audience audience,
                   jobs::Diagnostics& out) {
  if (job.timeout) {
    return;
  }
  std::string consequence;
  switch (job.concurrency) {
  case jobs::Concurrency::forbid:
    consequence = "while it runs, concurrency forbid skips every later fire";
    break;
  case jobs::Concurrency::allow:
    consequence = "runs that hang pile up under concurrency allow";
    break;
  case jobs::Concurrency::replace:
    consequence = "only a later fire stops it (concurrency replace)";
    break;
  }
  const std::string message =
      "the job can run forever, and " + consequence + "; give it a timeout such as 6h";
  if (job.timeout_from == jobs::TimeoutFrom::job) {
    out.warning(job.timeout_mark, "\"timeout: none\": " + message);
    return;
  }
  const auto line = config.lines.find("default_timeout");
  const std::string where =
      audience == Audience::reader
          ? "jobsd's configuration"
          : config.path + (line != config.lines.end() ? ":" + std::to_string(line->second) : "");
  out.warning({1, 1}, "no timeout, and default_timeout is none in " + where + ": " + message);
}

} // namespace

std::string connections_unchecked(const Config& config) {
  if (config.path.empty()) {
    return "no daemon configuration (give --config FILE or set JOBS_CONFIG)";
  }
  if (config.integrations.connections.empty()) {
    return config.path + " has no connections";
  }
  return "";
}

std::string unknown_connection(const Config& config, const std::string& name) {
  std::string message = "unknown connection \"" + name + "\"";
  if (const std::string why = connections_unchecked(config); !why.empty()) {
    return message + ": " + why;
  }
  std::vector<std::string> names;
  for (const auto& [known, connection] : config.integrations.connections) {
    names.push_back(known);
  }
  if (const auto near = base::suggest(name, names, 1); !near.empty()) {
    message += "; did you mean " + base::quoted_alternatives(near) + "?";
  }
  return message + " (connections of " + config.path + ": " + known_names(config) + ")";
}

void check_against_config(const Config& config, const std::string& text, jobs::LoadedFile& file,
                          Audience audience) {
  jobs::Diagnostics out(file.path, text);
  check_timeout(config, *file.job, audience, out);
  const bool reader = audience == Audience::reader;
  // jobsd always has a configuration (its defaults when there is no file).
  const std::string unchecked = !reader ? connections_unchecked(config)
                                : config.integrations.connections.empty()
                                    ? "jobsd's configuration has no connections"
                                    : "";
  // What a step or notification sending mail is told when there is no SMTP server to send with.
  const auto no_smtp = [&](const char* what) {
    return reader ? std::string("jobsd's configuration has no smtp server: this ") + what
           : config.path.empty() ? std::string("smtp server not checked: no daemon configuration "
                                               "(give --config FILE or set JOBS_CONFIG)")
                                 : config.path + " has no smtp server: this " + what;
  };
  for (const auto& step : file.job->steps) {
    const jobs::Node* connection = step.keys.find("connection");
    if (uses_connection(step.type) && connection != nullptr && connection->is_scalar()) {
      const std::string& name = connection->scalar;
      if (!unchecked.empty()) {
        out.warning(connection->mark, "connection \"" + name + "\" not checked: " + unchecked,
                    written_length(*connection));
      } else if (config.integrations.connections.count(name) == 0) {
        out.error(connection->mark,
                  reader ? "connection " + base::quoted(name) +
                               " is not configured in jobsd's configuration"
                         : unknown_connection(config, name),
                  written_length(*connection));
      }
    }
    const jobs::Node* mails = step.type == "email"    ? step.keys.find("type")
                              : step.type == "report" ? step.keys.find("email")
                                                      : nullptr;
    if (mails != nullptr && !config.integrations.smtp) {
      out.warning(mails->mark, no_smtp("step fails when it sends mail"), written_length(*mails));
    }
  }
  if (!config.integrations.smtp) {
    for (const auto* list : {&file.job->on_failure, &file.job->on_success, &file.job->on_retry}) {
      for (const auto& n : *list) {
        if (n.kind == "email") {
          out.warning(n.mark, no_smtp("notification cannot be sent"), 5);
        }
      }
    }
  }
  for (auto& d : out.items()) {
    file.diagnostics.push_back(std::move(d));
  }
}

} // namespace jobsd
