#include <base/text.hpp>
#include <tz/posix_rule.hpp>
#include <tz/zone.hpp>

#include <date/tz.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>

namespace tz {

namespace {

constexpr std::int64_t min_time = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t max_time = std::numeric_limits<std::int64_t>::max();
constexpr int last_generated_year = 2500;

// The folder date/tz itself reads (it has no TZDIR override).
const std::string zoneinfo = "/usr/share/zoneinfo/";

// The POSIX rule at the end of a TZif file (version 2 or later): the text between the last
// two newlines. Empty when there is none.
std::string read_footer(const std::string& zone_name) {
  const std::string path = zoneinfo + zone_name;
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string data = buffer.str();
  if (data.size() < 6 || data.compare(0, 4, "TZif") != 0 || data[4] < '2' || data.back() != '\n') {
    return {};
  }
  const size_t start = data.rfind('\n', data.size() - 2);
  if (start == std::string::npos) {
    return {};
  }
  return data.substr(start + 1, data.size() - start - 2);
}

std::vector<Transition> load_transitions(const date::time_zone& zone) {
  using namespace std::chrono;
  std::vector<Transition> out;
  // Every zone's data starts after 1800 (local mean time before that).
  auto info = zone.get_info(date::sys_days{date::year{1800} / 1 / 1});
  out.push_back({min_time, static_cast<std::int32_t>(info.offset.count()), info.save != minutes{0},
                 info.abbrev});
  const auto end_of_data = date::sys_days{date::year{9999} / 1 / 1};
  while (info.end < end_of_data) {
    const auto at = info.end;
    info = zone.get_info(at);
    out.push_back({at.time_since_epoch().count(), static_cast<std::int32_t>(info.offset.count()),
                   info.save != minutes{0}, info.abbrev});
  }
  // date/tz reads only the transitions the file lists (up to 2037 in "fat" files); the
  // footer rule says what comes after.
  const std::string footer = read_footer(zone.name());
  if (footer.empty()) {
    return out;
  }
  auto rule = PosixRule::parse(footer);
  if (!rule) {
    return out;
  }
  const std::int64_t last = out.back().at;
  const int first_year =
      last == min_time
          ? 1970
          : int(date::year_month_day{date::floor<date::days>(sys_seconds{seconds{last}})}.year());
  for (int year = first_year; year <= last_generated_year; ++year) {
    for (auto& t : rule->transitions_in(year)) {
      if (t.at > last) {
        out.push_back(std::move(t));
      }
    }
  }
  return out;
}

std::mutex registry_mutex;
std::map<std::string, std::unique_ptr<Zone>, std::less<>> registry;

} // namespace

Zone::Zone(std::string name, const std::vector<Transition>& transitions) : name_(std::move(name)) {
  for (const auto& t : transitions) {
    const auto at = begins_.empty() ? min_time : t.at;
    auto abbrev = std::find(abbrevs_.begin(), abbrevs_.end(), t.abbrev);
    if (abbrev == abbrevs_.end()) {
      abbrev = abbrevs_.insert(abbrevs_.end(), t.abbrev);
    }
    const auto abbrev_index = static_cast<std::uint16_t>(abbrev - abbrevs_.begin());
    if (!begins_.empty() && begins_.back() == at) {
      // Two changes at one instant: the later one is what is in force.
      begins_.pop_back();
      offsets_.pop_back();
      dst_.pop_back();
      abbrev_index_.pop_back();
    }
    if (!begins_.empty() && offsets_.back() == t.offset && dst_.back() == t.dst &&
        abbrev_index_.back() == abbrev_index) {
      continue; // no change
    }
    begins_.push_back(at);
    offsets_.push_back(t.offset);
    dst_.push_back(t.dst);
    abbrev_index_.push_back(abbrev_index);
  }
}

size_t Zone::index_at(std::int64_t utc) const {
  const auto it = std::upper_bound(begins_.begin(), begins_.end(), utc);
  return static_cast<size_t>(it - begins_.begin()) - 1;
}

Period Zone::period(size_t i) const {
  return {begins_[i], i + 1 < begins_.size() ? begins_[i + 1] : max_time, offsets_[i], dst_[i] != 0,
          abbrevs_[abbrev_index_[i]]};
}

LocalToUtc Zone::to_utc(std::int64_t local) const {
  // Offsets stay within a day of UTC, so only periods near `local - 1 day` can contain it.
  constexpr std::int64_t day = 86400;
  size_t i = index_at(local > min_time + 2 * day ? local - 2 * day : min_time);
  std::int64_t found[2] = {local, local};
  int count = 0;
  for (; i < begins_.size(); ++i) {
    const Period p = period(i);
    const std::int64_t u = local - p.offset;
    if (u >= p.begin && u < p.end && count < 2) {
      found[count++] = u;
    }
    if (count == 0 && i > 0 && local >= p.begin + offsets_[i - 1] && local < p.begin + p.offset) {
      return {LocalKind::gap, p.begin, p.begin};
    }
    if (p.begin != min_time && p.begin > local + 2 * day) {
      break;
    }
  }
  if (count == 2) {
    return {LocalKind::overlap, found[0], found[1]};
  }
  return {LocalKind::unique, found[0], found[0]};
}

base::Result<const Zone*> find_zone(std::string_view name) {
  std::lock_guard lock(registry_mutex);
  if (auto it = registry.find(name); it != registry.end()) {
    return it->second.get();
  }
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(name);
  } catch (const std::exception&) {
  }
  if (zone == nullptr || name.empty()) {
    std::string message = "unknown time zone \"" + std::string(name) + "\"";
    const auto near = base::suggest(name, zone_names());
    if (!near.empty()) {
      message += "; did you mean " + base::quoted_alternatives(near) + "?";
    } else {
      message += " (IANA names such as \"UTC\", \"Europe/Berlin\", \"America/New_York\")";
    }
    return base::Error{message, {}, {}, 1};
  }
  if (const auto why = zone_file_problem(name); !why.empty()) {
    return base::Error{"time zone \"" + std::string(name) + "\": " + why, {}, {}, 1};
  }
  std::unique_ptr<Zone> made;
  try {
    made = std::make_unique<Zone>(std::string(name), load_transitions(*zone));
  } catch (const std::exception& e) {
    return base::Error{"time zone \"" + std::string(name) + "\": " + e.what(), {}, {}, 1};
  }
  const Zone* out = made.get();
  registry.emplace(std::string(name), std::move(made));
  return out;
}

std::string zone_file_problem(std::string_view name) {
  if (name == "UTC") {
    return {};
  }
  const std::string path = zoneinfo + std::string(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return path + " cannot be read: " + std::strerror(errno);
  }
  char magic[4] = {};
  if (!in.read(magic, sizeof magic) || std::string_view(magic, sizeof magic) != "TZif") {
    return path + " is not a tz database file";
  }
  return {};
}

const Zone& utc() {
  static const Zone* zone = [] {
    auto z = find_zone("UTC");
    if (z) {
      return *z;
    }
    // No tzdata at all: UTC needs none.
    static const Zone fallback("UTC", {{0, 0, false, "UTC"}});
    return &fallback;
  }();
  return *zone;
}

const std::vector<std::string>& zone_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    try {
      for (const auto& z : date::get_tzdb().zones) {
        out.push_back(z.name());
      }
    } catch (const std::exception&) {
    }
    std::sort(out.begin(), out.end());
    return out;
  }();
  return names;
}

std::string host_zone_name() {
  if (const char* tz = std::getenv("TZ"); tz != nullptr && *tz != '\0') {
    return *tz == ':' ? tz + 1 : tz;
  }
  std::ifstream in("/etc/timezone");
  std::string name;
  if (in && std::getline(in, name) && !name.empty()) {
    return name;
  }
  std::error_code ec;
  const std::string target = std::filesystem::read_symlink("/etc/localtime", ec).string();
  const size_t at = target.find("zoneinfo/");
  if (!ec && at != std::string::npos) {
    return target.substr(at + 9);
  }
  return "UTC";
}

} // namespace tz
