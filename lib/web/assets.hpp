#pragma once

// The dashboard's files (web/), built into the program by embed.cmake: what jobsd's HTTP listener
// serves at / and under /assets/, and nothing else.

#include <string_view>
#include <vector>

namespace web {

// One file: its URL path, its Content-Type, its bytes and its ETag (quoted, as the header has it).
struct Asset {
  std::string_view path;
  std::string_view content_type;
  std::string_view body;
  std::string_view etag;
};

// Every file of web/, as /assets/NAME, by path.
const std::vector<Asset>& assets();

// The file a request path names: "/" is /assets/index.html; a query or anything else (no such
// file, a folder, "..") is nullptr.
const Asset* find_asset(std::string_view path);

} // namespace web
