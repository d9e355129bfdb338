#include "output.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace jobsctl {

namespace {

// The standard output's buffer of the VisibleOutput of this run, for raw_stdout.
VisibleOutput::Buffer* visible_stdout = nullptr;

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
  return isatty(STDOUT_FILENO) != 0;
}

bool stdin_is_terminal() {
  return isatty(STDIN_FILENO) != 0;
}

void print_error(const base::Error& error) {
  std::cerr << "jobsctl: " << error.render() << "\n";
}

void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  if (!stdout_is_terminal()) {
    for (const auto& row : rows) {
      for (size_t k = 0; k < row.size(); ++k) {
        std::cout << (k ? "\t" : "") << row[k];
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
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t k = 0; k < cells.size(); ++k) {
      out += cells[k];
      if (k + 1 < cells.size()) {
        out += std::string(width[k] - cells[k].size() + 2, ' ');
      }
    }
    while (!out.empty() && out.back() == ' ') {
      out.pop_back();
    }
    std::cout << out << "\n";
  };
  line(header);
  for (const auto& row : shown) {
    line(row);
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
