#pragma once

#include <base/error.hpp>
#include <jobs/doc.hpp>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace jobs {

enum class Severity { error, warning };

struct Diagnostic {
  Severity severity;
  base::Error error; // message, path:line:col, source line
};

// Collects the findings for one file, each with its place and source line.
class Diagnostics {
public:
  Diagnostics(std::string path, std::string_view text) : path_(std::move(path)), text_(text) {}

  void error(Mark at, std::string message, int length = 1) {
    add(Severity::error, at, std::move(message), length);
  }
  void warning(Mark at, std::string message, int length = 1) {
    add(Severity::warning, at, std::move(message), length);
  }
  void add(base::Error e) { items_.push_back({Severity::error, std::move(e)}); }

  std::vector<Diagnostic>& items() { return items_; }

private:
  void add(Severity severity, Mark at, std::string message, int length);

  std::string path_;
  std::string_view text_;
  std::vector<Diagnostic> items_;
};

// "path:line:col: error: message" with the source line and caret.
std::string render(const Diagnostic& d);

// The finding object of jobsctl(1), JSON OUTPUT (validate --json, jobsd's reload errors): path
// (absolute), line and column (null: the whole file), severity, message, and the rendered text.
nlohmann::ordered_json to_json(const Diagnostic& d);

} // namespace jobs
