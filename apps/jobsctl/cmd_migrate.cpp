// jobsctl migrate: crontabs and the older designs' JSON jobs into job files, every behaviour
// difference said and every line that does not convert reported.
#include "commands.hpp"
#include "job_folder.hpp"
#include "options.hpp"
#include "output.hpp"

#include <base/exit_codes.hpp>
#include <jobs/canonical.hpp>
#include <jobs/edit.hpp>
#include <jobs/migrate.hpp>
#include <tz/zone.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

namespace jobsctl {

namespace {

struct MigrateOptions {
  JobFolder folder;
  std::vector<std::string> sources;
  std::string out;
  bool dry_run = false;
  bool enable = false; // else jobs are written disabled, as the old scheduler still runs them
  std::string format = "yaml";
  std::string timezone;
  std::string crontab; // "user", "system" or empty (from the path)
};

// A line of the report: a finding or the outcome of one job, placed at its source line.
struct ReportLine {
  int line;
  int column;
  std::string severity; // "note" or "error"
  std::string message;
  int entry; // the line of the crontab line or JSON job it concerns
};

struct Totals {
  size_t written = 0;
  size_t differences = 0;
  size_t unconverted = 0; // entries (crontab lines, JSON jobs), not errors
  // The jobs written disabled only because --enable was not given, for the command that
  // enables them.
  std::vector<std::string> held;
};

class Migration {
public:
  Migration(const MigrateOptions& o, std::string out_dir)
      : o_(o), out_dir_(std::move(out_dir)), load_options_(o.folder.load_options()) {
    std::error_code ec;
    if (std::filesystem::is_directory(out_dir_, ec)) {
      const auto set = jobs::load_paths({out_dir_}, load_options_);
      for (const auto& f : set.files) {
        if (f.job) {
          existing_[f.job->id] = f.path;
        }
      }
    }
  }

  void source(const std::string& path, const jobs::migrate::Options& options) {
    std::string text;
    if (path == "-") {
      std::stringstream buffer;
      buffer << std::cin.rdbuf();
      text = buffer.str();
    } else {
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        std::cerr << "jobsctl: " << path << ": cannot read: " << std::strerror(errno) << "\n";
        ++totals_.unconverted;
        return;
      }
      std::stringstream buffer;
      buffer << in.rdbuf();
      text = buffer.str();
    }
    const std::string name = path == "-" ? "<stdin>" : path;
    auto result = jobs::migrate::convert(path == "-" ? "stdin" : path, text, options);

    std::vector<ReportLine> report;
    for (const auto& f : result.findings) {
      const bool error = f.kind == jobs::migrate::Finding::Kind::unconverted;
      report.push_back({f.line, f.column, error ? "error" : "note", f.message, f.entry});
    }
    for (auto& job : result.jobs) {
      convert_job(name, text, result.format, job, report);
    }
    std::stable_sort(report.begin(), report.end(),
                     [](const ReportLine& a, const ReportLine& b) { return a.line < b.line; });
    std::set<int> unconverted; // entries with an error
    for (const auto& r : report) {
      if (r.severity == "error") {
        unconverted.insert(r.entry);
        base::Error e{r.message, {name, r.line, r.column}, {}, 1};
        if (r.column > 0) {
          e.source_line = jobs::source_line(text, r.line);
        }
        print_finding(std::cerr, e);
      } else {
        ++totals_.differences;
        std::cerr << name << ":" << r.line << ": note: " << r.message << "\n";
      }
    }
    totals_.unconverted += unconverted.size();
    if (result.jobs.empty() && report.empty()) {
      std::cerr << name << ": no jobs in this " << result.format << "\n";
    }
  }

  const Totals& totals() const { return totals_; }

private:
  // Names, renders, checks and writes (or prints) one converted job.
  void convert_job(const std::string& name, std::string_view text, const std::string& format,
                   jobs::migrate::Job& job, std::vector<ReportLine>& report) {
    std::string id = job.id;
    if (const auto it = existing_.find(id); it != existing_.end()) {
      report.push_back({job.line, 0, "error",
                        "a job \"" + id + "\" exists already (" + it->second +
                            "); not overwritten (--out writes elsewhere)",
                        job.line});
      return;
    }
    for (int n = 2; taken_.count(id); ++n) {
      id = job.id + "-" + std::to_string(n);
    }
    if (id != job.id) {
      report.push_back(
          {job.line, 0, "note",
           "id \"" + job.id + "\" is taken by another migrated job; this one is \"" + id + "\"",
           job.line});
    }
    const std::string ext = o_.format == "json" ? ".json" : ".yaml";
    const std::string path = out_dir_ + "/" + id + ext;
    std::error_code ec;
    for (const char* e : {".yaml", ".yml", ".json"}) {
      if (std::filesystem::exists(out_dir_ + "/" + id + e, ec)) {
        report.push_back({job.line, 0, "error",
                          out_dir_ + "/" + id + e + " exists already; not overwritten", job.line});
        return;
      }
    }

    // Until the old scheduler stops, the job would run twice. A job already disabled (the
    // source's, or a line cron never ran) stays so, even with --enable.
    const bool held = !o_.enable && job.doc.value("enabled", nlohmann::ordered_json(true)) != false;
    if (held) {
      jobs::migrate::disable(job.doc);
    }
    std::string content;
    if (o_.format == "json") {
      content = job.doc.dump(2) + "\n";
    } else {
      content = "# Migrated by jobsctl migrate from " + name + ":" + std::to_string(job.line) +
                " (" + format + ")\n";
      if (format.find("crontab") != std::string::npos) {
        content += "#   " + jobs::source_line(text, job.line) + "\n";
      }
      content += jobs::to_yaml(job.doc);
    }

    // What is written must load; what does not is reported, never written.
    const auto check = jobs::load_job_text(path, content, load_options_);
    for (const auto& d : check.diagnostics) {
      const bool error = d.severity == jobs::Severity::error;
      report.push_back({job.line, 0, error ? "error" : "note",
                        (error ? "job \"" + id + "\" not converted: " : "job \"" + id + "\": ") +
                            d.error.message,
                        job.line});
    }
    if (check.has_errors()) {
      return;
    }
    taken_.insert(id);
    ++totals_.written;
    if (held) {
      totals_.held.push_back(id);
    }
    if (o_.dry_run) {
      std::cout << "==> " << path << " <==\n" << content << "\n";
      return;
    }
    std::filesystem::create_directories(out_dir_, ec);
    if (auto written = jobs::write_file_atomically(path, content); !written) {
      report.push_back({job.line, 0, "error", written.error().message, job.line});
      --totals_.written;
      if (held) {
        totals_.held.pop_back();
      }
      return;
    }
    std::cout << "wrote " << path << " (" << name << ":" << job.line << ")\n";
  }

  const MigrateOptions& o_;
  std::string out_dir_;
  jobs::LoadOptions load_options_;
  std::map<std::string, std::string> existing_; // id -> file, in the output folder
  std::set<std::string> taken_;                 // ids given in this run
  Totals totals_;
};

int run_migrate(const MigrateOptions& o) {
  jobs::migrate::Options options;
  options.timezone = o.timezone.empty() ? tz::host_zone_name() : o.timezone;
  if (auto zone = tz::find_zone(options.timezone); !zone) {
    std::cerr << "jobsctl: --timezone: " << zone.error().message << "\n";
    return base::exit_code::usage;
  }
  if (!o.crontab.empty()) {
    options.user_column = o.crontab == "system";
  }
  const std::string folder = o.out.empty() ? o.folder.dir() : o.out;
  Migration migration(o, folder);
  for (const auto& source : o.sources) {
    migration.source(source, options);
  }
  const Totals& t = migration.totals();
  std::cerr << "migrate: " << t.written << (t.written == 1 ? " job " : " jobs ")
            << (o.dry_run ? "to write" : "written") << ", " << t.differences
            << (t.differences == 1 ? " difference" : " differences") << ", " << t.unconverted
            << " not converted\n";
  if (!t.held.empty()) {
    std::cerr << "migrate: " << (t.held.size() == 1 ? "the job says" : "the jobs say")
              << " enabled: false, so that nothing runs twice while the old scheduler still runs "
              << (t.held.size() == 1 ? "it" : "them") << "; once it no longer does:\n"
              << "  jobsctl enable --jobs-dir " << sh_quoted(folder);
    for (const auto& id : t.held) {
      std::cerr << " " << id;
    }
    std::cerr << "\n";
  }
  return t.unconverted > 0 ? base::exit_code::usage : base::exit_code::ok;
}

} // namespace

Run setup_migrate(CLI::App& command) {
  auto o = std::make_shared<MigrateOptions>();
  command
      .add_option("sources", o->sources,
                  "Crontabs and JSON job files of the older schedulers ('-': standard input)")
      ->required();
  command.add_option("--out", o->out, "Folder to write the job files to (default: --jobs-dir)");
  command.add_flag("--dry-run", o->dry_run, "Print the files instead of writing them");
  command.add_flag("--enable", o->enable,
                   "Write the jobs enabled, once the old scheduler no longer runs them (jobs it "
                   "never ran stay disabled)");
  command.add_option("--format", o->format, "yaml or json")
      ->check(CLI::IsMember({"yaml", "json"}))
      ->capture_default_str();
  add_zone_option(command, o->timezone,
                  "Zone the old scheduler read times in (default: this host's)");
  command
      .add_option("--crontab", o->crontab,
                  "user or system (with a user column); default: system for /etc/crontab and "
                  "cron.d files")
      ->check(CLI::IsMember({"user", "system"}));
  o->folder.add_option(command);
  return [o] { return run_migrate(*o); };
}

} // namespace jobsctl
