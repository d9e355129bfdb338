#include <net/json_path.hpp>

#include <charconv>
#include <optional>
#include <vector>

namespace net {

namespace {

std::optional<size_t> as_index(std::string_view s) {
  size_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

// "a.b[0].c" as {"a", "b", "0", "c"}; nullopt for an unclosed bracket.
std::optional<std::vector<std::string_view>> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  size_t start = 0;
  auto flush = [&](size_t end) {
    if (end > start) {
      parts.push_back(path.substr(start, end - start));
    }
  };
  while (i < path.size()) {
    char c = path[i];
    if (c == '.') {
      flush(i);
      start = ++i;
    } else if (c == '[') {
      flush(i);
      auto close = path.find(']', i);
      if (close == std::string_view::npos) {
        return std::nullopt;
      }
      parts.push_back(path.substr(i + 1, close - i - 1));
      i = close + 1;
      start = i;
    } else {
      ++i;
    }
  }
  flush(i);
  return parts;
}

} // namespace

const nlohmann::json* json_at(const nlohmann::json& doc, std::string_view path) {
  auto parts = split_path(path);
  if (!parts) {
    return nullptr;
  }
  const nlohmann::json* at = &doc;
  for (auto part : *parts) {
    if (at->is_array()) {
      auto index = as_index(part);
      if (!index || *index >= at->size()) {
        return nullptr;
      }
      at = &(*at)[*index];
    } else if (at->is_object()) {
      auto it = at->find(std::string(part));
      if (it == at->end()) {
        return nullptr;
      }
      at = &*it;
    } else {
      return nullptr;
    }
  }
  return at;
}

std::string json_text(const nlohmann::json& v) {
  if (v.is_string()) {
    return v.get<std::string>();
  }
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace net
