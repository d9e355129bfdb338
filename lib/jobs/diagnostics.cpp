#include <jobs/diagnostics.hpp>

#include <filesystem>

namespace jobs {

void Diagnostics::add(Severity severity, Mark at, std::string message, int length) {
  base::Error e;
  e.message = std::move(message);
  e.location = {path_, at.line, at.column};
  e.source_line = at.line > 0 ? source_line(text_, at.line) : std::string();
  e.length = length;
  items_.push_back({severity, std::move(e)});
}

std::string render(const Diagnostic& d) {
  return d.error.render(d.severity == Severity::error ? "error" : "warning");
}

nlohmann::ordered_json to_json(const Diagnostic& d) {
  const auto& at = d.error.location;
  // Line and column 0: the finding is about the whole file.
  const auto place = [](int n) { return n > 0 ? nlohmann::ordered_json(n) : nullptr; };
  return {{"path", std::filesystem::absolute(at.path).lexically_normal().string()},
          {"line", place(at.line)},
          {"column", place(at.column)},
          {"severity", d.severity == Severity::error ? "error" : "warning"},
          {"message", d.error.message},
          {"text", render(d)}};
}

} // namespace jobs
