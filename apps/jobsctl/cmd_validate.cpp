// jobsctl validate [PATH...]: every finding in job files, with its place, for people and CI.
#include "commands.hpp"
#include "job_folder.hpp"

#include <base/exit_codes.hpp>

#include <iostream>
#include <nlohmann/json.hpp>

namespace jobsctl {

namespace {

struct ValidateOptions {
  JobFolder folder;
  std::vector<std::string> paths;
  bool strict = false;
  std::string format = "text";
};

std::string plural(size_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

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

int run_validate(const ValidateOptions& o) {
  const auto paths = o.paths.empty() ? std::vector<std::string>{o.folder.dir} : o.paths;
  const auto set = jobs::load_paths(paths, o.folder.load_options());
  for (const auto& file : set.files) {
    for (const auto& d : file.diagnostics) {
      const auto& e = d.error;
      const bool warning = d.severity == jobs::Severity::warning;
      if (o.format == "json") {
        std::cout << nlohmann::json{{"severity", warning ? "warning" : "error"},
                                    {"path", e.location.path},
                                    {"line", e.location.line},
                                    {"column", e.location.column},
                                    {"message", e.message}}
                         .dump()
                  << "\n";
      } else if (o.format == "github") {
        std::cout << "::" << (warning ? "warning" : "error")
                  << " file=" << github_escape(e.location.path, true);
        if (e.location.line > 0) {
          std::cout << ",line=" << e.location.line << ",col=" << std::max(e.location.column, 1);
        }
        std::cout << "::" << github_escape(e.message, false) << "\n";
      } else {
        std::cout << jobs::render(d) << "\n";
      }
    }
  }
  const size_t errors = set.error_count();
  const size_t warnings = set.warning_count();
  if (o.format != "json") {
    std::cout << plural(set.job_count(), "job") << ", " << plural(errors, "error") << ", "
              << plural(warnings, "warning") << "\n";
  }
  const bool failed = errors > 0 || (o.strict && warnings > 0);
  return failed ? base::exit_code::usage : base::exit_code::ok;
}

} // namespace

Run setup_validate(CLI::App& command) {
  auto o = std::make_shared<ValidateOptions>();
  command.add_option("paths", o->paths, "Job files or folders; default: the jobs folder");
  o->folder.add_option(command);
  command.add_flag("--strict", o->strict, "Warnings fail too");
  command.add_option("--format", o->format, "text, json (one object per finding) or github")
      ->check(CLI::IsMember({"text", "json", "github"}))
      ->capture_default_str();
  return [o] { return run_validate(*o); };
}

} // namespace jobsctl
