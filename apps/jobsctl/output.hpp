#pragma once

#include <base/error.hpp>

#include <string>
#include <vector>

namespace jobsctl {

// Whether standard output is a terminal (tables and headers only then).
bool stdout_is_terminal();

// Whether standard input is a terminal (questions are asked only then).
bool stdin_is_terminal();

// Prints "jobsctl: error: ..." (with the source line and caret, if any) to standard error.
void print_error(const base::Error& error);

// Prints rows as aligned columns separated by two spaces, or, when standard output is not a
// terminal, as tab-separated lines without the header.
void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);

} // namespace jobsctl
