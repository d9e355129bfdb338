#include <jobs/edit.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <system_error>
#include <utility>
#include <vector>

namespace jobs {
namespace {

// The editor never builds a tree: a YAML or JSON library would drop comments and
// re-indent. It scans just enough syntax to know which bytes are the top level's "enabled"
// value (or where the first top-level key starts) and splices the text there.

constexpr std::string_view key_name = "enabled";

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_flow_indicator(char c) {
  return c == ',' || c == '[' || c == ']' || c == '{' || c == '}';
}

// A scalar as shown in an error message: its first line only.
std::string shown(std::string_view text) {
  const auto end = text.find_first_of("\r\n");
  if (end == std::string_view::npos) {
    return std::string(text);
  }
  return std::string(text.substr(0, end)) + "...";
}

// The key text of a quoted key, quotes removed and escapes decoded (enough to compare names).
std::string unquote(std::string_view quoted) {
  std::string out;
  const auto inner = quoted.substr(1, quoted.size() - 2);
  if (quoted.front() == '\'') {
    for (size_t i = 0; i < inner.size(); ++i) {
      out += inner[i];
      if (inner[i] == '\'' && i + 1 < inner.size() && inner[i + 1] == '\'') {
        ++i;
      }
    }
    return out;
  }
  for (size_t i = 0; i < inner.size(); ++i) {
    if (inner[i] != '\\' || i + 1 >= inner.size()) {
      out += inner[i];
      continue;
    }
    const char e = inner[++i];
    const size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
    if (digits > 0 && i + digits < inner.size()) {
      unsigned long code = 0;
      for (const char h : inner.substr(i + 1, digits)) {
        const auto digit = std::string_view("0123456789abcdef").find(static_cast<char>(h | 0x20));
        code = code * 16 + (digit == std::string_view::npos ? 0x100 : digit);
      }
      out += code < 0x80 ? static_cast<char>(code) : '\x01';
      i += digits;
    } else if (e == '"' || e == '\\' || e == '/' || e == ' ') {
      out += e;
    } else {
      // A control character (\n, \a, \0 ...): no key worth finding has one.
      out += '\x01';
    }
  }
  return out;
}

// The text with positions: lines, columns and errors that point at a place.
class Source {
public:
  Source(std::string_view source, const std::string& path) : text(source), path_(path) {
    if (text.substr(0, 3) == "\xEF\xBB\xBF") {
      begin_ = 3;
    }
  }

  const std::string_view text;

  size_t begin() const { return begin_; }
  char at(size_t i) const { return i < text.size() ? text[i] : '\0'; }
  bool at_eol(size_t i) const { return i >= text.size() || text[i] == '\n' || text[i] == '\r'; }
  size_t line_start(size_t i) const {
    i = std::min(i, text.size());
    if (i > begin_ && at(i) == '\n' && text[i - 1] == '\r') {
      --i;
    }
    while (i > begin_ && text[i - 1] != '\n' && text[i - 1] != '\r') {
      --i;
    }
    return i;
  }
  size_t line_end(size_t i) const {
    while (!at_eol(i)) {
      ++i;
    }
    return i;
  }
  size_t next_line(size_t i) const {
    i = line_end(i);
    if (at(i) == '\r') {
      ++i;
    }
    return at(i) == '\n' ? i + 1 : i;
  }
  size_t skip_blanks(size_t i) const {
    while (i < text.size() && is_blank(text[i])) {
      ++i;
    }
    return i;
  }
  size_t column(size_t i) const { return i - line_start(i); }

  // The line break that ends the line holding `i`; for the last line, the file's first one.
  // YAML counts CR LF, LF and a lone CR as line breaks.
  std::string eol_of_line(size_t i) const {
    auto end = line_end(i);
    if (end >= text.size()) {
      end = std::min(text.find_first_of("\r\n"), text.size());
    }
    return line_break_at(end);
  }

  // The line break just before the line start `start`.
  std::string eol_before(size_t start) const {
    if (start >= 2 && text[start - 1] == '\n' && text[start - 2] == '\r') {
      return "\r\n";
    }
    return line_break_at(start - 1);
  }

  // "---" or "..." at column 0, followed by a blank or the end of the line.
  bool is_marker(size_t i, char c) const {
    return i == line_start(i) && at(i) == c && at(i + 1) == c && at(i + 2) == c &&
           (at_eol(i + 3) || is_blank(at(i + 3)));
  }

  base::Error error(size_t pos, size_t length, std::string message) const {
    pos = std::min(pos, text.size());
    const auto start = line_start(pos);
    const auto end = line_end(start);
    size_t line = 1;
    for (size_t i = 0; i < pos; ++i) {
      line += text[i] == '\n' || (text[i] == '\r' && at(i + 1) != '\n') ? 1 : 0;
    }
    length = std::max<size_t>(1, std::min(length, end > pos ? end - pos : 1));
    return base::Error{
        std::move(message),
        base::Location{path_, static_cast<int>(line), static_cast<int>(pos - start + 1)},
        std::string(text.substr(start, end - start)), static_cast<int>(length)};
  }

private:
  std::string line_break_at(size_t i) const {
    if (at(i) == '\r') {
      return at(i + 1) == '\n' ? "\r\n" : "\r";
    }
    return "\n";
  }

  const std::string& path_;
  size_t begin_ = 0;
};

// A member of the top-level map: its key and where its value starts (after `:` and, for flow
// maps, after blanks and YAML properties). For flow maps, also where the value ends.
struct Member {
  std::string key;
  size_t start = 0; // where the member starts, properties included
  size_t key_pos = 0;
  size_t key_end = 0;
  size_t value_pos = 0;
  size_t value_end = 0;
};

struct FlowMap {
  size_t open = 0;
  size_t close = 0;
  std::vector<Member> members;
};

// Flow syntax: JSON, or YAML's flow style, which adds plain scalars, single quotes, comments
// and properties.
class FlowScanner {
public:
  FlowScanner(const Source& src, bool yaml) : src_(src), s_(src.text), yaml_(yaml) {}

  // `pos` is at a quote; returns the position after the closing quote.
  base::Result<size_t> skip_quoted(size_t pos) const {
    const char quote = s_[pos];
    for (size_t i = pos + 1; i < s_.size(); ++i) {
      if (quote == '"' && s_[i] == '\\') {
        ++i;
      } else if (s_[i] == quote) {
        if (quote == '\'' && i + 1 < s_.size() && s_[i + 1] == '\'') {
          ++i;
        } else {
          return i + 1;
        }
      }
    }
    return src_.error(pos, 1, "unterminated string");
  }

  // `pos` is at '[' or '{'; returns the position after the matching bracket. A quote starts a
  // string only where a value can start: in YAML `[it's]` is the plain scalar "it's".
  base::Result<size_t> skip_collection(size_t pos) const {
    std::string closers;
    bool value_start = true;
    size_t i = pos;
    while (i < s_.size()) {
      const char c = s_[i];
      if (is_space(c)) {
        ++i;
        continue;
      }
      if (yaml_ && c == '#' && is_space(s_[i - 1])) {
        i = src_.line_end(i);
        continue;
      }
      const bool quote = c == '"' || (yaml_ && c == '\'');
      if (quote && (value_start || !yaml_)) {
        auto end = skip_quoted(i);
        if (!end) {
          return end.error();
        }
        i = *end;
        value_start = false;
        continue;
      }
      if (c == '[' || c == '{') {
        closers += c == '[' ? ']' : '}';
        value_start = true;
      } else if (c == ']' || c == '}') {
        if (closers.back() != c) {
          return src_.error(i, 1,
                            std::string("expected '") + closers.back() + "' before '" + c + "'");
        }
        closers.pop_back();
        if (closers.empty()) {
          return i + 1;
        }
        value_start = false;
      } else {
        value_start = c == ',' || c == ':';
      }
      ++i;
    }
    return src_.error(pos, 1, std::string("unclosed '") + s_[pos] + "'");
  }

  // Skips blanks, line breaks and (YAML) comments.
  size_t skip_space(size_t i) const {
    while (i < s_.size()) {
      if (is_space(s_[i])) {
        ++i;
      } else if (yaml_ && s_[i] == '#' && (i == 0 || is_space(s_[i - 1]))) {
        i = src_.line_end(i);
      } else {
        break;
      }
    }
    return i;
  }

  // The end of the plain scalar (JSON: number or literal) at `i`, trailing blanks excluded.
  size_t plain_end(size_t i) const {
    size_t end = i;
    for (size_t j = i; j < s_.size(); ++j) {
      const char c = s_[j];
      if (is_flow_indicator(c)) {
        break;
      }
      if (!yaml_ && (is_space(c) || c == ':')) {
        break;
      }
      if (c == ':' && (j + 1 >= s_.size() || is_space(s_[j + 1]) || is_flow_indicator(s_[j + 1]))) {
        break;
      }
      if (c == '#' && j > i && is_space(s_[j - 1])) {
        break;
      }
      if (!is_space(c)) {
        end = j + 1;
      }
    }
    return end;
  }

  // `open` is at '{': the map's members in order, and where it closes.
  base::Result<FlowMap> parse_map(size_t open) const {
    FlowMap map{open, 0, {}};
    size_t i = open + 1;
    while (true) {
      i = skip_space(i);
      if (i >= s_.size()) {
        return unclosed(open);
      }
      if (s_[i] == '}') {
        map.close = i;
        return map;
      }
      Member m;
      m.start = i;
      if (yaml_ && s_[i] == '?' && is_space(src_.at(i + 1))) {
        i = skip_space(i + 1);
      }
      i = skip_properties(i);
      m.key_pos = i;
      const char c = src_.at(i);
      if (c == '"' || (yaml_ && c == '\'')) {
        auto end = skip_quoted(i);
        if (!end) {
          return end.error();
        }
        m.key_end = *end;
        m.key = unquote(s_.substr(i, *end - i));
      } else if (!yaml_) {
        return src_.error(i, 1, "expected a member name in double quotes");
      } else if (c == '[' || c == '{') {
        auto end = skip_collection(i);
        if (!end) {
          return end.error();
        }
        m.key_end = *end;
      } else {
        m.key_end = plain_end(i);
        if (m.key_end == i) {
          return src_.error(i, 1, std::string("unexpected '") + c + "'");
        }
        m.key = std::string(s_.substr(i, m.key_end - i));
      }
      i = skip_space(m.key_end);
      if (src_.at(i) == ':') {
        auto end = skip_value(i + 1, m);
        if (!end) {
          return end.error();
        }
        i = skip_space(*end);
      } else if (yaml_ && (src_.at(i) == ',' || src_.at(i) == '}')) {
        m.value_pos = m.value_end = m.key_end;
      } else if (i >= s_.size()) {
        return unclosed(open);
      } else {
        return src_.error(i, 1, "expected ':' after the key");
      }
      map.members.push_back(std::move(m));
      if (src_.at(i) == ',') {
        ++i;
      } else if (src_.at(i) == '}') {
        map.close = i;
        return map;
      } else if (i >= s_.size()) {
        return unclosed(open);
      } else {
        return src_.error(i, 1, "expected ',' or '}'");
      }
    }
  }

private:
  // Skips YAML anchors and tags (`&defaults`, `!!bool`).
  size_t skip_properties(size_t i) const {
    while (yaml_ && (src_.at(i) == '&' || src_.at(i) == '!')) {
      while (i < s_.size() && !is_space(s_[i]) && !is_flow_indicator(s_[i])) {
        ++i;
      }
      i = skip_space(i);
    }
    return i;
  }

  base::Error unclosed(size_t open) const { return src_.error(open, 1, "unclosed '{'"); }

  // The value after the ':' at `i - 1`; fills m.value_pos and m.value_end.
  base::Result<size_t> skip_value(size_t i, Member& m) const {
    i = skip_properties(skip_space(i));
    m.value_pos = i;
    const char c = src_.at(i);
    if (c == '"' || (yaml_ && c == '\'')) {
      auto end = skip_quoted(i);
      if (!end) {
        return end;
      }
      m.value_end = *end;
    } else if (c == '[' || c == '{') {
      auto end = skip_collection(i);
      if (!end) {
        return end;
      }
      m.value_end = *end;
    } else if (i >= s_.size()) {
      return src_.error(i, 1, "unexpected end of file");
    } else {
      m.value_end = plain_end(i);
      if (m.value_end == i && !(yaml_ && (c == ',' || c == '}'))) {
        return src_.error(i, 1, "expected a value");
      }
    }
    return m.value_end;
  }

  const Source& src_;
  std::string_view s_;
  bool yaml_;
};

// The bytes of the top level's "enabled" value and what they mean.
struct Value {
  size_t pos = 0;
  size_t end = 0;
  bool quoted = false;
  bool meaning = false;
};

// Words for the kinds of node in error messages.
struct Nouns {
  const char* map;
  const char* list;
};
constexpr Nouns yaml_nouns{"a map", "a list"};
constexpr Nouns json_nouns{"an object", "an array"};

base::Error not_boolean(const Source& src, size_t pos, size_t length, const std::string& what) {
  return src.error(pos, length, "\"enabled\" must be true or false, not " + what);
}

// The value of a scalar token at [pos, end) that is not a flow collection.
base::Result<Value> scalar_value(const Source& src, size_t pos, size_t end) {
  const bool quoted = src.at(pos) == '"' || src.at(pos) == '\'';
  const auto word =
      quoted ? src.text.substr(pos + 1, end - pos - 2) : src.text.substr(pos, end - pos);
  if (!quoted && src.at(pos) == '*') {
    return not_boolean(src, pos, end - pos, "an alias");
  }
  const auto meaning = boolean_word(word);
  if (!meaning) {
    return not_boolean(src, pos, end - pos, "\"" + shown(word) + "\"");
  }
  return Value{pos, end, quoted, *meaning};
}

// The text to insert for a new member, in the map's own syntax.
std::string new_member(bool yaml_key, bool value) {
  const std::string key = yaml_key ? std::string(key_name) : "\"" + std::string(key_name) + "\"";
  return key + ": " + (value ? "true" : "false");
}

std::string splice(std::string_view text, size_t pos, size_t end, std::string_view with) {
  std::string out;
  out.reserve(text.size() + with.size());
  out.append(text.substr(0, pos)).append(with).append(text.substr(end));
  return out;
}

base::Result<std::string> apply(const Source& src, const Value& v, bool value) {
  if (!v.quoted && v.meaning == value) {
    return std::string(src.text);
  }
  // `"no"# c` is a comment after a quoted scalar, but `false# c` would be one plain scalar.
  const bool space = v.quoted && src.at(v.end) == '#';
  return splice(src.text, v.pos, v.end,
                value ? (space ? "true " : "true") : (space ? "false " : "false"));
}

// The error for a duplicate "enabled", if any; otherwise the one member or nullptr.
base::Result<const Member*> find_enabled(const Source& src, const std::vector<Member>& members) {
  const Member* found = nullptr;
  for (const auto& m : members) {
    if (m.key != key_name) {
      continue;
    }
    if (found != nullptr) {
      return src.error(m.key_pos, m.key_end - m.key_pos, "duplicate key \"enabled\"");
    }
    found = &m;
  }
  return found;
}

// JSON, or a YAML flow map at the top level.
base::Result<std::string> edit_flow_map(const Source& src, size_t open, bool yaml, bool value) {
  const FlowScanner scanner(src, yaml);
  auto map = scanner.parse_map(open);
  if (!map) {
    return map.error();
  }
  // What follows the map must be nothing, or in YAML the next document: `{a: 1}: b` is a map
  // whose key is a map.
  const auto after = scanner.skip_space(map->close + 1);
  if (after < src.text.size() &&
      !(yaml && (src.is_marker(after, '-') || src.is_marker(after, '.')))) {
    return src.error(
        after, 1, std::string("unexpected text after the top-level ") + (yaml ? "map" : "object"));
  }
  auto found = find_enabled(src, map->members);
  if (!found) {
    return found.error();
  }
  const auto text = src.text;
  if (const Member* m = *found) {
    const auto nouns = yaml ? yaml_nouns : json_nouns;
    const char c = src.at(m->value_pos);
    if (m->value_pos == m->value_end) {
      return not_boolean(src, m->key_pos, m->key_end - m->key_pos, "empty");
    }
    if (c == '[' || c == '{') {
      return not_boolean(src, m->value_pos, 1, c == '[' ? nouns.list : nouns.map);
    }
    auto v = scalar_value(src, m->value_pos, m->value_end);
    if (!v) {
      return v.error();
    }
    return apply(src, *v, value);
  }
  if (value) {
    return std::string(text); // absent means enabled
  }

  const auto member = new_member(yaml, value);
  if (map->members.empty()) {
    if (text.substr(open, map->close - open).find_first_of("\r\n") == std::string_view::npos) {
      return splice(text, open + 1, open + 1, member);
    }
    // On a line of its own after '{' (and the blanks or comment after it).
    const auto start = src.line_start(open);
    const auto indent = text.substr(start, src.skip_blanks(start) - start);
    const auto at = src.line_end(open);
    return splice(text, at, at, src.eol_of_line(open) + std::string(indent) + "  " + member);
  }
  const auto first = map->members.front().start;
  if (text.substr(open, first - open).find_first_of("\r\n") == std::string_view::npos) {
    return splice(text, first, first, member + ", ");
  }
  // The new member goes on a line of its own, indented like the first member, which keeps
  // its own indentation bytes on the next line.
  const auto start = src.line_start(first);
  const auto indent = text.substr(start, first - start);
  return splice(text, first, first, member + "," + src.eol_before(start) + std::string(indent));
}

// YAML in block style. Walks the first document line by line, knowing enough of the syntax to
// step over every multi-line construct (quoted scalars, flow collections, block scalars,
// multi-line plain scalars), and records the keys at the top level's indentation.
class YamlBlock {
public:
  explicit YamlBlock(const Source& src) : src_(src), s_(src.text), flow_(src, true) {}

  base::Result<std::string> edit(bool value) {
    auto node = first_node();
    if (!node) {
      return node.error();
    }
    const auto pos = *node;
    const char c = src_.at(pos);
    if (c == '{') {
      return edit_flow_map(src_, pos, true, value);
    }
    if (c == '[' || is_indicator(pos, '-')) {
      return src_.error(pos, 1, "the top level must be a map, not a list");
    }
    if (!implicit_key(pos)) {
      return src_.error(pos, 1, "the top level must be a map, not a scalar");
    }
    const auto start = src_.line_start(pos);
    if (src_.is_marker(start, '-')) {
      return src_.error(pos, 1, "a map cannot start on the '---' line");
    }
    indent_ = src_.skip_blanks(start) - start;
    if (auto scanned = scan(start); !scanned) {
      return scanned.error();
    }

    auto found = find_enabled(src_, keys_);
    if (!found) {
      return found.error();
    }
    if (const Member* m = *found) {
      auto v = enabled_value(*m);
      if (!v) {
        return v.error();
      }
      return apply(src_, *v, value);
    }
    if (value) {
      return std::string(s_); // absent means enabled
    }
    const auto first = src_.skip_blanks(start);
    const auto indent = s_.substr(start, first - start);
    return splice(s_, start, start,
                  std::string(indent) + new_member(true, value) + src_.eol_of_line(start));
  }

private:
  // `-`, `?` or `:` followed by a blank or the end of the line.
  bool is_indicator(size_t i, char c) const {
    return src_.at(i) == c && (src_.at_eol(i + 1) || is_blank(src_.at(i + 1)));
  }

  // The end of an anchor, tag or alias token.
  size_t token_end(size_t i) const {
    while (i < s_.size() && !is_space(s_[i])) {
      ++i;
    }
    return i;
  }

  size_t skip_properties(size_t i) const {
    i = src_.skip_blanks(i);
    while (src_.at(i) == '&' || src_.at(i) == '!') {
      i = src_.skip_blanks(token_end(i));
    }
    return i;
  }

  bool rest_is_empty(size_t i) const { return src_.at_eol(i) || src_.at(i) == '#'; }

  // The first line at or after `pos` with something other than blanks or a comment, as the
  // position of that something; nullopt at the end of the text.
  std::optional<size_t> next_content(size_t pos) const {
    while (pos < s_.size()) {
      const auto c = src_.skip_blanks(pos);
      if (!rest_is_empty(c)) {
        return c;
      }
      pos = src_.next_line(pos);
    }
    return std::nullopt;
  }

  // The start of the first document's top-level node, after directives, `---`, comments and
  // properties (`--- !!map`, `&defaults`).
  base::Result<size_t> first_node() const {
    const auto empty = [this](size_t at) {
      return src_.error(at, 1, "the top level must be a map, not empty");
    };
    bool started = false;
    auto pos = src_.begin();
    while (true) {
      auto content = next_content(pos);
      if (!content) {
        return empty(src_.begin());
      }
      pos = src_.line_start(*content);
      if (*content == pos && s_[pos] == '%' && !started) {
        pos = src_.next_line(pos);
        continue;
      }
      if (src_.is_marker(*content, '.') || (started && src_.is_marker(*content, '-'))) {
        return empty(*content);
      }
      auto node = *content;
      if (src_.is_marker(node, '-')) {
        started = true;
        node += 3;
      }
      node = skip_properties(node);
      if (!rest_is_empty(node)) {
        return node;
      }
      pos = src_.next_line(pos);
    }
  }

  // The key that starts at `pos` (on this line, followed by ": "), if any.
  std::optional<Member> implicit_key(size_t pos) const {
    const auto end = src_.line_end(pos);
    const char c = src_.at(pos);
    if (c == '"' || c == '\'') {
      auto close = flow_.skip_quoted(pos);
      if (!close || *close > end) {
        return std::nullopt;
      }
      const auto colon = src_.skip_blanks(*close);
      if (!is_indicator(colon, ':')) {
        return std::nullopt;
      }
      return Member{unquote(s_.substr(pos, *close - pos)), pos, pos, *close, colon + 1, 0};
    }
    if (c == '[' || c == '{' || c == '|' || c == '>' || c == '*' || c == '&' || c == '!' ||
        c == '#') {
      return std::nullopt;
    }
    size_t key_end = pos;
    for (size_t i = pos; i < end; ++i) {
      if (s_[i] == '#' && i > pos && is_blank(s_[i - 1])) {
        return std::nullopt;
      }
      if (is_indicator(i, ':')) {
        return Member{std::string(s_.substr(pos, key_end - pos)), pos, pos, key_end, i + 1, 0};
      }
      if (!is_blank(s_[i])) {
        key_end = i + 1;
      }
    }
    return std::nullopt;
  }

  // Walks the document from `pos` (a line start) to its end or to the next document.
  base::Result<bool> scan(size_t pos) {
    while (pos < s_.size()) {
      const auto c = src_.skip_blanks(pos);
      if (rest_is_empty(c)) {
        pos = src_.next_line(pos);
        continue;
      }
      if (src_.is_marker(c, '-') || src_.is_marker(c, '.')) {
        break;
      }
      const auto column = c - pos;
      if (column < indent_) {
        return src_.error(c, 1, "this line is less indented than the top-level keys");
      }
      while (!parents_.empty() && parents_.back() >= column) {
        parents_.pop_back();
      }
      auto next = scan_line(c, column == indent_);
      if (!next) {
        return next.error();
      }
      pos = *next;
    }
    return true;
  }

  // Scans the nodes that start on this line at `pos`; returns the start of the next line not
  // taken by them. `top` says the line is at the top level's indentation.
  base::Result<size_t> scan_line(size_t pos, bool top) {
    bool entry_start = true;
    while (true) {
      pos = src_.skip_blanks(pos);
      if (rest_is_empty(pos)) {
        return src_.next_line(pos);
      }
      const char c = s_[pos];
      if (is_indicator(pos, '-') || is_indicator(pos, '?') || is_indicator(pos, ':')) {
        parents_.push_back(src_.column(pos));
        entry_start = false;
        ++pos;
        continue;
      }
      if (c == '&' || c == '!') {
        pos = token_end(pos);
        continue;
      }
      if (auto key = implicit_key(pos)) {
        parents_.push_back(src_.column(pos));
        if (top && entry_start) {
          keys_.push_back(*key);
        }
        entry_start = false;
        pos = key->value_pos;
        continue;
      }
      if (top && entry_start && c != '"' && c != '\'' && c != '[' && c != '{' && c != '*') {
        // yaml-cpp reads a lone plain scalar at the top level as a key with no value.
        const auto end = src_.line_end(pos);
        auto key = std::string(s_.substr(pos, end - pos));
        key.erase(key.find_last_not_of(" \t") + 1);
        keys_.push_back(Member{key, pos, pos, pos + key.size(), pos + key.size(), 0});
      }
      entry_start = false;
      const auto parent = parents_.empty() ? indent_ : parents_.back();
      if (c == '|' || c == '>') {
        return skip_indented(src_.next_line(pos), parent, true);
      }
      if (c == '"' || c == '\'') {
        auto end = flow_.skip_quoted(pos);
        if (!end) {
          return end.error();
        }
        pos = *end;
        continue;
      }
      if (c == '[' || c == '{') {
        auto end = flow_.skip_collection(pos);
        if (!end) {
          return end.error();
        }
        pos = *end;
        continue;
      }
      if (c == '*') {
        pos = token_end(pos);
        continue;
      }
      // A plain scalar: it goes on over the next lines indented deeper than its parent.
      return skip_indented(src_.next_line(pos), parent, false);
    }
  }

  // Skips the lines from `pos` that are blank or indented deeper than `parent`: a block
  // scalar's content, or a plain scalar's continuation lines (which a comment ends).
  size_t skip_indented(size_t pos, size_t parent, bool block_scalar) const {
    while (pos < s_.size()) {
      const auto c = src_.skip_blanks(pos);
      const bool blank = src_.at_eol(c);
      if (!blank && (c - pos <= parent || (!block_scalar && s_[c] == '#'))) {
        break;
      }
      pos = src_.next_line(pos);
    }
    return pos;
  }

  // The top-level "enabled" value: a boolean scalar on the key's line or the next one.
  base::Result<Value> enabled_value(const Member& key) const {
    auto pos = skip_properties(key.value_pos);
    if (rest_is_empty(pos)) {
      auto next = next_content(src_.next_line(pos));
      if (!next || src_.is_marker(*next, '-') || src_.is_marker(*next, '.') ||
          src_.column(*next) < indent_ ||
          (src_.column(*next) == indent_ && src_.at(*next) != '-')) {
        return not_boolean(src_, key.key_pos, key.key_end - key.key_pos, "empty");
      }
      pos = skip_properties(*next);
    }
    const char c = src_.at(pos);
    if (c == '[' || is_indicator(pos, '-')) {
      return not_boolean(src_, pos, 1, yaml_nouns.list);
    }
    if (c == '{' || implicit_key(pos)) {
      return not_boolean(src_, pos, 1, yaml_nouns.map);
    }
    if (c == '|' || c == '>') {
      return not_boolean(src_, pos, 1, "a block scalar");
    }
    if (c == '"' || c == '\'') {
      auto end = flow_.skip_quoted(pos);
      if (!end) {
        return end.error();
      }
      return scalar_value(src_, pos, *end);
    }
    // A plain scalar ends at a comment or the end of the line, unless it goes on over deeper
    // indented lines: then it is not a boolean.
    const auto line_end = src_.line_end(pos);
    auto end = pos;
    for (auto i = pos; i < line_end && !(i > pos && s_[i] == '#' && is_blank(s_[i - 1])); ++i) {
      if (!is_blank(s_[i])) {
        end = i + 1;
      }
    }
    const auto after = skip_indented(src_.next_line(pos), indent_, false);
    const auto rest = s_.substr(line_end, after - line_end);
    if (rest.find_first_not_of(" \t\r\n") != std::string_view::npos) {
      return not_boolean(src_, pos, end - pos,
                         "\"" + std::string(s_.substr(pos, end - pos)) + "...\"");
    }
    return scalar_value(src_, pos, end);
  }

  const Source& src_;
  std::string_view s_;
  FlowScanner flow_;
  size_t indent_ = 0;           // the top-level keys' column
  std::vector<size_t> parents_; // columns of the open keys and `-` entries around this line
  std::vector<Member> keys_;    // the top-level keys in order
};

base::Result<std::string> edit_json(const Source& src, bool value) {
  const FlowScanner scanner(src, false);
  const auto pos = scanner.skip_space(src.begin());
  const char c = src.at(pos);
  if (c == '{') {
    return edit_flow_map(src, pos, false, value);
  }
  std::string what = "a scalar";
  if (pos >= src.text.size()) {
    what = "empty";
  } else if (c == '[') {
    what = "an array";
  } else if (c == '"') {
    what = "a string";
  } else if (c == '-' || (c >= '0' && c <= '9')) {
    what = "a number";
  } else if (c == 'n') {
    what = "null";
  } else if (c == 't' || c == 'f') {
    what = "a boolean";
  }
  return src.error(pos, 1, "the top level must be an object, not " + what);
}

base::Error system_error(const std::string& path, const std::string& what, int error) {
  return base::Error{
      what + ": " + std::generic_category().message(error), base::Location{path, 0, 0}, {}, 1};
}

// A name for the temporary file that the directory watcher ignores: hidden, and without the
// job file's extension at the end.
std::string temporary_name(const std::string& folder, const std::string& name) {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%016llx", static_cast<unsigned long long>(random()));
  return folder + "/." + name + ".tmp-" + suffix;
}

} // namespace

base::Result<std::string> set_enabled(std::string_view text, FileFormat format, bool value,
                                      const std::string& path) {
  const Source src(text, path);
  if (format == FileFormat::json) {
    return edit_json(src, value);
  }
  return YamlBlock(src).edit(value);
}

base::Result<bool> write_file_atomically(const std::string& path, std::string_view content,
                                         std::optional<mode_t> mode) {
  namespace fs = std::filesystem;
  // A symbolic link is never followed: whoever may write the folder could point it at any file
  // of the writer (root's). One that appears after this check is replaced by the rename below,
  // which acts on the name, not on what it points to.
  struct stat original {};
  bool exists = false;
  if (::lstat(path.c_str(), &original) == 0) {
    if (S_ISLNK(original.st_mode)) {
      return base::Error{"a symbolic link, which is not followed: put the file itself here",
                         base::Location{path, 0, 0},
                         {},
                         1};
    }
    if (!S_ISREG(original.st_mode)) {
      return base::Error{"not a regular file", base::Location{path, 0, 0}, {}, 1};
    }
    exists = true;
  } else if (errno != ENOENT) {
    return system_error(path, "cannot read the file's attributes", errno);
  }

  const fs::path target_path(path);
  auto folder = target_path.parent_path().string();
  if (folder.empty()) {
    folder = ".";
  }
  std::string temporary;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    temporary = temporary_name(folder, target_path.filename().string());
    // O_EXCL with mode 0666 rather than mkstemp: a new file gets the umask's mode.
    fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) {
      return system_error(path, "cannot create the temporary file " + temporary, errno);
    }
  }
  if (fd < 0) {
    return system_error(path, "cannot create a temporary file in " + folder, EEXIST);
  }
  const auto fail = [&](const std::string& what, int error) {
    if (fd >= 0) {
      ::close(fd);
    }
    ::unlink(temporary.c_str());
    return system_error(path, what, error);
  };

  if (mode) {
    if (::fchmod(fd, *mode) != 0) {
      return fail("cannot give the new file its mode", errno);
    }
  } else if (exists) {
    // Before the content goes in, so that it is never readable by more than the original. The
    // owner first: chown clears the set-user-ID and set-group-ID bits that chmod sets.
    struct stat created {};
    if (::fstat(fd, &created) != 0) {
      return fail("cannot read the attributes of " + temporary, errno);
    }
    if ((created.st_uid != original.st_uid || created.st_gid != original.st_gid) &&
        ::fchown(fd, original.st_uid, original.st_gid) != 0) {
      return fail("cannot give the new file the original's owner", errno);
    }
    if (::fchmod(fd, original.st_mode & 07777) != 0) {
      return fail("cannot give the new file the original's mode", errno);
    }
  }
  size_t written = 0;
  while (written < content.size()) {
    const auto n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail("cannot write the temporary file " + temporary, errno);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    return fail("cannot flush the temporary file " + temporary, errno);
  }
  const int closed = ::close(fd);
  fd = -1;
  if (closed != 0) {
    return fail("cannot write the temporary file " + temporary, errno);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    return fail("cannot replace the file", errno);
  }

  // The rename is durable only once the folder is flushed.
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) {
    return system_error(path, "cannot open the folder " + folder + " to flush it", errno);
  }
  if (::fsync(dir) != 0) {
    const int error = errno;
    ::close(dir);
    return system_error(path, "cannot flush the folder " + folder, error);
  }
  ::close(dir);
  return true;
}

base::Result<bool> set_enabled_in_file(const std::string& path, bool value,
                                       const LoadOptions& options) {
  // Not through a symbolic link (one put there since the folder was loaded), and bounded.
  auto read = read_job_file(path, options.max_file_size);
  if (!read) {
    return read.error();
  }
  const std::string& text = *read;
  const auto format = path.ends_with(".json") ? FileFormat::json : FileFormat::yaml;
  auto edited = set_enabled(text, format, value, path);
  if (!edited) {
    return edited.error();
  }
  if (*edited == text) {
    return false;
  }
  // The edit must read back as the same job with only `enabled` changed.
  const auto check = load_job_text(path, *edited, options);
  if (!check.job || check.job->enabled != value) {
    base::Error e;
    e.message = path + ": the edited file would not read back as " +
                (value ? "enabled" : "disabled") + "; left unchanged";
    return e;
  }
  auto written = write_file_atomically(path, *edited);
  if (!written) {
    return written.error();
  }
  return true;
}

} // namespace jobs
