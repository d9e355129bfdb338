#pragma once

// Splitting a script into statements and finding its `:name` placeholders, skipping string
// literals ('it''s', E'a\'b'), quoted identifiers ("x"), comments (-- and /* */, nested),
// dollar quotes ($$...$$, $tag$...$tag$) and `::` casts.

#include <base/error.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace sql {

// How placeholders are written for the driver.
enum class PlaceholderStyle {
  named,    // kept as `:name`
  numbered, // $1, $2, ... one number per distinct name (PostgreSQL)
  question, // ?, one per occurrence (ODBC)
};

// One statement of a script.
struct Statement {
  std::string text;               // translated, without the ';'
  std::vector<std::string> names; // bound in this order: numbered: $1 = names[0]; question:
                                  // each `?` in turn; named: each distinct name
  int number = 0;                 // 1 for the script's first statement
  int line = 0;                   // the script's line the statement starts on
  std::string first_line;         // its first line, trimmed, for messages
};

// The statements of `script` in order; statements that are only blanks and comments are left
// out. An unterminated literal, identifier or comment is an error with its line.
base::Result<std::vector<Statement>> split_script(std::string_view script, PlaceholderStyle style);

// The first non-blank line of `text`, trimmed, cut at 60 characters.
std::string first_line(std::string_view text);

} // namespace sql
