#include "options.hpp"

#include "output.hpp"

namespace jobsctl {

CLI::Option* add_limit_option(CLI::App& command, int& limit, const std::string& description) {
  return command.add_option("-n,--limit,--count", limit, description);
}

CLI::Option* add_zone_option(CLI::App& command, std::string& zone, const std::string& description) {
  return command.add_option("--tz,--timezone", zone, description);
}

CLI::Option* add_follow_flag(CLI::App& command, bool& follow, const std::string& description) {
  return command.add_flag("-f,--follow", follow, description);
}

CLI::Option* add_color_option(CLI::App& command) {
  return command
      .add_option_function<std::string>(
          "--color",
          [](const std::string& when) {
            set_color(when == "always"  ? ColorChoice::always
                      : when == "never" ? ColorChoice::never
                                        : ColorChoice::automatic);
          },
          "Colour statuses and errors: auto (on a terminal, without NO_COLOR), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
}

CLI::Option* add_tsv_flag(CLI::App& command) {
  return command.add_flag_callback("--tsv", set_tsv,
                                   "Print tables as tab-separated lines with a header row");
}

CLI::Option* add_no_pager_flag(CLI::App& command, bool& no_pager) {
  return command.add_flag("--no-pager", no_pager, "Print to the terminal, not through $PAGER");
}

} // namespace jobsctl
