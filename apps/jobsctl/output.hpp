#pragma once

#include <base/error.hpp>
#include <base/text.hpp>

#include <nlohmann/json.hpp>
#include <streambuf>
#include <string>
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

// Whether standard output is a terminal (tables and headers only then).
bool stdout_is_terminal();

// Whether standard input is a terminal (questions are asked only then).
bool stdin_is_terminal();

// Prints "jobsctl: error: ..." (with the source line and caret, if any) to standard error.
void print_error(const base::Error& error);

// 'text' for sh, bash and zsh: a word of a command to copy.
std::string sh_quoted(const std::string& text);

// Prints rows as aligned columns separated by two spaces, or, when standard output is not a
// terminal, as tab-separated lines without the header. Cells are aligned as they are shown
// (base::visible).
void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);

// Prints `value` as the JSON output of a verb (jobsctl(1), JSON OUTPUT): indented by two, a byte
// that is not UTF-8 (from a job's output) written as U+FFFD.
void print_json(const nlohmann::ordered_json& value);

// A text of JSON output that may be null (none): the text, or "" for null.
std::string text_or_empty(const nlohmann::ordered_json& value);

// The same on one line, for output that is a stream of objects (logs -f --json).
void print_json_line(const nlohmann::ordered_json& value);

} // namespace jobsctl
