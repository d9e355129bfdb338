#include <jobs/doc.hpp>

#include <algorithm>
#include <cctype>

namespace jobs {

bool is_json_number(std::string_view s) {
  size_t i = 0;
  const auto digits = [&] {
    const size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      ++i;
    }
    return i > start;
  };
  if (i < s.size() && s[i] == '-') {
    ++i;
  }
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) {
      return false;
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      ++i;
    }
    if (!digits()) {
      return false;
    }
  }
  return i == s.size();
}

bool is_whole_number(std::string_view text) {
  return is_json_number(text) && text.find_first_of(".eE") == std::string_view::npos;
}

std::optional<bool> boolean_word(std::string_view word) {
  std::string lower(word);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  if (lower == "true" || lower == "yes" || lower == "on") {
    return true;
  }
  if (lower == "false" || lower == "no" || lower == "off") {
    return false;
  }
  return std::nullopt;
}

std::string describe(const Node& n) {
  switch (n.kind) {
  case Node::Kind::null:
    return "nothing";
  case Node::Kind::sequence:
    return n.items.empty() ? "an empty list" : "a list";
  case Node::Kind::map:
    return "a map";
  case Node::Kind::scalar:
    break;
  }
  return (n.quoted ? "the string \"" : "\"") + n.scalar + "\"";
}

Mark inside(const Node& scalar, int offset) {
  return {scalar.mark.line, scalar.mark.column + offset + (scalar.quoted ? 1 : 0)};
}

std::string source_line(std::string_view text, int line) {
  if (line < 1) {
    return {};
  }
  // Columns on the first line do not count a byte order mark, so the line shown does not hold
  // one either.
  if (text.starts_with("\xEF\xBB\xBF")) {
    text.remove_prefix(3);
  }
  size_t start = 0;
  for (int i = 1; i < line; ++i) {
    const size_t newline = text.find('\n', start);
    if (newline == std::string_view::npos) {
      return {};
    }
    start = newline + 1;
  }
  size_t end = text.find('\n', start);
  if (end == std::string_view::npos) {
    end = text.size();
  }
  std::string_view result = text.substr(start, end - start);
  // CRLF endings, and stray carriage returns before them, would move a terminal's cursor back
  // over the line.
  while (!result.empty() && result.back() == '\r') {
    result.remove_suffix(1);
  }
  return std::string(result);
}

} // namespace jobs
