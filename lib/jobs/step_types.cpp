#include <jobs/step_types.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

namespace jobs {

namespace {

// argv is a program and its arguments: a list, not a command line in one string.
void check_command(const StepDefinition& step, Diagnostics& out) {
  const Node* argv = step.keys.find("argv");
  if (argv == nullptr) {
    return;
  }
  if (argv->is_sequence() && argv->items.empty()) {
    out.error(argv->mark, "\"argv\": expected the program and its arguments, got an empty list");
  } else if (argv->is_scalar() && argv->scalar.find(' ') != std::string::npos) {
    out.error(argv->mark, "\"argv\": one string is one program name; write a list such as [" +
                              argv->scalar.substr(0, argv->scalar.find(' ')) +
                              ", ...] or use a shell step");
  }
}

// Whether a program of this name is in this process's PATH.
bool in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string_view rest = path != nullptr ? path : "/usr/bin:/bin";
  while (true) {
    const size_t colon = rest.find(':');
    const std::string dir(rest.substr(0, colon));
    if (access(((dir.empty() ? "." : dir) + "/" + name).c_str(), X_OK) == 0) {
      return true;
    }
    if (colon == std::string_view::npos) {
      return false;
    }
    rest.remove_prefix(colon + 1);
  }
}

void check_powershell(const StepDefinition& step, Diagnostics& out) {
  const bool script = step.keys.find("script") != nullptr;
  const bool script_path = step.keys.find("script_path") != nullptr;
  if (script == script_path) {
    out.error(step.mark, std::string("a powershell step needs exactly one of \"script\" and "
                                     "\"script_path\"") +
                             (script ? ", not both" : ""));
    return;
  }
  static const bool pwsh = in_path("pwsh");
  if (!pwsh) {
    const Node* type = step.keys.find("type");
    out.warning(type != nullptr ? type->mark : step.mark,
                "pwsh not found in PATH: this step fails on this machine unless PowerShell is "
                "installed where it runs");
  }
}

} // namespace

const std::vector<StepType>& step_types() {
  static const std::vector<StepType> types = {
      {"command",
       "Runs a program with arguments, no shell",
       {
           {"argv",
            ValueType::string_list,
            "Program and arguments ([rsync, -a, src/, dst/])",
            {},
            true},
       },
       &check_command},
      {"powershell",
       "Runs a PowerShell script with pwsh -NoProfile -NonInteractive",
       {
           {"script", ValueType::string, "Script text"},
           {"script_path", ValueType::string, "Script file"},
           {"parameters", ValueType::string_map, "Named parameters, passed without splicing"},
           {"execution_policy",
            ValueType::string,
            "PowerShell execution policy",
            {"AllSigned", "Bypass", "Default", "RemoteSigned", "Restricted", "Undefined",
             "Unrestricted"}},
       },
       &check_powershell},
      {"shell",
       "Runs a script with sh -c (or the shell named)",
       {
           {"run", ValueType::string, "The script", {}, true},
           {"shell", ValueType::string, "Shell to run it with", {"sh", "bash", "dash", "zsh"}},
       }},
  };
  return types;
}

const StepType* find_step_type(std::string_view name) {
  const auto& types = step_types();
  const auto it =
      std::find_if(types.begin(), types.end(), [&](const StepType& t) { return t.name == name; });
  return it == types.end() ? nullptr : &*it;
}

} // namespace jobs
