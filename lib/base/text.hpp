#pragma once

#include <cstdint>
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

// `; did you mean "nightly-report"?` with the candidate closest to `word` (suggest), or `otherwise`
// when none is close: the end of an "unknown ..." message.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates,
                         std::string_view otherwise = {});

// "1 step", "2 steps": `n` and `word`, in the plural unless `n` is 1.
std::string counted(std::int64_t n, std::string_view word);

// ASCII lower case.
std::string to_lower(std::string_view s);

// `s` without the spaces and tabs at its ends (nor a line end at its end).
std::string_view trim(std::string_view s);

// Whether `s` is one or more of the digits 0-9.
bool all_digits(std::string_view s);

// `s` in double quotes with control characters escaped, so that a refused value shows what is
// wrong with it without breaking the message.
std::string quoted(std::string_view s);

// `s` as a terminal may show it: every character a terminal would act on is rendered visibly, so
// that text from outside (a job's output, name or source lines) cannot set the window title,
// write the clipboard, clear the screen or overwrite a line. Tab and newline stay; the CR of a
// CR LF is dropped (the line looks as it would); the other C0 controls and DEL are in caret
// notation (ESC `^[`, BEL `^G`, CR `^M`, DEL `^?`), the C1 controls U+0080-U+009F as `cat -v`
// shows their bytes (U+009B, CSI, as `M-^[`), the bidirectional embeddings, overrides and
// isolates U+202A-U+202E and U+2066-U+2069 as `<U+202E>`, and each byte that is not part of
// well-formed UTF-8 as `\xFF`. What it returns is well-formed UTF-8 and `visible` of it is itself.
std::string visible(std::string_view s);

// `visible` for text that comes in pieces (a stream): what `add` returns for each piece, then what
// `finish` returns, is `visible` of the pieces together, wherever they were cut (the start of a
// character or a CR cut off at the end of a piece waits for the next one).
class VisibleText {
public:
  std::string add(std::string_view piece);
  std::string finish();

private:
  std::string pending_;
};

// `s` with every control byte escaped (`\n`, `\r`, `\t`, `\0`, else `\x1b` and the like) and
// backslashes doubled: text from outside (a client, a file, a step) written into one line of a
// log stays one line and cannot move a terminal's cursor.
std::string escaped(std::string_view s);

} // namespace base
