#include <store/stats.hpp>

#include <algorithm>

namespace store {

std::int64_t percentile(const std::vector<std::int64_t>& sorted, int p) {
  // Rank ceil(p * n / 100), in integers: exact where floating point could round 95 * 20 / 100
  // up or down.
  const auto n = static_cast<std::int64_t>(sorted.size());
  const std::int64_t rank = std::max<std::int64_t>(1, (p * n + 99) / 100);
  return sorted[static_cast<std::size_t>(std::min(rank, n) - 1)];
}

bool missed_reason(const std::string& reason) {
  return reason.starts_with("missed ");
}

StatsBuilder::Job& StatsBuilder::job(const std::string& job_id) {
  auto& j = jobs_[job_id];
  j.stats.job_id = job_id;
  return j;
}

void StatsBuilder::add_execution(const std::string& job_id, const std::string& status,
                                 std::int64_t start_ms, std::optional<std::int64_t> end_ms) {
  auto& j = job(job_id);
  ++j.stats.runs;
  ++j.stats.by_status[status];
  if (!end_ms) {
    return;
  }
  j.durations.push_back(std::max<std::int64_t>(0, *end_ms - start_ms));
  if (status == "success") {
    ++j.successes;
    j.stats.last_success_ms = std::max(j.stats.last_success_ms.value_or(*end_ms), *end_ms);
  }
  if (status != "cancelled" && status != "skipped") {
    ++j.rated;
  }
}

void StatsBuilder::add_skipped_fire(const std::string& job_id, const std::string& reason) {
  auto& j = job(job_id);
  ++(missed_reason(reason) ? j.stats.missed_fires : j.stats.skipped_fires);
}

void StatsBuilder::add_job(const std::string& job_id, std::optional<std::int64_t> last_success_ms) {
  auto& last = job(job_id).stats.last_success_ms;
  if (last_success_ms) {
    last = std::max(last.value_or(*last_success_ms), *last_success_ms);
  }
}

std::vector<JobStats> StatsBuilder::finish() {
  std::vector<JobStats> out;
  out.reserve(jobs_.size());
  for (auto& [id, j] : jobs_) {
    if (j.rated > 0) {
      j.stats.success_rate = static_cast<double>(j.successes) / static_cast<double>(j.rated);
    }
    if (!j.durations.empty()) {
      std::sort(j.durations.begin(), j.durations.end());
      j.stats.p50_ms = percentile(j.durations, 50);
      j.stats.p95_ms = percentile(j.durations, 95);
      j.stats.max_ms = j.durations.back();
    }
    out.push_back(std::move(j.stats));
  }
  jobs_.clear();
  return out;
}

} // namespace store
