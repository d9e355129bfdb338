#include <base/file.hpp>
#include <base/text.hpp>
#include <jobsd/logs.hpp>
#include <tz/format.hpp>
#include <tz/zone.hpp>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <system_error>

namespace jobsd {

namespace fs = std::filesystem;

namespace {

// UTC with milliseconds, then the level: 2026-12-01T09:00:00.004Z info reload: ...
constexpr const char* pattern = "%Y-%m-%dT%H:%M:%S.%eZ %l %v";

// `msg` with its text's control bytes escaped into `text`: a line that quotes what a client or a
// file gave stays one line.
spdlog::details::log_msg escaped(const spdlog::details::log_msg& msg, std::string& text) {
  text = base::escaped({msg.payload.data(), msg.payload.size()});
  spdlog::details::log_msg safe = msg;
  safe.payload = text;
  return safe;
}

// Standard error (--foreground: the journal, a terminal) gets jobsd.log's lines escaped too.
class EscapedStderrSink : public spdlog::sinks::stderr_sink_mt {
public:
  void log(const spdlog::details::log_msg& msg) override {
    std::string text;
    spdlog::sinks::stderr_sink_mt::log(escaped(msg, text));
  }
};

// A log file rotated by size (jobsd.log, then jobsd.1.log ... jobsd.N.log), opened without
// following a link planted in its place (base::open_append); with `escape`, each message escaped.
class FileSink : public spdlog::sinks::base_sink<std::mutex> {
public:
  FileSink(std::string path, const LogRetention& r, bool escape)
      : path_(std::move(path)), retention_(r), escape_(escape) {
    open();
    if (file_ == nullptr) {
      throw spdlog::spdlog_ex("cannot open " + path_, errno);
    }
  }
  ~FileSink() override {
    if (file_ != nullptr) {
      std::fclose(file_);
    }
  }

protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    if (escape_) {
      std::string text;
      formatter_->format(escaped(msg, text), line);
    } else {
      formatter_->format(msg, line);
    }
    if (file_ != nullptr && size_ > 0 &&
        size_ + static_cast<std::int64_t>(line.size()) > retention_.max_size) {
      rotate();
    }
    if (file_ == nullptr) {
      open(); // it failed before: perhaps it works now
    }
    // Unbuffered: each line reaches the file at once (a crash must not eat the last lines), and
    // a full disk fails this line, which the logger counts as lost.
    size_t written = 0;
    while (file_ != nullptr && written < line.size()) {
      const ssize_t n = ::write(fileno(file_), line.data() + written, line.size() - written);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        break;
      }
      written += static_cast<size_t>(n);
    }
    if (written < line.size()) {
      const int error = errno;
      if (file_ != nullptr) {
        std::fclose(file_);
        file_ = nullptr;
      }
      throw spdlog::spdlog_ex("cannot write " + path_, error);
    }
    size_ += static_cast<std::int64_t>(line.size());
  }
  void flush_() override {}

private:
  void open() {
    file_ = base::open_append(path_, 0640);
    struct stat st {};
    size_ = file_ != nullptr && fstat(fileno(file_), &st) == 0 ? st.st_size : 0;
  }
  // jobsd.log -> jobsd.1.log -> jobsd.2.log ...; renames move links, never what they point to.
  void rotate() {
    std::fclose(file_);
    file_ = nullptr;
    const auto numbered = [&](int i) {
      if (i == 0) {
        return path_;
      }
      const size_t dot = path_.rfind('.');
      return path_.substr(0, dot) + "." + std::to_string(i) + path_.substr(dot);
    };
    if (retention_.max_files == 0) {
      (void)!truncate(path_.c_str(), 0);
    }
    for (int i = retention_.max_files; i >= 1; --i) {
      std::rename(numbered(i - 1).c_str(), numbered(i).c_str());
    }
    open();
  }

  std::string path_;
  LogRetention retention_;
  bool escape_;
  std::FILE* file_ = nullptr;
  std::int64_t size_ = 0;
};

std::shared_ptr<spdlog::logger> make_logger(const std::string& name,
                                            std::vector<spdlog::sink_ptr> sinks) {
  auto logger = std::make_shared<spdlog::logger>(name, sinks.begin(), sinks.end());
  logger->set_pattern(pattern, spdlog::pattern_time_type::utc);
  // Every line reaches standard error at once too.
  logger->flush_on(spdlog::level::trace);
  return logger;
}

} // namespace

Logs::Logs(const std::string& dir, const LogRetention& retention, bool to_stderr)
    : dir_(dir), retention_(retention) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    throw std::runtime_error("cannot make the log folder " + dir + ": " + ec.message());
  }
  try {
    const auto jobsd_log = std::make_shared<FileSink>(dir + "/jobsd.log", retention, true);
    std::vector<spdlog::sink_ptr> sinks{jobsd_log};
    if (to_stderr) {
      sinks.push_back(std::make_shared<EscapedStderrSink>());
    }
    daemon_ = make_logger("jobsd", sinks);
    file_only_ = make_logger("jobsd", {jobsd_log});
    // A line that cannot be written (a full disk) is counted, to be told once it can.
    for (auto& logger : {daemon_, file_only_}) {
      logger->set_error_handler([this](const std::string& error) { lost_line(error); });
    }
    // Its lines escape each field themselves (Logs::audit's callers).
    audit_ =
        make_logger("audit", {std::make_shared<FileSink>(dir + "/audit.log", retention, false)});
    audit_->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %v", spdlog::pattern_time_type::utc);
  } catch (const spdlog::spdlog_ex& e) {
    throw std::runtime_error("cannot write the logs in " + dir + ": " + e.what());
  }
}

Logs::~Logs() {
  flush_zones();
  for (auto& [name, z] : zones_) {
    if (z.file != nullptr) {
      std::fclose(z.file);
    }
  }
}

void Logs::lost_line(const std::string& error) {
  std::lock_guard lock(lost_mutex_);
  ++lost_total_;
  if (lost_.lines++ == 0) {
    lost_.since_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    lost_.error = error;
  }
}

Logs::Lost Logs::lost() const {
  std::lock_guard lock(lost_mutex_);
  return lost_;
}

std::int64_t Logs::lost_total() const {
  std::lock_guard lock(lost_mutex_);
  return lost_total_;
}

void Logs::report_lost() {
  const Lost before = lost();
  if (before.lines == 0) {
    return;
  }
  daemon_->warn("jobsd.log: {} line{} could not be written from {} on: {}", before.lines,
                before.lines == 1 ? "" : "s", tz::format_utc(before.since_ms / 1000), before.error);
  std::lock_guard lock(lost_mutex_);
  if (lost_.lines > before.lines) {
    --lost_.lines; // this report was lost too: not a line to tell about
    return;
  }
  lost_.lines -= before.lines; // what other threads lost meanwhile stays to be told
  if (lost_.lines == 0) {
    lost_ = Lost{};
  }
}

void Logs::audit(const std::string& line) {
  audit_->info(line);
}

void Logs::zone(const tz::Zone& zone, std::int64_t utc, const std::string& line) {
  pending_.push_back({&zone, utc, line});
}

void Logs::flush_zones() {
  std::vector<ZoneLine> lines;
  lines.swap(pending_);
  std::set<std::FILE*> written;
  for (const auto& [zone_ptr, utc, line] : lines) {
    const tz::Zone& zone = *zone_ptr;
    const std::string local = tz::format_local(utc, zone); // 2026-12-01T09:00:00+01:00
    const std::string path =
        dir_ + "/timezones/" + zone.name() + "/" + local.substr(0, 10) + ".log";
    ZoneFile& z = zones_[zone.name()];
    if (z.path != path) {
      if (z.file != nullptr) {
        written.erase(z.file);
        std::fclose(z.file);
      }
      std::error_code ec;
      fs::create_directories(fs::path(path).parent_path(), ec);
      z.path = path;
      z.file = base::open_append(path, 0640);
      if (z.file == nullptr) {
        daemon_->warn("cannot write the zone log {}: {}", path, std::strerror(errno));
      }
    }
    if (z.file == nullptr) {
      continue;
    }
    const std::string text = local + " " + base::escaped(line) + "\n";
    if (std::fwrite(text.data(), 1, text.size(), z.file) != text.size()) {
      daemon_->warn("cannot write the zone log {}: {}", path, std::strerror(errno));
      written.erase(z.file);
      std::fclose(z.file);
      z.file = nullptr;
      z.path.clear();
      continue;
    }
    written.insert(z.file);
  }
  for (std::FILE* f : written) {
    std::fflush(f);
  }
}

int Logs::prune(std::int64_t now, const std::string& execution_logs) {
  if (retention_.max_age <= 0) {
    return 0;
  }
  const auto limit = std::chrono::system_clock::time_point(std::chrono::seconds(now)) -
                     std::chrono::seconds(retention_.max_age);
  // The files being written stay, whatever their age.
  const auto live = [&](const fs::path& p) {
    const std::string name = p.filename().string();
    if (name == "jobsd.log" || name == "audit.log" || name == "jobs.jsonl") {
      return true;
    }
    return std::any_of(zones_.begin(), zones_.end(),
                       [&](const auto& z) { return z.second.path == p.string(); });
  };
  int removed = 0;
  for (const std::string& folder : {dir_, execution_logs}) {
    std::error_code ec;
    std::vector<fs::path> old;
    for (auto it = fs::recursive_directory_iterator(folder, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::error_code e2;
      if (!it->is_regular_file(e2) || live(it->path())) {
        continue;
      }
      const auto written = fs::last_write_time(it->path(), e2);
      if (!e2 && std::chrono::file_clock::to_sys(written) < limit) {
        old.push_back(it->path());
      }
    }
    for (const auto& p : old) {
      removed += fs::remove(p, ec) ? 1 : 0;
    }
    if (execution_logs == dir_) {
      break;
    }
  }
  return removed;
}

} // namespace jobsd
