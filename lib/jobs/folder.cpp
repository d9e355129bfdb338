#include <base/text.hpp>
#include <jobs/folder.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <thread>

namespace jobs {

namespace fs = std::filesystem;

namespace {

bool is_job_file(const fs::path& p) {
  const auto name = p.filename().string();
  if (name.empty() || name[0] == '.' || name.back() == '~') {
    return false;
  }
  const auto ext = p.extension().string();
  return ext == ".json" || ext == ".yaml" || ext == ".yml";
}

// A finding of the checks across files; the file is read again for the caret line (these
// findings are rare, and the loader keeps no text).
void add_error(LoadedFile& file, Mark at, std::string message) {
  base::Error e;
  e.message = std::move(message);
  e.location = {file.path, at.line, at.column};
  if (at.line > 0) {
    std::ifstream in(file.path, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    e.source_line = source_line(text, at.line);
  }
  file.diagnostics.push_back({Severity::error, std::move(e)});
}

// Reports `after` cycles once each, at every job on the cycle.
void check_cycles(std::map<std::string, LoadedFile*>& by_id) {
  enum class State { unvisited, active, done };
  std::map<std::string, State> state;
  std::vector<std::string> stack;
  std::set<std::string> reported;
  std::function<void(const std::string&)> visit = [&](const std::string& id) {
    state[id] = State::active;
    stack.push_back(id);
    const auto* file = by_id[id];
    for (const auto& up : file->job->after) {
      if (!by_id.count(up)) {
        continue;
      }
      if (state[up] == State::active) {
        const auto start = std::find(stack.begin(), stack.end(), up);
        std::string cycle;
        for (auto it = start; it != stack.end(); ++it) {
          cycle += *it + " -> ";
        }
        cycle += up;
        for (auto it = start; it != stack.end(); ++it) {
          if (reported.insert(*it).second) {
            auto* f = by_id[*it];
            const auto& after = f->job->after;
            const size_t k = static_cast<size_t>(
                std::find(after.begin(), after.end(), it + 1 == stack.end() ? up : *(it + 1)) -
                after.begin());
            add_error(*f, k < f->job->after_marks.size() ? f->job->after_marks[k] : Mark{1, 1},
                      "\"after\" forms a cycle: " + cycle);
          }
        }
      } else if (state[up] == State::unvisited) {
        visit(up);
      }
    }
    stack.pop_back();
    state[id] = State::done;
  };
  for (auto& [id, file] : by_id) {
    if (state[id] == State::unvisited) {
      visit(id);
    }
  }
}

} // namespace

size_t JobSet::job_count() const {
  return static_cast<size_t>(
      std::count_if(files.begin(), files.end(), [](const LoadedFile& f) { return f.job; }));
}

size_t JobSet::error_count() const {
  size_t n = 0;
  for (const auto& f : files) {
    for (const auto& d : f.diagnostics) {
      n += d.severity == Severity::error;
    }
  }
  return n;
}

size_t JobSet::warning_count() const {
  size_t n = 0;
  for (const auto& f : files) {
    for (const auto& d : f.diagnostics) {
      n += d.severity == Severity::warning;
    }
  }
  return n;
}

const JobDefinition* JobSet::find(std::string_view id) const {
  for (const auto& f : files) {
    if (f.job && f.job->id == id) {
      return &*f.job;
    }
  }
  return nullptr;
}

JobSet load_paths(const std::vector<std::string>& paths, const LoadOptions& options) {
  JobSet set;
  std::vector<std::string> found;
  for (const auto& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      auto it = fs::recursive_directory_iterator(
          path, fs::directory_options::follow_directory_symlink, ec);
      for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        const auto name = it->path().filename().string();
        if (it->is_directory(ec) && !name.empty() && name[0] == '.') {
          it.disable_recursion_pending(); // .git and friends
          continue;
        }
        if (it->is_regular_file(ec) && is_job_file(it->path())) {
          found.push_back(it->path().lexically_normal().string());
        }
      }
      if (ec) {
        LoadedFile f;
        f.path = path;
        add_error(f, {}, "cannot read the folder: " + ec.message());
        set.files.push_back(std::move(f));
      }
    } else {
      found.push_back(path);
    }
  }
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  // Files load independently: spread them over the cores.
  const size_t first = set.files.size();
  set.files.resize(first + found.size());
  std::atomic<size_t> next{0};
  const auto work = [&] {
    for (size_t i = next++; i < found.size(); i = next++) {
      set.files[first + i] = load_job_file(found[i], options);
    }
  };
  const size_t workers =
      std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), found.size() / 64 + 1);
  std::vector<std::thread> threads;
  for (size_t k = 1; k < workers; ++k) {
    threads.emplace_back(work);
  }
  work();
  for (auto& t : threads) {
    t.join();
  }

  // Ids are unique across the folder: every file that shares one is named.
  std::map<std::string, std::vector<LoadedFile*>> by_id;
  for (auto& f : set.files) {
    if (f.job) {
      by_id[f.job->id].push_back(&f);
    }
  }
  for (auto& [id, files] : by_id) {
    if (files.size() < 2) {
      continue;
    }
    for (auto* f : files) {
      std::string others;
      for (auto* g : files) {
        if (g != f) {
          others += (others.empty() ? "" : ", ") + g->path;
        }
      }
      add_error(*f, f->job->id_mark.line > 0 ? f->job->id_mark : Mark{1, 1},
                "duplicate job id \"" + id + "\" (also in " + others + ")");
    }
  }
  std::vector<std::string> ids;
  for (auto& [id, files] : by_id) {
    ids.push_back(id);
  }
  std::map<std::string, LoadedFile*> unique;
  for (auto& [id, files] : by_id) {
    if (files.size() == 1) {
      unique[id] = files[0];
    }
  }
  for (auto& [id, file] : unique) {
    const auto& job = *file->job;
    for (size_t k = 0; k < job.after.size(); ++k) {
      if (by_id.count(job.after[k])) {
        continue;
      }
      std::string message = "\"after\": no job has the id \"" + job.after[k] + "\"";
      const auto broken = std::find_if(set.files.begin(), set.files.end(), [&](const auto& f) {
        return !f.job && fs::path(f.path).stem() == job.after[k];
      });
      const auto near = base::suggest(job.after[k], ids, 1);
      if (broken != set.files.end()) {
        message = "\"after\": job \"" + job.after[k] + "\" did not load (" + broken->path +
                  " has errors)";
      } else if (!near.empty()) {
        message += "; did you mean " + base::quoted_alternatives(near) + "?";
      }
      add_error(*file, k < job.after_marks.size() ? job.after_marks[k] : Mark{1, 1}, message);
    }
  }
  check_cycles(unique);

  // A file with errors loads no job, whichever check found them.
  for (auto& f : set.files) {
    if (f.has_errors()) {
      f.job.reset();
    }
  }
  return set;
}

} // namespace jobs
