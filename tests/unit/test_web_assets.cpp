#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <web/assets.hpp>

namespace fs = std::filesystem;

namespace {

// The folder the dashboard is built from (tests/CMakeLists.txt).
const fs::path web_dir = JOBS_WEB_DIR;

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

} // namespace

TEST_SUITE("web::assets") {
  TEST_CASE("every file of web/ is built in with its bytes and content type") {
    const std::map<std::string, std::string> types = {{".html", "text/html; charset=utf-8"},
                                                      {".js", "text/javascript; charset=utf-8"},
                                                      {".css", "text/css; charset=utf-8"}};
    size_t files = 0;
    for (const auto& entry : fs::directory_iterator(web_dir)) {
      const std::string name = entry.path().filename().string();
      CAPTURE(name);
      const web::Asset* asset = web::find_asset("/assets/" + name);
      REQUIRE(asset != nullptr);
      CHECK(asset->path == "/assets/" + name);
      CHECK(asset->body == read(entry.path()));
      CHECK(asset->content_type == types.at(entry.path().extension().string()));
      CHECK(std::regex_match(std::string(asset->etag), std::regex("\"[0-9a-f]{32}\"")));
      ++files;
    }
    CHECK(files >= 3);
    CHECK(web::assets().size() == files);
  }

  TEST_CASE("/ is index.html") {
    const web::Asset* root = web::find_asset("/");
    REQUIRE(root != nullptr);
    CHECK(root == web::find_asset("/assets/index.html"));
    CHECK(root->body == read(web_dir / "index.html"));
  }

  TEST_CASE("nothing else is found") {
    for (const char* path : {"", "/assets/", "/assets", "/index.html", "/app.js",
                             "/assets/../web/app.js", "/assets/app.js/", "/assets/app.js?x=1",
                             "/assets/APP.JS", "/assets/nope.js", "//assets/app.js"}) {
      CAPTURE(path);
      CHECK(web::find_asset(path) == nullptr);
    }
  }

  TEST_CASE("the ETag changes with the bytes") {
    const auto* js = web::find_asset("/assets/app.js");
    const auto* css = web::find_asset("/assets/app.css");
    REQUIRE(js != nullptr);
    REQUIRE(css != nullptr);
    CHECK(js->etag != css->etag);
  }

  TEST_CASE("index.html has no inline script, style or event handler (the CSP forbids them)") {
    const std::string html = read(web_dir / "index.html");
    CHECK_FALSE(std::regex_search(html, std::regex("<script(?![^>]*\\bsrc=)[^>]*>")));
    CHECK_FALSE(std::regex_search(html, std::regex("<style\\b")));
    CHECK_FALSE(std::regex_search(html, std::regex("\\s(style|on[a-z]+)=", std::regex::icase)));
  }
}
