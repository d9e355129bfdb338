// jobsctl: validate, inspect and drive jobs. Parses the command line, runs one verb, and maps
// the outcome to an exit code (base/exit_codes.hpp, man/jobsctl.1).
#include "commands.hpp"
#include "daemon_config.hpp"
#include "options.hpp"
#include "output.hpp"

#include <base/exit_codes.hpp>

#include <iostream>
#include <map>

int main(int argc, char** argv) {
  // All output, --help and errors too, with control characters shown visibly (jobsctl(1): Text
  // from jobs).
  const jobsctl::VisibleOutput visible_output;
  CLI::App app{"jobsctl: validate, inspect and run scheduled jobs", "jobsctl"};
  app.require_subcommand(1);
  app.set_version_flag("-v,--version", jobsctl::version_text);
  app.footer("Exit codes: 0 ok, 1 job failed, 2 usage or invalid input, 3 daemon unreachable,\n"
             "4 job partially succeeded, 5 job timed out, 70 internal error, 77 refused by jobsd\n"
             "(not an admin), 130 interrupted or job cancelled. See jobsctl(1) and jobs(5).");

  std::map<const CLI::App*, jobsctl::Run> runs;
  for (const auto& verb : jobsctl::verbs) {
    CLI::App* command = app.add_subcommand(verb.name, verb.summary);
    runs[command] = verb.setup(*command);
    jobsctl::add_color_option(*command);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    const int code = jobsctl::report_parse_error(app, e);
    // check follows the monitoring plugins' convention: a bad command line is UNKNOWN (3).
    return app.got_subcommand("check") ? 3 : code;
  }

  try {
    for (const auto& [command, run] : runs) {
      if (command->parsed()) {
        return run();
      }
    }
  } catch (const jobsctl::Exit& e) {
    return e.code;
  } catch (const std::exception& e) {
    std::cerr << "jobsctl: internal error: " << e.what() << "\n";
    return base::exit_code::internal;
  }
  return base::exit_code::usage;
}
