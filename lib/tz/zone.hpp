#pragma once

#include <base/error.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tz {

// Times are seconds since the Unix epoch. A "UTC instant" is a real moment; a "local time" is
// the civil time on a zone's clocks, counted as if that clock were UTC (so 1970-01-01 00:00
// local is 0 whatever the zone).

// One change of offset: from `at` on, local time is UTC plus `offset` seconds.
struct Transition {
  std::int64_t at;
  std::int32_t offset;
  bool dst;
  std::string abbrev;
};

// A stretch of time with one offset: [begin, end) in UTC instants.
struct Period {
  std::int64_t begin;
  std::int64_t end;
  std::int32_t offset; // seconds east of UTC: local = utc + offset
  bool dst;
  std::string_view abbrev;
};

// How a local time maps to UTC.
enum class LocalKind {
  unique,  // exactly one instant has this local time
  gap,     // no instant has it (clocks jumped over it)
  overlap, // two instants have it (clocks went back over it)
};

struct LocalToUtc {
  LocalKind kind;
  std::int64_t first;  // unique: the instant; gap: the first instant after the gap;
                       // overlap: the earlier instant
  std::int64_t second; // overlap: the later instant; otherwise equal to first
};

// A time zone of the IANA database, read from the OS tzdata through date/tz and extended past
// the file's last transition with its POSIX footer rule, up to the year 2500. Immutable and
// shared: find_zone() returns the same object for the same name for the life of the process.
class Zone {
public:
  const std::string& name() const { return name_; }

  // The period that contains the instant.
  Period period_at(std::int64_t utc) const { return period(index_at(utc)); }
  std::int32_t offset_at(std::int64_t utc) const { return offsets_[index_at(utc)]; }
  std::int64_t to_local(std::int64_t utc) const { return utc + offset_at(utc); }

  // The instant(s) at which the zone's clocks show `local`.
  LocalToUtc to_utc(std::int64_t local) const;

  // Raw access to the periods, for the scheduler's inner loop: period i is
  // [begin(i), begin(i+1)), the first begins at INT64_MIN and the last ends at INT64_MAX.
  size_t index_at(std::int64_t utc) const;
  size_t period_count() const { return begins_.size(); }
  Period period(size_t i) const;

  // Builds a zone from a list of transitions (the first is in force from the beginning of
  // time). For find_zone() and for tests that need a made-up zone.
  Zone(std::string name, const std::vector<Transition>& transitions);

private:
  std::string name_;
  std::vector<std::int64_t> begins_; // sorted; begins_[0] == INT64_MIN
  std::vector<std::int32_t> offsets_;
  std::vector<std::uint8_t> dst_;
  std::vector<std::uint16_t> abbrev_index_;
  std::vector<std::string> abbrevs_;
};

// The zone named `name` ("Europe/Berlin", "UTC"). An unknown name is an error that suggests the
// nearest names: unknown time zone "Europe/Berln"; did you mean "Europe/Berlin"?
base::Result<const Zone*> find_zone(std::string_view name);

// Why the tz database file of `name` cannot serve (gone, unreadable, not TZif), or "" when it
// can; "" for UTC, which needs none. find_zone() checks it before date/tz reads the file (date/tz
// aborts on one that is not TZif); jobsd checks it at each reload for the zones in use, whose
// rules it read once.
std::string zone_file_problem(std::string_view name);

// This machine's time zone name: $TZ, else /etc/timezone, else the /etc/localtime link, else
// "UTC".
std::string host_zone_name();

// The UTC zone, always available.
const Zone& utc();

// Every zone name the tz database knows, sorted.
const std::vector<std::string>& zone_names();

} // namespace tz
