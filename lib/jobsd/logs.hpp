#pragma once

// The daemon's own logs (spec §5), in its log folder: jobsd.log (lifecycle and errors),
// audit.log (every mutating command), and timezones/<Zone>/<local date>.log (what each
// time-zone queue fired and how it ended). Each file rotates by size and keeps a number of old
// files; rotated files, zone logs and per-execution logs older than the age limit are deleted by
// prune(). jobs.jsonl and the per-execution logs are written by engine::Recorder.

#include <jobsd/config.hpp>

#include <spdlog/logger.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tz {
class Zone;
}

namespace jobsd {

class Logs {
public:
  // Opens the logs in `dir` (created if needed). With `to_stderr`, jobsd.log's lines also go to
  // standard error. Throws std::runtime_error when the folder cannot be made or written: the
  // daemon cannot start without its log.
  Logs(const std::string& dir, const LogRetention& retention, bool to_stderr);
  ~Logs();

  const std::string& dir() const { return dir_; }
  // jobsd.log; thread-safe.
  spdlog::logger& daemon() { return *daemon_; }
  // jobsd.log without standard error: for what the caller tells there itself.
  spdlog::logger& file_only() { return *file_only_; }
  // One line in audit.log; thread-safe.
  void audit(const std::string& line);
  // One line in the log of `zone` for the local date of `utc` (seconds), stamped with that
  // local time; written by flush_zones(), so that firing waits for no write. Main thread only.
  void zone(const tz::Zone& zone, std::int64_t utc, const std::string& line);
  void flush_zones();
  // Deletes the files of the log folder and of `execution_logs` (rotated logs, zone logs,
  // per-execution logs) last written more than the age limit before `now` (UTC seconds), except
  // the files being written. Returns how many.
  int prune(std::int64_t now, const std::string& execution_logs);

  // The lines of jobsd.log that could not be written (its disk is full): how many, since when
  // (UTC ms), and why.
  struct Lost {
    std::int64_t lines = 0;
    std::int64_t since_ms = 0;
    std::string error;
  };
  Lost lost() const;
  // The lines lost since jobsd started, told or not (for jobs_log_faults_total).
  std::int64_t lost_total() const;
  // Once jobsd.log can be written again, says in it how many lines it lost; call it now and
  // then. Main thread only.
  void report_lost();

private:
  void lost_line(const std::string& error);

  std::string dir_;
  LogRetention retention_;
  std::shared_ptr<spdlog::logger> daemon_;
  std::shared_ptr<spdlog::logger> file_only_;
  std::shared_ptr<spdlog::logger> audit_;
  struct ZoneFile {
    std::string path;
    std::FILE* file = nullptr;
  };
  struct ZoneLine {
    const tz::Zone* zone;
    std::int64_t utc;
    std::string line;
  };
  std::vector<ZoneLine> pending_;
  std::map<std::string, ZoneFile> zones_;
  mutable std::mutex lost_mutex_;
  Lost lost_;
  std::int64_t lost_total_ = 0;
};

} // namespace jobsd
