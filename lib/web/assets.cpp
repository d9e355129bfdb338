#include <algorithm>
#include <web/assets.hpp>

namespace web {

const Asset* find_asset(std::string_view path) {
  if (path == "/") {
    path = "/assets/index.html";
  }
  const auto& all = assets();
  const auto it =
      std::find_if(all.begin(), all.end(), [&](const Asset& a) { return a.path == path; });
  return it == all.end() ? nullptr : &*it;
}

} // namespace web
