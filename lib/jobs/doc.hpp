#pragma once

#include <base/error.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobs {

// A position in a source file; line and column count from 1.
struct Mark {
  int line = 0;
  int column = 0;
};

// A parsed JSON or YAML document as one tree with the place of every value and every key, so
// that the loader reports the same errors at the right place for both formats.
struct Node {
  enum class Kind { null, scalar, sequence, map };

  Kind kind = Kind::null;
  Mark mark;               // where the value starts
  std::string scalar;      // scalar text as written (without quotes), "true", "12", "1h30m"
  bool quoted = false;     // the scalar was a quoted string (JSON strings are always quoted)
  std::vector<Node> items; // sequence items
  struct Entry;
  std::vector<Entry> entries; // map entries in file order

  bool is_null() const { return kind == Kind::null; }
  bool is_scalar() const { return kind == Kind::scalar; }
  bool is_sequence() const { return kind == Kind::sequence; }
  bool is_map() const { return kind == Kind::map; }

  // The entry with this key, or nullptr.
  const Node* find(std::string_view key) const;
};

struct Node::Entry {
  std::string key;
  Mark key_mark;
  Node value;
};

// What a boolean word means, in any case: true/false, and YAML 1.1's yes/no and on/off;
// nullopt for any other text.
std::optional<bool> boolean_word(std::string_view word);

// Whether `text` is a number in JSON's grammar, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?:
// the only plain scalars that are numbers, in YAML files as in JSON ones (so 0500, +5 and
// 0x10 are not).
bool is_json_number(std::string_view text);

// Whether `text` is a whole number in JSON's grammar: -?(0|[1-9][0-9]*).
bool is_whole_number(std::string_view text);

inline const Node* Node::find(std::string_view key) const {
  for (const auto& e : entries) {
    if (e.key == key) {
      return &e.value;
    }
  }
  return nullptr;
}

// Parses JSON text (RFC 8259). Errors carry path, line, column and the source line.
// A JSON scalar keeps its text: strings unescaped and quoted = true; numbers, true, false as
// written; null becomes Kind::null. Duplicate keys are an error.
base::Result<Node> parse_json(std::string_view text, const std::string& path);

// Parses YAML text (one document; yaml-cpp). Errors as for parse_json. Anchors and aliases are
// resolved; duplicate keys are an error; an empty document is a null node.
base::Result<Node> parse_yaml(std::string_view text, const std::string& path);

// How a value is named in errors: "nothing", "a list", "an empty list", "a map", "\"12\"" or
// "the string \"12\"".
std::string describe(const Node& n);

// The place of character `offset` inside a scalar written on one line.
Mark inside(const Node& scalar, int offset);

// The line `line` (1-based) of `text`, without its line ending; for caret displays.
std::string source_line(std::string_view text, int line);

} // namespace jobs
