#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace base {

// Case-insensitive Damerau-Levenshtein distance (adjacent transpositions cost 1).
size_t edit_distance(std::string_view a, std::string_view b);

// The candidates closest to `word` (at most `max_results`, best first), or none when nothing
// is close enough to be a plausible typo.
std::vector<std::string> suggest(std::string_view word, const std::vector<std::string>& candidates,
                                 size_t max_results = 3);

// `"a"`, `"a" or "b"`, `"a", "b" or "c"`: for "did you mean ...?" messages.
std::string quoted_alternatives(const std::vector<std::string>& words);

// ASCII lower case.
std::string to_lower(std::string_view s);

// `s` without the spaces and tabs at its ends (nor a line end at its end).
std::string_view trim(std::string_view s);

// Whether `s` is one or more of the digits 0-9.
bool all_digits(std::string_view s);

// `s` in double quotes with control characters escaped, so that a refused value shows what is
// wrong with it without breaking the message.
std::string quoted(std::string_view s);

// `s` with every control byte escaped (`\n`, `\r`, `\t`, `\0`, else `\x1b` and the like) and
// backslashes doubled: text from outside (a client, a file, a step) written into one line of a
// log stays one line and cannot move a terminal's cursor.
std::string escaped(std::string_view s);

} // namespace base
