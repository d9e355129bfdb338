#include <sql/script.hpp>

#include <algorithm>
#include <optional>

namespace sql {

namespace {

bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

bool is_ident_char(char c) {
  return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

class Splitter {
public:
  Splitter(std::string_view script, PlaceholderStyle style) : s_(script), style_(style) {}

  base::Result<std::vector<Statement>> run() {
    while (i_ < s_.size()) {
      if (auto error = step()) {
        return *error;
      }
    }
    finish_statement();
    return std::move(statements_);
  }

private:
  std::optional<base::Error> step() {
    const char c = s_[i_];
    const char next = i_ + 1 < s_.size() ? s_[i_ + 1] : '\0';
    const char previous = i_ > 0 ? s_[i_ - 1] : '\0';
    if (c == ';') {
      ++i_;
      finish_statement();
      return std::nullopt;
    }
    if (is_blank(c)) {
      copy(1);
      return std::nullopt;
    }
    if (c == '-' && next == '-') {
      const size_t end = s_.find('\n', i_);
      copy((end == std::string_view::npos ? s_.size() : end) - i_);
      return std::nullopt;
    }
    if (c == '/' && next == '*') {
      return block_comment();
    }
    mark_content();
    if (c == '\'') {
      const bool escapes =
          (previous == 'E' || previous == 'e') && (i_ < 2 || !is_ident_char(s_[i_ - 2]));
      return quoted('\'', escapes, "string literal");
    }
    if (c == '"') {
      return quoted('"', false, "quoted identifier");
    }
    if (c == '$' && !is_ident_char(previous)) {
      size_t j = i_ + 1;
      if (j < s_.size() && is_ident_start(s_[j])) {
        while (j < s_.size() && is_ident_char(s_[j]) && s_[j] != '$') {
          ++j;
        }
      }
      if (j < s_.size() && s_[j] == '$') {
        return dollar_quoted(s_.substr(i_, j + 1 - i_));
      }
      copy(1);
      return std::nullopt;
    }
    if (c == ':' && next == ':') {
      copy(2);
      return std::nullopt;
    }
    if (c == ':' && is_ident_start(next) && static_cast<unsigned char>(next) < 0x80) {
      size_t j = i_ + 1;
      while (j < s_.size() && is_ident_char(s_[j]) && s_[j] != '$' &&
             static_cast<unsigned char>(s_[j]) < 0x80) {
        ++j;
      }
      placeholder(std::string(s_.substr(i_ + 1, j - i_ - 1)));
      advance(j - i_);
      return std::nullopt;
    }
    if (is_ident_char(c)) {
      // A whole word at once, so that "a:b" style cases and "x$y" stay as they are.
      size_t j = i_;
      while (j < s_.size() && is_ident_char(s_[j])) {
        ++j;
      }
      copy(j - i_);
      return std::nullopt;
    }
    copy(1);
    return std::nullopt;
  }

  std::optional<base::Error> block_comment() {
    const int line = line_;
    size_t j = i_ + 2;
    int depth = 1;
    while (j < s_.size() && depth > 0) {
      if (s_[j] == '/' && j + 1 < s_.size() && s_[j + 1] == '*') {
        ++depth;
        j += 2;
      } else if (s_[j] == '*' && j + 1 < s_.size() && s_[j + 1] == '/') {
        --depth;
        j += 2;
      } else {
        ++j;
      }
    }
    if (depth > 0) {
      return error(line, "unterminated /* comment");
    }
    copy(j - i_);
    return std::nullopt;
  }

  std::optional<base::Error> quoted(char quote, bool escapes, const char* what) {
    const int line = line_;
    size_t j = i_ + 1;
    while (j < s_.size()) {
      if (escapes && s_[j] == '\\') {
        j += 2;
        continue;
      }
      if (s_[j] == quote) {
        if (j + 1 < s_.size() && s_[j + 1] == quote) {
          j += 2;
          continue;
        }
        break;
      }
      ++j;
    }
    if (j >= s_.size()) {
      return error(line, std::string("unterminated ") + what);
    }
    copy(j + 1 - i_);
    return std::nullopt;
  }

  std::optional<base::Error> dollar_quoted(std::string_view tag) {
    const size_t end = s_.find(tag, i_ + tag.size());
    if (end == std::string_view::npos) {
      return error(line_, "unterminated dollar-quoted string " + std::string(tag));
    }
    copy(end + tag.size() - i_);
    return std::nullopt;
  }

  void placeholder(const std::string& name) {
    switch (style_) {
    case PlaceholderStyle::named:
      current_.text += ':' + name;
      if (std::find(current_.names.begin(), current_.names.end(), name) == current_.names.end()) {
        current_.names.push_back(name);
      }
      break;
    case PlaceholderStyle::numbered: {
      auto it = std::find(current_.names.begin(), current_.names.end(), name);
      if (it == current_.names.end()) {
        current_.names.push_back(name);
        it = current_.names.end() - 1;
      }
      current_.text += '$' + std::to_string(it - current_.names.begin() + 1);
      break;
    }
    case PlaceholderStyle::question:
      current_.text += '?';
      current_.names.push_back(name);
      break;
    }
  }

  void mark_content() {
    if (!has_content_) {
      has_content_ = true;
      current_.line = line_;
      start_ = i_;
      content_offset_ = current_.text.size();
    }
  }

  // Copies n characters of the script into the current statement.
  void copy(size_t n) {
    current_.text += s_.substr(i_, n);
    advance(n);
  }

  void advance(size_t n) {
    line_ += static_cast<int>(std::count(s_.begin() + static_cast<std::ptrdiff_t>(i_),
                                         s_.begin() + static_cast<std::ptrdiff_t>(i_ + n), '\n'));
    i_ += n;
  }

  void finish_statement() {
    if (has_content_) {
      // The text from the first token on: leading blanks and comments are not sent.
      current_.number = static_cast<int>(statements_.size()) + 1;
      current_.first_line = first_line(s_.substr(start_, i_ - start_));
      current_.text.erase(0, content_offset_);
      while (!current_.text.empty() && is_blank(current_.text.back())) {
        current_.text.pop_back();
      }
      statements_.push_back(std::move(current_));
    }
    current_ = Statement{};
    has_content_ = false;
    content_offset_ = 0;
  }

  base::Error error(int line, std::string message) const {
    base::Error e;
    e.message = std::move(message);
    e.location.line = line;
    return e;
  }

  std::string_view s_;
  PlaceholderStyle style_;
  size_t i_ = 0;
  int line_ = 1;
  size_t start_ = 0;
  size_t content_offset_ = 0;
  bool has_content_ = false;
  Statement current_;
  std::vector<Statement> statements_;
};

} // namespace

std::string first_line(std::string_view text) {
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view line = text.substr(begin, end - begin);
    while (!line.empty() && is_blank(line.front())) {
      line.remove_prefix(1);
    }
    while (!line.empty() && is_blank(line.back())) {
      line.remove_suffix(1);
    }
    if (!line.empty()) {
      std::string out(line);
      if (out.size() > 60) {
        out.resize(57);
        while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) {
          out.pop_back();
        }
        if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) {
          out.pop_back();
        }
        out += "...";
      }
      return out;
    }
    begin = end + 1;
  }
  return "";
}

base::Result<std::vector<Statement>> split_script(std::string_view script, PlaceholderStyle style) {
  return Splitter(script, style).run();
}

} // namespace sql
