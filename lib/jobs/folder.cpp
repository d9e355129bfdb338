#include <base/text.hpp>
#include <jobs/folder.hpp>
#include <jobs/trust.hpp>

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <thread>

namespace jobs {

namespace fs = std::filesystem;

bool is_job_file(const fs::path& p) {
  const auto name = p.filename().string();
  if (name.empty() || name[0] == '.' || name.back() == '~') {
    return false;
  }
  const auto ext = p.extension().string();
  return ext == ".json" || ext == ".yaml" || ext == ".yml";
}

namespace {

// A finding of the checks across files; the file is read again for the caret line (these
// findings are rare, and the loader keeps no text).
void add_error(LoadedFile& file, Mark at, std::string message) {
  base::Error e;
  e.message = std::move(message);
  e.location = {file.path, at.line, at.column};
  if (at.line > 0) {
    std::ifstream in(file.path, std::ios::binary);
    std::ostringstream text; // operator<< turns a read error into a state, never a throw
    text << in.rdbuf();
    e.source_line = source_line(text.str(), at.line);
  }
  file.diagnostics.push_back({Severity::error, std::move(e)});
}

// Reports `after` cycles once each, at every job on the cycle.
void check_cycles(const std::vector<const LoadedFile*>& files,
                  const std::map<std::string, size_t>& by_id,
                  const std::function<void(size_t, Mark, std::string)>& report) {
  enum class State { unvisited, active, done };
  std::map<std::string, State> state;
  std::vector<std::string> stack;
  std::set<std::string> reported;
  std::function<void(const std::string&)> visit = [&](const std::string& id) {
    state[id] = State::active;
    stack.push_back(id);
    for (const auto& up : files[by_id.at(id)]->job->after) {
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
            const size_t i = by_id.at(*it);
            const auto& job = *files[i]->job;
            const auto& after = job.after;
            const size_t k = static_cast<size_t>(
                std::find(after.begin(), after.end(), it + 1 == stack.end() ? up : *(it + 1)) -
                after.begin());
            report(i, k < job.after_marks.size() ? job.after_marks[k] : Mark{1, 1},
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
  for (const auto& [id, i] : by_id) {
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

std::vector<std::string> list_job_files(const std::vector<std::string>& paths,
                                        std::vector<LoadedFile>& problems, bool check_trust) {
  std::vector<std::string> found;
  const auto problem = [&](const std::string& path, std::string message) {
    LoadedFile f;
    f.path = path;
    add_error(f, {}, std::move(message));
    problems.push_back(std::move(f));
  };
  // Links are never followed, so the walk stays inside the folder; a folder seen twice (a bind
  // mount of a folder above) is a loop.
  std::set<std::pair<dev_t, ino_t>> seen;
  std::function<void(const std::string&, const struct stat&, uid_t)> walk =
      [&](const std::string& dir, const struct stat& dir_st, uid_t holder) {
        if (!seen.insert({dir_st.st_dev, dir_st.st_ino}).second) {
          problem(dir, "the folder is reached again below itself (a bind mount?): not read twice");
          return;
        }
        std::vector<std::string> names;
        DIR* d = ::opendir(dir.c_str());
        if (d == nullptr) {
          problem(dir, std::string("cannot read the folder: ") + std::strerror(errno));
          return;
        }
        while (const dirent* e = ::readdir(d)) {
          if (e->d_name[0] != '.') { // hidden entries, . and .., .git and friends
            names.emplace_back(e->d_name);
          }
        }
        ::closedir(d);
        for (const auto& name : names) {
          const std::string path = dir == "." ? name : dir + "/" + name;
          struct stat st {};
          if (::lstat(path.c_str(), &st) != 0) {
            continue; // gone since the folder was read
          }
          const std::string distrust = check_trust && (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))
                                           ? trust_problem(st, holder, path)
                                           : std::string();
          if (!distrust.empty()) {
            problem(path, distrust);
          } else if (S_ISDIR(st.st_mode)) {
            walk(path, st, holder_below(st, holder));
          } else if (is_job_file(path)) {
            found.push_back(path); // the loader refuses links and special files with a finding
          } else if (struct stat target{}; S_ISLNK(st.st_mode) &&
                                           ::stat(path.c_str(), &target) == 0 &&
                                           S_ISDIR(target.st_mode)) {
            problem(path, "is a symbolic link to a folder, which jobsd does not follow (it could "
                          "loop or lead out of the jobs folder): move the folder here instead");
          }
        }
      };
  for (const auto& given : paths) {
    std::string path = fs::path(given).lexically_normal().string();
    if (path.size() > 1 && path.ends_with('/')) {
      path.pop_back(); // "jobs/": its entries are "jobs/x.yaml"
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      // The folder given may be reached through links: whoever wrote the path trusts them.
      const std::string distrust = check_trust ? trust_problem(st, 0, path) : std::string();
      if (distrust.empty()) {
        walk(path, st, holder_below(st, 0));
      } else {
        problem(path, distrust);
      }
      continue;
    }
    // A file given by name is checked with the folder holding it.
    struct stat folder {};
    struct stat file {};
    const std::string parent = fs::path(path).parent_path().empty()
                                   ? std::string(".")
                                   : fs::path(path).parent_path().string();
    std::string where = parent;
    std::string distrust;
    if (check_trust && ::stat(parent.c_str(), &folder) == 0 && ::lstat(path.c_str(), &file) == 0 &&
        S_ISREG(file.st_mode)) {
      distrust = trust_problem(folder, 0, parent);
      if (distrust.empty()) {
        where = path;
        distrust = trust_problem(file, holder_below(folder, 0), path);
      }
    }
    if (distrust.empty()) {
      found.push_back(path);
    } else {
      problem(where, distrust);
    }
  }
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  return found;
}

std::vector<LoadedFile> load_files(const std::vector<std::string>& paths,
                                   const LoadOptions& options) {
  // Files load independently: spread them over the cores.
  std::vector<LoadedFile> files(paths.size());
  std::atomic<size_t> next{0};
  const auto work = [&] {
    for (size_t i = next++; i < paths.size(); i = next++) {
      // An exception escaping a worker thread would end the process (jobsd included): it
      // becomes that file's error, and the other files load.
      try {
        files[i] = load_job_file(paths[i], options);
      } catch (const std::exception& e) {
        files[i] = LoadedFile{paths[i], std::nullopt, {}};
        add_error(files[i], {}, std::string("internal error loading this file: ") + e.what());
      }
    }
  };
  const size_t workers =
      std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), paths.size() / 64 + 1);
  std::vector<std::thread> threads;
  for (size_t k = 1; k < workers; ++k) {
    threads.emplace_back(work);
  }
  work();
  for (auto& t : threads) {
    t.join();
  }
  return files;
}

std::vector<std::vector<Diagnostic>> check_across(const std::vector<const LoadedFile*>& files) {
  std::vector<std::vector<Diagnostic>> found(files.size());
  // Findings go to a scratch copy of each file's path (add_error reads the file for the caret).
  const auto report = [&](size_t i, Mark at, std::string message) {
    LoadedFile scratch;
    scratch.path = files[i]->path;
    add_error(scratch, at, std::move(message));
    found[i].push_back(std::move(scratch.diagnostics.back()));
  };
  // Ids are unique across the folder: every file that shares one is named.
  std::map<std::string, std::vector<size_t>> by_id;
  for (size_t i = 0; i < files.size(); ++i) {
    if (files[i]->job) {
      by_id[files[i]->job->id].push_back(i);
    }
  }
  for (auto& [id, indexes] : by_id) {
    if (indexes.size() < 2) {
      continue;
    }
    for (size_t i : indexes) {
      std::string others;
      for (size_t k : indexes) {
        if (k != i) {
          others += (others.empty() ? "" : ", ") + files[k]->path;
        }
      }
      const auto& job = *files[i]->job;
      report(i, job.id_mark.line > 0 ? job.id_mark : Mark{1, 1},
             "duplicate job id \"" + id + "\" (also in " + others + ")");
    }
  }
  std::vector<std::string> ids;
  for (auto& [id, indexes] : by_id) {
    ids.push_back(id);
  }
  std::map<std::string, size_t> unique;
  for (auto& [id, indexes] : by_id) {
    if (indexes.size() == 1) {
      unique[id] = indexes[0];
    }
  }
  for (auto& [id, i] : unique) {
    const auto& job = *files[i]->job;
    for (size_t k = 0; k < job.after.size(); ++k) {
      if (by_id.count(job.after[k])) {
        continue;
      }
      std::string message = "\"after\": no job has the id \"" + job.after[k] + "\"";
      const auto broken = std::find_if(files.begin(), files.end(), [&](const LoadedFile* f) {
        return !f->job && fs::path(f->path).stem() == job.after[k];
      });
      const auto near = base::suggest(job.after[k], ids, 1);
      if (broken != files.end()) {
        message = "\"after\": job \"" + job.after[k] + "\" did not load (" + (*broken)->path +
                  " has errors)";
      } else if (!near.empty()) {
        message += "; did you mean " + base::quoted_alternatives(near) + "?";
      }
      report(i, k < job.after_marks.size() ? job.after_marks[k] : Mark{1, 1}, message);
    }
  }
  check_cycles(files, unique, report);
  return found;
}

JobSet load_paths(const std::vector<std::string>& paths, const LoadOptions& options,
                  const std::vector<std::string>& context) {
  JobSet set;
  const auto found = list_job_files(paths, set.files, options.daemon_is_root);
  auto loaded = load_files(found, options);
  std::move(loaded.begin(), loaded.end(), std::back_inserter(set.files));
  // The context's files that `paths` do not name, told apart by device and inode.
  std::set<std::pair<dev_t, ino_t>> named;
  for (const auto& path : found) {
    if (struct stat st{}; ::stat(path.c_str(), &st) == 0) {
      named.emplace(st.st_dev, st.st_ino);
    }
  }
  std::vector<LoadedFile> context_problems; // not the named files' findings
  std::vector<std::string> others;
  for (const auto& path : list_job_files(context, context_problems, options.daemon_is_root)) {
    if (struct stat st{}; ::stat(path.c_str(), &st) == 0 && !named.count({st.st_dev, st.st_ino})) {
      others.push_back(path);
    }
  }
  const auto context_files = load_files(others, options);
  std::vector<const LoadedFile*> pointers;
  for (const auto& f : set.files) {
    pointers.push_back(&f);
  }
  for (const auto& f : context_files) {
    pointers.push_back(&f);
  }
  auto across = check_across(pointers);
  for (size_t i = 0; i < set.files.size(); ++i) {
    auto& f = set.files[i];
    std::move(across[i].begin(), across[i].end(), std::back_inserter(f.diagnostics));
    // A file with errors loads no job, whichever check found them.
    if (f.has_errors()) {
      f.job.reset();
    }
  }
  return set;
}

} // namespace jobs
