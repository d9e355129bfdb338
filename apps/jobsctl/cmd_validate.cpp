// jobsctl validate [PATH...]: every finding in job files, with its place, for people and CI;
// with the daemon's configuration, also whether the steps' connections and SMTP server exist.
#include "commands.hpp"
#include "daemon_config.hpp"
#include "job_folder.hpp"
#include "output.hpp"

#include <base/exit_codes.hpp>
#include <engine/executor.hpp>
#include <jobs/variables.hpp>
#include <jobsd/job_checks.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

namespace jobsctl {

namespace {

struct ValidateOptions {
  JobFolder folder;
  std::vector<std::string> paths;
  bool strict = false;
  std::string format = "text";
  bool json = false; // the same as --format json
  ConfigOption config;
};

// GitHub workflow commands escape %, CR and LF in messages, and also ',' and ':' in values.
std::string github_escape(const std::string& s, bool property) {
  std::string out;
  for (char c : s) {
    switch (c) {
    case '%':
      out += "%25";
      break;
    case '\r':
      out += "%0D";
      break;
    case '\n':
      out += "%0A";
      break;
    case ':':
      out += property ? "%3A" : ":";
      break;
    case ',':
      out += property ? "%2C" : ",";
      break;
    default:
      out += c;
    }
  }
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The daemon's secrets file, when it has one that this user may read; else nothing.
std::map<std::string, std::string> readable_secrets(const jobsd::Config& config) {
  if (config.secrets_file.empty() || access(config.secrets_file.c_str(), R_OK) != 0) {
    return {};
  }
  auto parsed = engine::parse_secrets(read_text(config.secrets_file), config.secrets_file);
  return parsed ? std::move(*parsed) : std::map<std::string, std::string>{};
}

// Each ${secret.NAME} of the file whose value in `secrets` (the secrets file, when readable) is
// too short to be masked well: an error, though jobsd masks it all the same.
void check_secrets_file(const std::map<std::string, std::string>& secrets, jobs::LoadedFile& file) {
  if (secrets.empty()) {
    return;
  }
  const std::string text = read_text(file.path);
  const auto doc = file.path.ends_with(".json") ? jobs::parse_json(text, file.path)
                                                : jobs::parse_yaml(text, file.path);
  if (!doc) {
    return;
  }
  jobs::Diagnostics out(file.path, text);
  jobs::for_each_variable(*doc, [&](const jobs::Node& scalar, const jobs::VariableRef& ref) {
    const auto it =
        ref.name.starts_with("secret.") ? secrets.find(ref.name.substr(7)) : secrets.end();
    if (it == secrets.end()) {
      return;
    }
    if (const std::string problem = engine::short_secret(it->first, it->second); !problem.empty()) {
      out.error(jobs::place_of(scalar, ref), problem, static_cast<int>(ref.end - ref.begin));
    }
  });
  for (auto& d : out.items()) {
    file.diagnostics.push_back(std::move(d));
  }
}

// Whether `path` (which need not exist) is `folder` or lies below it.
bool lies_in(const std::string& folder, const std::string& path) {
  std::error_code ec;
  const auto outer = std::filesystem::weakly_canonical(folder, ec);
  const auto inner = ec ? outer : std::filesystem::weakly_canonical(path, ec);
  return !ec &&
         std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end()).first == outer.end();
}

// The job files a named path is checked with, so that `after` and duplicate ids resolve as
// jobsd resolves them: --jobs-dir when given, else the configured jobs folder when the path
// lies in it, else the folder named or the job files beside the file named (not below: the
// folder may be a home or /tmp, not meant to be searched).
std::vector<std::string> context_of(const ValidateOptions& o, const std::string& path) {
  if (settings().jobs_dir.origin == jobsd::Origin::flag || lies_in(o.folder.dir(), path)) {
    return {o.folder.dir()};
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return {path};
  }
  const auto parent = std::filesystem::path(path).parent_path();
  std::vector<std::string> beside;
  for (auto it = std::filesystem::directory_iterator(parent.empty() ? "." : parent, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (jobs::is_job_file(it->path())) {
      beside.push_back((parent / it->path().filename()).string());
    }
  }
  return beside;
}

// The named paths loaded, each checked with its jobs folder (context_of). A file given that no
// longer exists in a folder that does was deleted (a pre-commit hook names it): a warning only.
std::vector<jobs::LoadedFile> load_named(const ValidateOptions& o) {
  if (o.paths.empty()) {
    return jobs::load_paths({o.folder.dir()}, o.folder.load_options()).files;
  }
  // Paths of one jobs folder are loaded together, in one pass over it.
  std::map<std::vector<std::string>, std::vector<std::string>> by_context;
  std::vector<jobs::LoadedFile> files;
  for (const auto& path : o.paths) {
    const auto parent = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::symlink_status(path, ec)) &&
        std::filesystem::is_directory(parent.empty() ? "." : parent, ec)) {
      jobs::LoadedFile deleted{path, std::nullopt, {}};
      deleted.diagnostics.push_back(
          {jobs::Severity::warning,
           {"no such file (deleted?): nothing to check", {path, 0, 0}, "", 1}});
      files.push_back(std::move(deleted));
      continue;
    }
    by_context[context_of(o, path)].push_back(path);
  }
  for (const auto& [context, paths] : by_context) {
    auto set = jobs::load_paths(paths, o.folder.load_options(), context);
    std::move(set.files.begin(), set.files.end(), std::back_inserter(files));
  }
  return files;
}

int run_validate(const ValidateOptions& o) {
  const jobsd::Config& config = o.config.load();
  jobs::JobSet set{load_named(o)};
  check_with_config(config, set);
  const bool json = o.json || o.format == "json";
  for (const auto& file : set.files) {
    for (const auto& d : file.diagnostics) {
      const auto& e = d.error;
      const bool warning = d.severity == jobs::Severity::warning;
      if (json) {
        print_json_line(jobs::to_json(d));
      } else if (o.format == "github") {
        std::cout << "::" << (warning ? "warning" : "error")
                  << " file=" << github_escape(e.location.path, true);
        if (e.location.line > 0) {
          std::cout << ",line=" << e.location.line << ",col=" << std::max(e.location.column, 1);
        }
        std::cout << "::" << github_escape(e.message, false) << "\n";
      } else {
        print_finding(std::cout, d);
      }
    }
  }
  const size_t errors = set.error_count();
  const size_t warnings = set.warning_count();
  if (!json) {
    std::cout << counted(set.job_count(), "job") << ", " << counted(errors, "error") << ", "
              << counted(warnings, "warning") << "\n";
  }
  const bool failed = errors > 0 || (o.strict && warnings > 0);
  return failed ? base::exit_code::usage : base::exit_code::ok;
}

} // namespace

void check_with_config(const jobsd::Config& config, jobs::JobSet& set) {
  const auto secrets = readable_secrets(config);
  for (auto& file : set.files) {
    if (file.job) {
      jobsd::check_against_config(config, read_text(file.path), file);
      check_secrets_file(secrets, file);
    }
  }
}

Run setup_validate(CLI::App& command) {
  auto o = std::make_shared<ValidateOptions>();
  command.add_option("paths", o->paths, "Job files or folders; default: the jobs folder");
  o->folder.add_option(command);
  command.add_flag("--strict", o->strict, "Warnings fail too");
  auto* format =
      command.add_option("--format", o->format, "text, json (the same as --json) or github")
          ->check(CLI::IsMember({"text", "json", "github"}))
          ->capture_default_str();
  command.add_flag("--json", o->json, "Print one JSON object a line for each finding")
      ->excludes(format);
  o->config.add_option(command);
  return [o] { return run_validate(*o); };
}

} // namespace jobsctl
