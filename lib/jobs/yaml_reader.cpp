// YAML through yaml-cpp, turned into a jobs::Node with the place of every value and key.
// yaml-cpp is used here and nowhere else. Its exceptions stop in this file.
#include <base/utf8.hpp>
#include <jobs/doc.hpp>

#include <yaml-cpp/anchor.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/emitterstyle.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace jobs {

namespace {

using base::utf8::is_continuation;
using base::utf8::quote;
using base::utf8::utf8_length;

constexpr int max_depth = 200;

// Maps with more entries than this find duplicate keys through a hash map instead of a scan.
constexpr size_t linear_key_scan = 16;

// Each alias becomes a copy of the node it names, so a few lines of nested aliases could ask
// for billions of nodes. A document without aliases has at most two values for each byte, so
// the bound only stops alias bombs.
constexpr size_t base_value_budget = 100000;

// The text with an index from byte offsets to 1-based lines and character columns. yaml-cpp's
// marks count bytes after the byte order mark; columns here count characters other than
// carriage returns, as in parse_json.
class SourceText {
public:
  explicit SourceText(std::string_view text) : text_(text) {
    bom_ = text.starts_with("\xEF\xBB\xBF") ? 3 : 0;
    line_starts_.push_back(bom_);
    chars_before_.resize(text.size() + 1, 0);
    for (size_t i = 0; i < text.size(); ++i) {
      const bool counts = text[i] != '\r' && !is_continuation(text[i]);
      chars_before_[i + 1] = chars_before_[i] + (counts ? 1 : 0);
      if (text[i] == '\n') {
        line_starts_.push_back(i + 1);
      }
    }
  }

  std::string_view text() const { return text_; }
  size_t bom() const { return bom_; }

  // The offset in the text of a yaml-cpp mark (whose line and column are not always kept
  // up to date at the end of the input; its byte position is).
  size_t offset(const YAML::Mark& m) const {
    if (m.pos < 0) {
      return bom_;
    }
    return std::min(text_.size(), static_cast<size_t>(m.pos) + bom_);
  }

  Mark mark(size_t offset) const {
    offset = std::clamp(offset, bom_, text_.size());
    const auto after = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    const auto line = static_cast<size_t>(after - line_starts_.begin()) - 1;
    const size_t column = chars_before_[offset] - chars_before_[line_starts_[line]];
    return Mark{static_cast<int>(line + 1), static_cast<int>(column + 1)};
  }

  // The offset where a mark's line starts.
  size_t line_start(const Mark& m) const {
    const auto line = static_cast<size_t>(std::max(m.line, 1) - 1);
    return line < line_starts_.size() ? line_starts_[line] : text_.size();
  }

  // How many characters the text [from, to) holds.
  int chars(size_t from, size_t to) const {
    to = std::min(to, text_.size());
    from = std::min(from, to);
    return static_cast<int>(chars_before_[to] - chars_before_[from]);
  }

private:
  std::string_view text_;
  size_t bom_ = 0;
  std::vector<size_t> line_starts_;
  std::vector<std::uint32_t> chars_before_;
};

base::Error make_error(const SourceText& source, const std::string& path, Mark where,
                       std::string message, int length = 1) {
  base::Error e;
  e.message = std::move(message);
  e.location = base::Location{path, where.line, where.column};
  e.source_line = source_line(source.text(), where.line);
  e.length = std::max(length, 1);
  return e;
}

// yaml-cpp guesses UTF-16 or UTF-32 from NUL bytes at the start and replaces malformed UTF-8,
// and either would shift every mark; job files are UTF-8 text, so anything else stops here.
std::optional<base::Error> check_characters(const SourceText& source, const std::string& path) {
  const std::string_view text = source.text();
  for (size_t i = source.bom(); i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 && byte != '\t' && byte != '\n' && byte != '\r') {
      char message[64];
      std::snprintf(message, sizeof message, "control character U+%04X is not allowed",
                    static_cast<unsigned>(byte));
      return make_error(source, path, source.mark(i), message);
    }
    const size_t length = utf8_length(text, i);
    if (length == 0) {
      return make_error(source, path, source.mark(i), "invalid UTF-8");
    }
    i += length;
  }
  return std::nullopt;
}

// yaml-cpp's messages for block structure gone wrong; when the line they point at is indented
// with a tab, the tab is the mistake.
bool is_block_structure_message(const std::string& message) {
  return message == YAML::ErrorMsg::END_OF_MAP || message == YAML::ErrorMsg::END_OF_SEQ ||
         message == YAML::ErrorMsg::MAP_VALUE || message == YAML::ErrorMsg::MAP_KEY ||
         message == YAML::ErrorMsg::BLOCK_ENTRY || message == YAML::ErrorMsg::TAB_IN_INDENTATION;
}

base::Error syntax_error(const SourceText& source, const std::string& path,
                         const YAML::Exception& e) {
  const Mark where = source.mark(source.offset(e.mark));
  if (is_block_structure_message(e.msg)) {
    const std::string_view text = source.text();
    for (size_t i = source.line_start(where); i < text.size(); ++i) {
      if (text[i] == '\t') {
        return make_error(source, path, source.mark(i),
                          "tab character in indentation (YAML indents with spaces)");
      }
      if (text[i] != ' ') {
        break;
      }
    }
  }
  return make_error(source, path, where, e.msg);
}

// Thrown by the builder to stop yaml-cpp's parser once the builder has an error.
struct Stop {};

// Builds a Node from yaml-cpp's parse events. Building from events rather than from
// YAML::Node lets the builder stop at a second document (YAML::LoadAll in yaml-cpp 0.7 loops
// forever on a stray ',' at the top level), place an alias at the alias, and hold a depth and
// size limit without recursion.
class Builder : public YAML::EventHandler {
public:
  Builder(const SourceText& source, const std::string& path)
      : source_(source), path_(path), value_budget_(base_value_budget + 2 * source.text().size()) {}

  const base::Error& error() const { return *error_; }

  // The document; a null node at 1:1 when the text holds none.
  Node take_root() {
    if (!root_) {
      Node empty;
      empty.mark = Mark{1, 1};
      return empty;
    }
    return std::move(*root_);
  }

  void OnDocumentStart(const YAML::Mark& mark) override {
    const size_t offset = source_.offset(mark);
    if (++documents_ == 2) {
      if (offset == first_document_) {
        // yaml-cpp makes an empty document of a token that cannot start a node, without
        // consuming it.
        stop(source_.mark(offset), "unexpected " + describe(offset));
      }
      error_ = second_document_error(offset);
      throw Stop{};
    }
    first_document_ = offset;
  }

  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    const size_t offset = source_.offset(mark);
    last_offset_ = offset;
    Node node;
    node.mark = written_null(offset) ? source_.mark(offset) : empty_mark(offset);
    count(1, node.mark);
    complete(std::move(node), anchor, 1);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    last_offset_ = source_.offset(mark);
    const Mark where = source_.mark(last_offset_);
    if (open_anchors_.contains(anchor)) {
      stop(where, "recursive alias: it refers to a node that contains it");
    }
    const auto found = anchors_.find(anchor);
    if (found == anchors_.end()) {
      stop(where, YAML::ErrorMsg::UNKNOWN_ANCHOR);
    }
    Node copy = found->second.node;
    copy.mark = where;
    count(found->second.size, where);
    complete(std::move(copy), 0, found->second.size);
  }

  // yaml-cpp writes the escapes \N and \_ of double-quoted scalars as the single bytes 0x85 and
  // 0xA0, not as UTF-8. The text was checked to be UTF-8, so every byte that is not is one of
  // those: each becomes the character it stands for (U+0085, U+00A0).
  static std::string as_utf8(const std::string& value) {
    std::string out;
    for (size_t i = 0; i < value.size();) {
      const size_t length = utf8_length(value, i);
      if (length == 0) {
        const auto byte = static_cast<unsigned char>(value[i]);
        out += static_cast<char>(0xC0 | (byte >> 6));
        out += static_cast<char>(0x80 | (byte & 0x3F));
        ++i;
      } else {
        out.append(value, i, length);
        i += length;
      }
    }
    return out;
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    const size_t offset = source_.offset(mark);
    last_offset_ = offset;
    check_quotes(offset);
    Node node;
    node.kind = Node::Kind::scalar;
    node.mark = source_.mark(offset);
    node.scalar = as_utf8(value);
    // yaml-cpp tags a quoted or block scalar "!" and a plain one "?".
    node.quoted = tag == "!" || tag == "tag:yaml.org,2002:str";
    count(1, node.mark);
    complete(std::move(node), anchor, 1);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(Node::Kind::sequence, mark, anchor);
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(Node::Kind::map, mark, anchor);
  }
  void OnMapEnd() override { close(); }

private:
  // A sequence or map being built.
  struct Frame {
    Node node;
    YAML::anchor_t anchor = 0;
    size_t size = 1;                                // values in it, itself included
    std::optional<Node::Entry> entry;               // a map's key that waits for its value
    std::unordered_map<std::string, int> key_lines; // a large map's keys, to find duplicates
  };

  struct Anchored {
    Node node;
    size_t size = 0;
  };

  [[noreturn]] void stop(Mark where, std::string message, int length = 1) {
    error_ = make_error(source_, path_, where, std::move(message), length);
    throw Stop{};
  }

  // Counts more values in the document, aliases expanded.
  void count(size_t values, Mark where) {
    values_ += values;
    if (values_ > value_budget_) {
      stop(where,
           "aliases expand to too many values (more than " + std::to_string(value_budget_) + ")");
    }
  }

  void open(Node::Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor) {
    const Mark where = source_.mark(source_.offset(mark));
    if (stack_.size() >= static_cast<size_t>(max_depth)) {
      stop(where, "nesting too deep (more than " + std::to_string(max_depth) + " levels)");
    }
    count(1, where);
    Frame frame;
    frame.node.kind = kind;
    frame.node.mark = where;
    frame.anchor = anchor;
    if (anchor != 0) {
      open_anchors_.insert(anchor);
    }
    stack_.push_back(std::move(frame));
  }

  void close() {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    if (frame.anchor != 0) {
      open_anchors_.erase(frame.anchor);
    }
    complete(std::move(frame.node), frame.anchor, frame.size);
  }

  // A finished value of `size` values goes into the collection being built, or becomes the
  // document.
  void complete(Node node, YAML::anchor_t anchor, size_t size) {
    if (anchor != 0) {
      anchors_[anchor] = Anchored{node, size};
    }
    if (stack_.empty()) {
      root_ = std::move(node);
      return;
    }
    Frame& parent = stack_.back();
    parent.size += size;
    if (parent.node.kind == Node::Kind::sequence) {
      parent.node.items.push_back(std::move(node));
    } else if (!parent.entry) {
      add_key(parent, std::move(node));
    } else {
      parent.entry->value = std::move(node);
      parent.node.entries.push_back(std::move(*parent.entry));
      parent.entry.reset();
    }
  }

  void add_key(Frame& map, Node key) {
    if (!key.is_scalar()) {
      stop(key.mark, "map keys must be plain strings");
    }
    int first_line = 0;
    auto& entries = map.node.entries;
    if (entries.size() < linear_key_scan) {
      for (const auto& e : entries) {
        if (e.key == key.scalar) {
          first_line = e.key_mark.line;
          break;
        }
      }
    } else {
      if (map.key_lines.empty()) {
        for (const auto& e : entries) {
          map.key_lines.emplace(e.key, e.key_mark.line);
        }
      }
      const auto [it, inserted] = map.key_lines.emplace(key.scalar, key.mark.line);
      if (!inserted) {
        first_line = it->second;
      }
    }
    if (first_line != 0) {
      stop(key.mark,
           "duplicate key " + quote(key.scalar) + " (first at line " + std::to_string(first_line) +
               ")",
           key_length(key));
    }
    map.entry = Node::Entry{std::move(key.scalar), key.mark, Node{}};
  }

  // How many characters a key takes on its line, quotes included, for the caret. A scalar key
  // is complete at its own event, so it starts at the offset of the last event.
  int key_length(const Node& key) const {
    const std::string_view text = source_.text();
    const size_t offset = last_offset_;
    const bool quoted = offset < text.size() && (text[offset] == '"' || text[offset] == '\'');
    const size_t line_end = std::min(text.find('\n', offset), text.size());
    const size_t end = std::min(line_end, offset + key.scalar.size() + (quoted ? 2 : 0));
    return source_.chars(offset, end);
  }

  // Whether a null value is written out (`~`, `null`) rather than left empty.
  bool written_null(size_t offset) const {
    const std::string_view rest = source_.text().substr(offset);
    return rest.starts_with("~") || rest.starts_with("null") || rest.starts_with("Null") ||
           rest.starts_with("NULL") || rest.starts_with("&") || rest.starts_with("!");
  }

  // Where an empty value is reported, since yaml-cpp places it at the next token: a map
  // value at its key, a sequence item at its '-', the document at its start.
  Mark empty_mark(size_t offset) const {
    if (stack_.empty()) {
      return Mark{1, 1};
    }
    const Frame& parent = stack_.back();
    if (parent.node.kind == Node::Kind::map) {
      return parent.entry ? parent.entry->key_mark : source_.mark(offset);
    }
    const std::string_view text = source_.text();
    for (size_t i = std::min(offset, text.size()); i > source_.bom(); --i) {
      const char c = text[i - 1];
      if (c == '-') {
        return source_.mark(i - 1);
      }
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        break;
      }
    }
    return parent.node.mark; // an empty item in a flow sequence
  }

  // What is at `offset`, for a message.
  std::string describe(size_t offset) const {
    const std::string_view text = source_.text();
    if (offset >= text.size()) {
      return "end of file";
    }
    const size_t length = std::max<size_t>(utf8_length(text, offset), 1);
    return "'" + std::string(text.substr(offset, length)) + "'";
  }

  // yaml-cpp 0.7 accepts a quoted scalar that is never closed when the text ends with a line
  // break, taking the rest of the file as its text; so every quoted scalar is checked for its
  // closing quote here.
  void check_quotes(size_t offset) {
    const std::string_view text = source_.text();
    size_t i = offset;
    // Skip the node's properties: an anchor (&a) or a tag (!t), each followed by spaces.
    while (i < text.size() && (text[i] == '&' || text[i] == '!')) {
      while (i < text.size() && text[i] != ' ' && text[i] != '\t' && text[i] != '\n' &&
             text[i] != '\r') {
        ++i;
      }
      while (i < text.size() &&
             (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) {
        ++i;
      }
    }
    if (i >= text.size() || (text[i] != '"' && text[i] != '\'')) {
      return;
    }
    const char quote_char = text[i];
    for (size_t j = i + 1; j < text.size(); ++j) {
      if (quote_char == '"' && text[j] == '\\') {
        ++j;
      } else if (text[j] == quote_char) {
        if (quote_char == '\'' && j + 1 < text.size() && text[j + 1] == '\'') {
          ++j; // '' is a quote inside a single-quoted scalar
        } else {
          return;
        }
      }
    }
    stop(source_.mark(i), "unterminated string");
  }

  // The error for a second document: at its '---' line when it has one. yaml-cpp also starts
  // a new document, without saying so, when a top-level list is followed by a map; that is
  // reported as content after the document.
  base::Error second_document_error(size_t offset) const {
    const Mark start = source_.mark(offset);
    const auto one_document = [&](Mark where, int length) {
      return make_error(source_, path_, where,
                        "a job file holds one document; found a second at line " +
                            std::to_string(where.line),
                        length);
    };
    for (int line = start.line; line >= 1; --line) {
      const std::string text = source_line(source_.text(), line);
      if (text == "---" || text.starts_with("--- ") || text.starts_with("---\t")) {
        return one_document(Mark{line, 1}, 3);
      }
      if (text == "..." || text.starts_with("... ") || text.starts_with("...\t")) {
        return one_document(start, 1);
      }
      const size_t first = text.find_first_not_of(" \t");
      const bool blank_or_comment = first == std::string::npos || text[first] == '#';
      if (line < start.line && !blank_or_comment) {
        break;
      }
    }
    return make_error(source_, path_, start, "unexpected content after the end of the document");
  }

  const SourceText& source_;
  const std::string& path_;
  size_t value_budget_;
  size_t values_ = 0;
  int documents_ = 0;
  size_t first_document_ = 0;
  size_t last_offset_ = 0; // of the last scalar, null or alias
  std::vector<Frame> stack_;
  std::unordered_map<YAML::anchor_t, Anchored> anchors_;
  std::unordered_set<YAML::anchor_t> open_anchors_;
  std::optional<Node> root_;
  std::optional<base::Error> error_;
};

base::Result<Node> parse(const std::string& input, const SourceText& source,
                         const std::string& path) {
  Builder builder(source, path);
  try {
    std::istringstream stream(input);
    YAML::Parser parser(stream);
    // The builder stops at the start of a second document; the bound is a second guard
    // against yaml-cpp handing out documents without end.
    for (int i = 0; i < 2 && parser.HandleNextDocument(builder); ++i) {
    }
  } catch (const Stop&) {
    return builder.error();
  } catch (const YAML::DeepRecursion& e) {
    return make_error(source, path, source.mark(source.offset(e.mark)),
                      "nesting too deep (more than " + std::to_string(max_depth) + " levels)");
  } catch (const YAML::Exception& e) {
    return syntax_error(source, path, e);
  } catch (const std::exception& e) {
    return make_error(source, path, Mark{1, 1}, std::string("cannot read YAML: ") + e.what());
  }
  return builder.take_root();
}

} // namespace

base::Result<Node> parse_yaml(std::string_view text, const std::string& path) {
  const SourceText source(text);
  if (auto error = check_characters(source, path)) {
    return std::move(*error);
  }
  const std::string input(text);
  auto result = parse(input, source, path);
  // An unclosed quote at the very end: with a line break after it, yaml-cpp accepts the text
  // and the builder finds the opening quote, which is the better place to point at.
  if (!result.ok() && result.error().message == YAML::ErrorMsg::EOF_IN_SCALAR) {
    auto retry = parse(input + "\n", source, path);
    if (!retry.ok() && retry.error().message == "unterminated string") {
      return retry;
    }
  }
  return result;
}

} // namespace jobs
