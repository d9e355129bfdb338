#include "options.hpp"

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

} // namespace jobsctl
