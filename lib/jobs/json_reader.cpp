// A small recursive-descent JSON parser (RFC 8259) that keeps the place of every value and key.
// Written by hand rather than taken from a JSON library so that every error names the exact
// line and column, and so that numbers keep the text they were written with.
#include <base/utf8.hpp>
#include <jobs/doc.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <unordered_map>

namespace jobs {

namespace {

using base::utf8::is_continuation;
using base::utf8::quote;
using base::utf8::utf8_length;

constexpr int max_depth = 200;

// Objects with more members than this find duplicate keys through a hash map instead of a scan,
// so that a huge object costs linear time.
constexpr size_t linear_key_scan = 16;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string code_point_name(unsigned cp) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "U+%04X", cp);
  return buffer;
}

// Where the parser is: a byte offset and the 1-based line and column it falls on. Columns count
// characters (bytes that do not continue a UTF-8 sequence), so carets line up under non-ASCII
// text; carriage returns take no column, as source_line() leaves them out.
struct Position {
  size_t offset = 0;
  int line = 1;
  int column = 1;
};

class Parser {
public:
  Parser(std::string_view text, const std::string& path) : text_(text), path_(path) {}

  base::Result<Node> run() {
    if (text_.starts_with("\xEF\xBB\xBF")) {
      at_.offset = 3; // the byte order mark takes no column
    }
    Node root;
    if (parse_value(root, 0)) {
      skip_whitespace();
      if (!at_end()) {
        expected("end of file after the document");
      }
    }
    if (error_) {
      return std::move(*error_);
    }
    return root;
  }

private:
  bool at_end() const { return at_.offset >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[at_.offset]; }

  void advance(size_t count = 1) {
    for (size_t i = 0; i < count && !at_end(); ++i) {
      const char c = text_[at_.offset++];
      if (c == '\n') {
        ++at_.line;
        at_.column = 1;
      } else if (c != '\r' && !is_continuation(c)) {
        ++at_.column;
      }
    }
  }

  void skip_whitespace() {
    for (;;) {
      const char c = peek();
      if (at_end() || (c != ' ' && c != '\t' && c != '\n' && c != '\r')) {
        return;
      }
      advance();
    }
  }

  static Mark mark(const Position& p) { return Mark{p.line, p.column}; }

  bool fail(const Position& where, std::string message, int length = 1) {
    base::Error e;
    e.message = std::move(message);
    e.location = base::Location{path_, where.line, where.column};
    e.source_line = source_line(text_, where.line);
    e.length = length < 1 ? 1 : length;
    error_ = std::move(e);
    return false;
  }

  // The word (letters, digits, '_') at the current position, for messages about `True`, `nul`
  // or an unquoted key.
  std::string_view word() const {
    size_t end = at_.offset;
    while (end < text_.size() &&
           (is_alpha(text_[end]) || is_digit(text_[end]) || text_[end] == '_')) {
      ++end;
    }
    return text_.substr(at_.offset, end - at_.offset);
  }

  // What is at the current position, for "got ..." in messages.
  std::string describe_here() const {
    const char c = peek();
    if (is_alpha(c)) {
      return "'" + std::string(word()) + "'";
    }
    if (c == '\'') {
      return "a single quote (JSON strings take double quotes)";
    }
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7F) {
      return std::string("'") + c + "'";
    }
    if (byte < 0x80) {
      return code_point_name(byte);
    }
    const size_t length = utf8_length(text_, at_.offset);
    if (length == 0) {
      char buffer[16];
      std::snprintf(buffer, sizeof buffer, "byte 0x%02X", static_cast<unsigned>(byte));
      return buffer;
    }
    return "'" + std::string(text_.substr(at_.offset, length)) + "'";
  }

  // "expected X, got Y" at the current position, or "unexpected end of file, expected X".
  bool expected(const std::string& what) {
    if (at_end()) {
      return fail(at_, "unexpected end of file, expected " + what);
    }
    const int length = is_alpha(peek()) ? static_cast<int>(word().size()) : 1;
    return fail(at_, "expected " + what + ", got " + describe_here(), length);
  }

  bool parse_value(Node& out, int depth) {
    skip_whitespace();
    out.mark = mark(at_);
    switch (peek()) {
    case '{':
      return parse_object(out, depth);
    case '[':
      return parse_array(out, depth);
    case '"':
      out.kind = Node::Kind::scalar;
      out.quoted = true;
      return parse_string(out.scalar);
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
      out.kind = Node::Kind::scalar;
      return parse_number(out.scalar);
    default:
      break;
    }
    const std::string_view literal = word();
    if (literal == "null") {
      out.kind = Node::Kind::null;
    } else if (literal == "true" || literal == "false") {
      out.kind = Node::Kind::scalar;
      out.scalar = std::string(literal);
    } else {
      return expected("a value");
    }
    advance(literal.size());
    return true;
  }

  bool check_depth(int depth) {
    if (depth >= max_depth) {
      return fail(at_, "nesting too deep (more than " + std::to_string(max_depth) + " levels)");
    }
    return true;
  }

  bool parse_object(Node& out, int depth) {
    if (!check_depth(depth)) {
      return false;
    }
    out.kind = Node::Kind::map;
    advance(); // '{'
    skip_whitespace();
    if (peek() == '}') {
      advance();
      return true;
    }
    std::unordered_map<std::string, int> key_lines; // used once the object is large
    std::optional<Position> comma;
    for (;;) {
      if (peek() != '"') {
        if (comma && peek() == '}') {
          return fail(*comma, "trailing comma before '}'");
        }
        return expected(comma ? "a string key after ','" : "a string key or '}'");
      }
      Node::Entry entry;
      const Position key_at = at_;
      entry.key_mark = mark(key_at);
      if (!parse_string(entry.key)) {
        return false;
      }
      const int key_length = at_.line == key_at.line ? at_.column - key_at.column : 1;
      int first_line = 0;
      if (out.entries.size() < linear_key_scan) {
        for (const auto& e : out.entries) {
          if (e.key == entry.key) {
            first_line = e.key_mark.line;
            break;
          }
        }
      } else {
        if (key_lines.empty()) {
          for (const auto& e : out.entries) {
            key_lines.emplace(e.key, e.key_mark.line);
          }
        }
        const auto [it, inserted] = key_lines.emplace(entry.key, entry.key_mark.line);
        if (!inserted) {
          first_line = it->second;
        }
      }
      if (first_line != 0) {
        return fail(key_at,
                    "duplicate key " + quote(entry.key) + " (first at line " +
                        std::to_string(first_line) + ")",
                    key_length);
      }
      skip_whitespace();
      if (peek() != ':') {
        return expected("':' after an object key");
      }
      advance();
      if (!parse_value(entry.value, depth + 1)) {
        return false;
      }
      out.entries.push_back(std::move(entry));
      skip_whitespace();
      if (peek() == '}') {
        advance();
        return true;
      }
      if (peek() != ',') {
        return expected("',' or '}' after an object member");
      }
      comma = at_;
      advance();
      skip_whitespace();
    }
  }

  bool parse_array(Node& out, int depth) {
    if (!check_depth(depth)) {
      return false;
    }
    out.kind = Node::Kind::sequence;
    advance(); // '['
    skip_whitespace();
    if (peek() == ']') {
      advance();
      return true;
    }
    std::optional<Position> comma;
    for (;;) {
      if (comma && peek() == ']') {
        return fail(*comma, "trailing comma before ']'");
      }
      if (comma && peek() == ',') {
        return expected("a value after ','");
      }
      if (!comma && peek() == ',') {
        return expected("a value or ']'");
      }
      Node item;
      if (!parse_value(item, depth + 1)) {
        return false;
      }
      out.items.push_back(std::move(item));
      skip_whitespace();
      if (peek() == ']') {
        advance();
        return true;
      }
      if (peek() != ',') {
        return expected("',' or ']' after an array item");
      }
      comma = at_;
      advance();
      skip_whitespace();
    }
  }

  // Four hex digits at `offset`, or -1.
  long hex4(size_t offset) const {
    if (offset + 4 > text_.size()) {
      return -1;
    }
    long value = 0;
    for (size_t i = 0; i < 4; ++i) {
      const int digit = hex_value(text_[offset + i]);
      if (digit < 0) {
        return -1;
      }
      value = value * 16 + digit;
    }
    return value;
  }

  bool parse_string(std::string& out) {
    const Position start = at_;
    advance(); // '"'
    for (;;) {
      if (at_end()) {
        return fail(start, "unterminated string");
      }
      const char c = peek();
      const auto byte = static_cast<unsigned char>(c);
      if (c == '"') {
        advance();
        return true;
      }
      // A line break inside a string almost always means a missing closing quote.
      if (c == '\n' || c == '\r') {
        return fail(start, "unterminated string");
      }
      if (byte < 0x20) {
        static const char* const short_forms[32] = {
            nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
            "\\b",   "\\t",   nullptr, nullptr, "\\f",   nullptr, nullptr, nullptr,
            nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
            nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\u%04X", static_cast<unsigned>(byte));
        const char* form = short_forms[byte] != nullptr ? short_forms[byte] : escaped;
        return fail(at_, "control character " + code_point_name(byte) + " in string, write it as " +
                             form);
      }
      if (c == '\\') {
        if (!parse_escape(out, start)) {
          return false;
        }
        continue;
      }
      if (byte >= 0x80) {
        const size_t length = utf8_length(text_, at_.offset);
        if (length == 0) {
          return fail(at_, "invalid UTF-8 in string");
        }
        out.append(text_.substr(at_.offset, length));
        advance(length);
        continue;
      }
      out += c;
      advance();
    }
  }

  // At a backslash inside the string that began at `start`.
  bool parse_escape(std::string& out, const Position& start) {
    const Position backslash = at_;
    advance();
    if (at_end() || peek() == '\n' || peek() == '\r') {
      return fail(start, "unterminated string");
    }
    const char c = peek();
    switch (c) {
    case '"':
    case '\\':
    case '/':
      out += c;
      break;
    case 'b':
      out += '\b';
      break;
    case 'f':
      out += '\f';
      break;
    case 'n':
      out += '\n';
      break;
    case 'r':
      out += '\r';
      break;
    case 't':
      out += '\t';
      break;
    case 'u':
      return parse_unicode_escape(out, backslash);
    default: {
      const auto byte = static_cast<unsigned char>(c);
      const std::string shown = byte >= 0x20 && byte < 0x7F ? "'\\" + std::string(1, c) + "'"
                                                            : "'\\' followed by " + describe_here();
      return fail(backslash, "invalid escape " + shown + " in string", 2);
    }
    }
    advance();
    return true;
  }

  // At the 'u' of a \uXXXX escape; a UTF-16 surrogate pair of escapes becomes one character.
  bool parse_unicode_escape(std::string& out, const Position& backslash) {
    const long unit = hex4(at_.offset + 1);
    if (unit < 0) {
      return fail(backslash, "invalid \\u escape, expected 4 hex digits", 2);
    }
    const std::string written(text_.substr(backslash.offset, 6));
    if (unit >= 0xDC00 && unit <= 0xDFFF) {
      return fail(backslash, "unpaired surrogate " + written + " in string", 6);
    }
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      const size_t next = at_.offset + 5;
      const long low = next + 1 < text_.size() && text_[next] == '\\' && text_[next + 1] == 'u'
                           ? hex4(next + 2)
                           : -1;
      if (low < 0xDC00 || low > 0xDFFF) {
        return fail(backslash, "unpaired surrogate " + written + " in string", 6);
      }
      append_utf8(out,
                  static_cast<std::uint32_t>(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)));
      advance(11);
      return true;
    }
    append_utf8(out, static_cast<std::uint32_t>(unit));
    advance(5);
    return true;
  }

  bool parse_number(std::string& out) {
    const Position start = at_;
    const auto digit_at = [&](size_t i) { return i < text_.size() && is_digit(text_[i]); };
    const auto char_at = [&](size_t i) { return i < text_.size() ? text_[i] : '\0'; };
    size_t i = start.offset;
    const char* reason = nullptr;
    if (char_at(i) == '-') {
      ++i;
    }
    if (!digit_at(i)) {
      reason = "expected a digit after '-'";
    } else if (char_at(i) == '0') {
      ++i;
      if (digit_at(i)) {
        reason = "leading zeros are not allowed";
      }
    } else {
      while (digit_at(i)) {
        ++i;
      }
    }
    if (reason == nullptr && char_at(i) == '.') {
      ++i;
      if (!digit_at(i)) {
        reason = "expected a digit after '.'";
      }
      while (digit_at(i)) {
        ++i;
      }
    }
    if (reason == nullptr && (char_at(i) == 'e' || char_at(i) == 'E')) {
      ++i;
      if (char_at(i) == '+' || char_at(i) == '-') {
        ++i;
      }
      if (!digit_at(i)) {
        reason = "expected a digit in the exponent";
      }
      while (digit_at(i)) {
        ++i;
      }
    }
    // What looks like part of the number (0x1F, 1.5.3, 12abc) is shown whole in the message.
    const auto in_token = [&](char c) {
      return is_alpha(c) || is_digit(c) || c == '.' || c == '+' || c == '-' || c == '_';
    };
    if (reason != nullptr || in_token(char_at(i))) {
      size_t end = start.offset;
      while (end < text_.size() && in_token(text_[end])) {
        ++end;
      }
      end = std::max(end, start.offset + 1);
      const std::string token(text_.substr(start.offset, end - start.offset));
      std::string message = "invalid number '" + token + "'";
      if (reason != nullptr) {
        message += std::string(": ") + reason;
      }
      return fail(start, message, static_cast<int>(token.size()));
    }
    out = std::string(text_.substr(start.offset, i - start.offset));
    advance(i - start.offset);
    return true;
  }

  std::string_view text_;
  const std::string& path_;
  Position at_;
  std::optional<base::Error> error_;
};

} // namespace

base::Result<Node> parse_json(std::string_view text, const std::string& path) {
  return Parser(text, path).run();
}

} // namespace jobs
