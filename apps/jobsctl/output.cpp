#include "output.hpp"

#include <langinfo.h>
#include <unistd.h>

#include <algorithm>
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>

namespace jobsctl {

namespace {

// The standard output's buffer of the VisibleOutput of this run, for raw_stdout.
VisibleOutput::Buffer* visible_stdout = nullptr;

bool tsv = false;
ColorChoice color_choice = ColorChoice::automatic;

bool stderr_is_terminal() {
  static const bool terminal = isatty(STDERR_FILENO) != 0;
  return terminal;
}

bool is_terminal(const std::ostream& out) {
  return &out == &std::cerr ? stderr_is_terminal() : stdout_is_terminal();
}

// Whether the locale of the environment encodes characters in UTF-8. jobsctl takes the
// environment's LC_CTYPE for this alone: what it prints depends on no other part of the locale.
bool utf8_locale() {
  static const bool utf8 = [] {
    std::setlocale(LC_CTYPE, "");
    return std::string_view(nl_langinfo(CODESET)) == "UTF-8";
  }();
  return utf8;
}

// Writes `sequence` to `out` as it is, past the visible rendering of VisibleOutput.
void write_unchanged(std::ostream& out, std::string_view sequence) {
  out.flush();
  if (auto* visible = dynamic_cast<VisibleOutput::Buffer*>(out.rdbuf())) {
    visible->write_unchanged(sequence);
  } else {
    out << sequence;
  }
}

const char* escape_of(Color color) {
  switch (color) {
  case Color::red:
    return "\033[31m";
  case Color::green:
    return "\033[32m";
  case Color::yellow:
    return "\033[33m";
  case Color::magenta:
    return "\033[35m";
  case Color::cyan:
    return "\033[36m";
  case Color::none:
    break;
  }
  return "";
}

struct GlyphForms {
  std::string_view unicode;
  std::string_view ascii;
};

// By Glyph.
constexpr GlyphForms glyph_forms[] = {
    {"▶", ">"}, {"✔", "+"}, {"✘", "x"}, {"○", "-"}, {"⊘", "/"}, {"↻", "~"}, {"✉", "@"}, {"│", "|"},
};
static_assert(std::size(glyph_forms) == static_cast<size_t>(Glyph::out_line) + 1);

} // namespace

VisibleOutput::VisibleOutput() : out_(std::cout.rdbuf()), err_(std::cerr.rdbuf()) {
  std::cout.rdbuf(&out_);
  std::cerr.rdbuf(&err_);
  visible_stdout = &out_;
}

VisibleOutput::~VisibleOutput() {
  std::cout.flush();
  std::cerr.flush();
  out_.finish();
  err_.finish();
  visible_stdout = nullptr;
  std::cout.rdbuf(out_.target());
  std::cerr.rdbuf(err_.target());
}

void VisibleOutput::Buffer::pass_through() {
  finish();
  raw_ = true;
}

void VisibleOutput::Buffer::write_unchanged(std::string_view sequence) {
  write(text_.finish());
  target_->sputn(sequence.data(), static_cast<std::streamsize>(sequence.size()));
}

void VisibleOutput::Buffer::finish() {
  write(text_.finish());
  target_->pubsync();
}

std::streamsize VisibleOutput::Buffer::xsputn(const char* s, std::streamsize n) {
  if (raw_) {
    return target_->sputn(s, n);
  }
  write(text_.add(std::string_view(s, static_cast<size_t>(n))));
  return n;
}

VisibleOutput::Buffer::int_type VisibleOutput::Buffer::overflow(int_type c) {
  if (traits_type::eq_int_type(c, traits_type::eof())) {
    return traits_type::not_eof(c);
  }
  const char ch = traits_type::to_char_type(c);
  return xsputn(&ch, 1) == 1 ? c : traits_type::eof();
}

int VisibleOutput::Buffer::sync() {
  return target_->pubsync();
}

void VisibleOutput::Buffer::write(const std::string& text) {
  target_->sputn(text.data(), static_cast<std::streamsize>(text.size()));
}

bool raw_stdout() {
  if (stdout_is_terminal()) {
    std::cerr << "jobsctl: --raw writes control characters from jobs unchanged, and a terminal "
                 "would act on them: it is for a file or a pipe (jobsctl logs JOB --raw > FILE)\n";
    return false;
  }
  std::cout.flush();
  if (visible_stdout != nullptr) {
    visible_stdout->pass_through();
  }
  return true;
}

bool stdout_is_terminal() {
  // Asked once: a pager takes standard output to a pipe later.
  static const bool terminal = isatty(STDOUT_FILENO) != 0;
  return terminal;
}

bool stdin_is_terminal() {
  return isatty(STDIN_FILENO) != 0;
}

void print_error(const base::Error& error) {
  std::cerr << "jobsctl: ";
  print_finding(std::cerr, error);
}

void print_finding(std::ostream& out, const base::Error& error, std::string_view severity) {
  const Color color = severity == "error"     ? Color::red
                      : severity == "warning" ? Color::yellow
                                              : Color::none;
  out << error.place() << Painted{color, severity} << ": " << error.detail() << "\n";
}

void print_finding(std::ostream& out, const jobs::Diagnostic& finding) {
  print_finding(out, finding.error,
                finding.severity == jobs::Severity::error ? "error" : "warning");
}

void set_tsv() {
  tsv = true;
}

bool aligned_tables() {
  return !tsv && stdout_is_terminal();
}

void set_color(ColorChoice choice) {
  color_choice = choice;
}

bool colored(const std::ostream& out) {
  if (color_choice != ColorChoice::automatic) {
    return color_choice == ColorChoice::always;
  }
  const char* no_color = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  // No TERM is no more a colour terminal than TERM=dumb.
  return is_terminal(out) && (no_color == nullptr || *no_color == '\0') && term != nullptr &&
         std::string_view(term) != "dumb" && *term != '\0';
}

Color status_color(std::string_view status) {
  if (status == "success") {
    return Color::green;
  }
  if (status == "failed" || status == "timeout" || status == "interrupted") {
    return Color::red;
  }
  if (status == "partial_success" || status == "skipped") {
    return Color::yellow;
  }
  if (status == "pending" || status == "running") {
    return Color::cyan;
  }
  return status == "cancelled" ? Color::magenta : Color::none;
}

std::ostream& operator<<(std::ostream& out, const Painted& painted) {
  if (painted.color == Color::none || painted.text.empty() || !colored(out)) {
    return out << painted.text;
  }
  write_unchanged(out, escape_of(painted.color));
  out << painted.text;
  write_unchanged(out, "\033[0m");
  return out;
}

std::string_view glyph(const std::ostream& out, Glyph glyph) {
  const auto& forms = glyph_forms[static_cast<size_t>(glyph)];
  return is_terminal(out) && utf8_locale() ? forms.unicode : forms.ascii;
}

Glyph status_glyph(std::string_view status) {
  if (status.starts_with("success")) {
    return Glyph::success;
  }
  if (status.starts_with("skipped")) {
    return Glyph::skipped;
  }
  return status.starts_with("cancelled") ? Glyph::cancelled : Glyph::failure;
}

void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows,
                 std::optional<size_t> status_column) {
  // A status cell in its colour, any other as it is.
  const auto print_cell = [&](size_t k, std::string_view text) {
    std::cout << Painted{k == status_column ? status_color(text) : Color::none, text};
  };
  if (!aligned_tables()) {
    if (tsv) {
      for (size_t k = 0; k < header.size(); ++k) {
        std::cout << (k ? "\t" : "") << header[k];
      }
      std::cout << "\n";
    }
    for (const auto& row : rows) {
      for (size_t k = 0; k < row.size(); ++k) {
        std::cout << (k ? "\t" : "");
        print_cell(k, row[k]);
      }
      std::cout << "\n";
    }
    return;
  }
  // Aligned as shown: a control character takes the room of its rendering.
  std::vector<std::vector<std::string>> shown;
  for (const auto& row : rows) {
    auto& shown_row = shown.emplace_back();
    for (const auto& cell : row) {
      shown_row.push_back(base::visible(cell));
    }
  }
  std::vector<size_t> width(header.size());
  for (size_t k = 0; k < header.size(); ++k) {
    width[k] = header[k].size();
    for (const auto& row : shown) {
      width[k] = std::max(width[k], row[k].size());
    }
  }
  // Padded to the widths before any colour: the escape sequences take no room on the screen.
  auto line = [&](const std::vector<std::string>& cells, bool painted) {
    std::string out;
    size_t status_at = std::string::npos;
    for (size_t k = 0; k < cells.size(); ++k) {
      if (painted && k == status_column) {
        status_at = out.size();
      }
      out += cells[k];
      if (k + 1 < cells.size()) {
        out += std::string(width[k] - cells[k].size() + 2, ' ');
      }
    }
    while (!out.empty() && out.back() == ' ') {
      out.pop_back();
    }
    if (status_at >= out.size()) {
      std::cout << out << "\n";
      return;
    }
    const size_t length = std::min(cells[*status_column].size(), out.size() - status_at);
    std::cout << out.substr(0, status_at);
    print_cell(*status_column, std::string_view(out).substr(status_at, length));
    std::cout << out.substr(status_at + length) << "\n";
  };
  line(header, false);
  for (const auto& row : shown) {
    line(row, true);
  }
}

std::string sh_quoted(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

void print_json(const nlohmann::ordered_json& value) {
  std::cout << value.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
}

std::string text_or_empty(const nlohmann::ordered_json& value) {
  return value.is_string() ? value.get<std::string>() : std::string();
}

void print_json_line(const nlohmann::ordered_json& value) {
  std::cout << value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  std::cout.flush();
}

} // namespace jobsctl
