#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace test {

// A fresh folder under /tmp, removed with everything in it at the end of the scope.
struct TempDir {
  std::filesystem::path path;

  explicit TempDir(const std::string& prefix = "jobs-test") {
    std::string name = "/tmp/" + prefix + "-XXXXXX";
    path = mkdtemp(name.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

} // namespace test
