#include <jobs/diagnostics.hpp>

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

} // namespace jobs
