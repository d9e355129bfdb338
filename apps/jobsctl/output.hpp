#pragma once

#include <base/error.hpp>
#include <base/text.hpp>
#include <jobs/diagnostics.hpp>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>
#include <vector>

namespace jobsctl {

// While it exists, everything written to std::cout and std::cerr is shown with its control
// characters rendered visibly (base::visible): text from jobs (their output, names, descriptions,
// source lines quoted in findings) cannot act on the terminal. main makes one for the whole run.
class VisibleOutput {
public:
  VisibleOutput();
  ~VisibleOutput();
  VisibleOutput(const VisibleOutput&) = delete;
  VisibleOutput& operator=(const VisibleOutput&) = delete;

  // A stream buffer that writes what it is given through base::VisibleText to another, or,
  // once `pass_through` is called, unchanged.
  class Buffer : public std::streambuf {
  public:
    explicit Buffer(std::streambuf* target) : target_(target) {}
    // Writes what is pending; from now on, writes unchanged.
    void pass_through();
    // Writes what is pending.
    void finish();
    // Writes what is pending, then `sequence` unchanged: an escape sequence of jobsctl's own.
    void write_unchanged(std::string_view sequence);
    std::streambuf* target() const { return target_; }

  protected:
    std::streamsize xsputn(const char* s, std::streamsize n) override;
    int_type overflow(int_type c) override;
    int sync() override;

  private:
    void write(const std::string& text);
    std::streambuf* target_;
    base::VisibleText text_;
    bool raw_ = false;
  };

private:
  Buffer out_;
  Buffer err_;
};

// For --raw: standard output unchanged from now on, control characters and all, so that a file
// gets the exact bytes. Refused on a terminal: prints why to standard error and returns false.
bool raw_stdout();

// Whether standard output is a terminal (tables and headers only then), as it was at the start:
// through a pager it is a pipe, and what jobsctl prints there is for the terminal still.
bool stdout_is_terminal();

// Whether standard input is a terminal (questions are asked only then).
bool stdin_is_terminal();

// Prints "jobsctl: error: ..." (with the source line and caret, if any) to standard error,
// "error" coloured where standard error is.
void print_error(const base::Error& error);

// 'text' for sh, bash and zsh: a word of a command to copy.
std::string sh_quoted(const std::string& text);

// Prints rows as aligned columns separated by two spaces, or, when standard output is not a
// terminal, as tab-separated lines without the header (with it after set_tsv). Cells are aligned
// as they are shown (base::visible). The cells of column `status_column`, if any, are statuses,
// painted in their colour (status_color).
void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows,
                 std::optional<size_t> status_column = std::nullopt);

// --tsv: print_table prints tab-separated lines with the header, on a terminal too.
void set_tsv();

// Whether print_table aligns columns under a header: on a terminal, without --tsv. What goes
// with such a table (next's schedule line) is printed only then.
bool aligned_tables();

// --color: when what jobsctl writes is coloured.
enum class ColorChoice { automatic, always, never };
void set_color(ColorChoice choice);

// Whether `out` (std::cout or std::cerr) is coloured: always with --color=always, never with
// --color=never; by default when it is a terminal, NO_COLOR is unset or empty and TERM is set
// and not "dumb".
bool colored(const std::ostream& out);

enum class Color { none, red, green, yellow, cyan, magenta };

// The colour of an execution's or a step's status: success green; failed, timeout and
// interrupted red; partial_success and skipped yellow; pending and running cyan; cancelled
// magenta (neither a success nor a failure).
Color status_color(std::string_view status);

// Text to print in a colour: `out << Painted{Color::red, "error"}`. The colour's escape sequences
// are jobsctl's own and reach the terminal as they are; the text is rendered visibly as all
// else (VisibleOutput). Plain text where `out` is not coloured.
struct Painted {
  Color color;
  std::string_view text;
};
std::ostream& operator<<(std::ostream& out, const Painted& painted);

// The marks of jobsctl run's and trigger --follow's lines (▶ ✔ ✘ ○ ⊘ ↻ ✉ │): every non-ASCII
// character jobsctl prints of its own.
enum class Glyph { step, success, failure, skipped, cancelled, retry, mail, out_line };

// `glyph` as `out` shows it: "✔" on a terminal whose locale (LC_ALL, LC_CTYPE, LANG) is UTF-8,
// else its ASCII stand-in ("+").
std::string_view glyph(const std::ostream& out, Glyph glyph);

// The mark of a step that ended with `status`: success, skipped, cancelled, else failure.
Glyph status_glyph(std::string_view status);

using base::counted;

// Prints "path:line:col: error: message" (or warning) with its source line and caret, and a
// line end, to `out`, the severity coloured where `out` is.
void print_finding(std::ostream& out, const base::Error& error,
                   std::string_view severity = "error");
void print_finding(std::ostream& out, const jobs::Diagnostic& finding);

// Prints `value` as the JSON output of a verb (jobsctl(1), JSON OUTPUT): indented by two, a byte
// that is not UTF-8 (from a job's output) written as U+FFFD.
void print_json(const nlohmann::ordered_json& value);

// A text of JSON output that may be null (none): the text, or "" for null.
std::string text_or_empty(const nlohmann::ordered_json& value);

// The same on one line, for output that is a stream of objects (logs -f --json).
void print_json_line(const nlohmann::ordered_json& value);

} // namespace jobsctl
