#pragma once

// The options that mean the same in every verb that has them, under the same names everywhere
// (jobsctl(1), OPTIONS ACROSS VERBS): a verb declares one with these, never by hand, so that a
// new verb spells them as the others do. The older spellings stay as aliases.

#include <CLI/CLI.hpp>
#include <string>

namespace jobsctl {

// -n N, --limit N (alias --count): at most N records or fires. The caller adds the range and
// the default.
CLI::Option* add_limit_option(CLI::App& command, int& limit, const std::string& description);

// --tz ZONE (alias --timezone): an IANA time zone.
CLI::Option* add_zone_option(CLI::App& command, std::string& zone, const std::string& description);

// -f, --follow: print what is written as it is written, until it ends.
CLI::Option* add_follow_flag(CLI::App& command, bool& follow, const std::string& description);

// --color auto|always|never: whether to colour statuses and the "error:" and "warning:" of
// findings (output.hpp, colored). Every verb has it.
CLI::Option* add_color_option(CLI::App& command);

// --tsv: tables as tab-separated lines with their header row, for scripts (print_table).
CLI::Option* add_tsv_flag(CLI::App& command);

// --no-pager: print to the terminal, not through $PAGER (pager.hpp).
CLI::Option* add_no_pager_flag(CLI::App& command, bool& no_pager);

} // namespace jobsctl
