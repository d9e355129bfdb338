// Fuzzes the JSON and YAML readers. The first byte picks the reader: 'j' JSON, 'y' YAML, any
// other both. Neither may crash; every error and every mark points inside the text (or just
// past its end); and what parse_json accepts, written out again as JSON, parses to the same
// tree.
#include <jobs/doc.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

const std::string path = "fuzz.job";

int line_count(std::string_view text) {
  int lines = 1;
  for (char c : text) {
    lines += c == '\n' ? 1 : 0;
  }
  return lines;
}

int char_count(std::string_view s) {
  int chars = 0;
  for (char c : s) {
    chars += (static_cast<unsigned char>(c) & 0xC0) == 0x80 ? 0 : 1;
  }
  return chars;
}

void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

// A place is on a line of the text, at most one past its last character.
void check_place(std::string_view text, int line, int column) {
  check(line >= 1 && line <= line_count(text) + 1);
  check(column >= 1 && column <= char_count(jobs::source_line(text, line)) + 1);
}

void check_error(std::string_view text, const base::Error& e) {
  check(!e.message.empty());
  check(e.location.path == path);
  check(e.length >= 1);
  check_place(text, e.location.line, e.location.column);
  check(e.source_line == jobs::source_line(text, e.location.line));
  check(e.source_line.find('\n') == std::string::npos);
  check(e.source_line.empty() || e.source_line.back() != '\r');
  check(!e.render().empty());
}

void check_marks(std::string_view text, const jobs::Node& node, int depth) {
  check(depth <= 201); // 200 levels of collections and the scalars inside
  check_place(text, node.mark.line, node.mark.column);
  for (const auto& item : node.items) {
    check_marks(text, item, depth + 1);
  }
  for (const auto& entry : node.entries) {
    check_place(text, entry.key_mark.line, entry.key_mark.column);
    check_marks(text, entry.value, depth + 1);
  }
}

std::string to_json(const jobs::Node& node) {
  switch (node.kind) {
  case jobs::Node::Kind::null:
    return "null";
  case jobs::Node::Kind::scalar:
    if (!node.quoted) {
      return node.scalar;
    }
    break;
  case jobs::Node::Kind::sequence: {
    std::string out = "[";
    for (const auto& item : node.items) {
      out += (out.size() > 1 ? "," : "") + to_json(item);
    }
    return out + "]";
  }
  case jobs::Node::Kind::map: {
    std::string out = "{";
    for (const auto& entry : node.entries) {
      jobs::Node key;
      key.kind = jobs::Node::Kind::scalar;
      key.quoted = true;
      key.scalar = entry.key;
      out += (out.size() > 1 ? "," : "") + to_json(key) + ":" + to_json(entry.value);
    }
    return out + "}";
  }
  }
  std::string out = "\"";
  for (char c : node.scalar) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(c));
      out += buffer;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

bool same_tree(const jobs::Node& a, const jobs::Node& b) {
  if (a.kind != b.kind || a.scalar != b.scalar || a.quoted != b.quoted ||
      a.items.size() != b.items.size() || a.entries.size() != b.entries.size()) {
    return false;
  }
  for (size_t i = 0; i < a.items.size(); ++i) {
    if (!same_tree(a.items[i], b.items[i])) {
      return false;
    }
  }
  for (size_t i = 0; i < a.entries.size(); ++i) {
    if (a.entries[i].key != b.entries[i].key ||
        !same_tree(a.entries[i].value, b.entries[i].value)) {
      return false;
    }
  }
  return true;
}

void fuzz_json(std::string_view text) {
  const auto doc = jobs::parse_json(text, path);
  if (!doc) {
    check_error(text, doc.error());
    return;
  }
  check_marks(text, *doc, 1);
  const auto again = jobs::parse_json(to_json(*doc), path);
  check(again.ok() && same_tree(*doc, *again));
}

void fuzz_yaml(std::string_view text) {
  const auto doc = jobs::parse_yaml(text, path);
  if (!doc) {
    check_error(text, doc.error());
    return;
  }
  check_marks(text, *doc, 1);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] != 'y') {
    fuzz_json(text);
  }
  if (data[0] != 'j') {
    fuzz_yaml(text);
  }
  return 0;
}
