// Properties of the schedule engine over random expressions, zones and instants:
// next() agrees with a brute-force search built from the generator's own description of the
// fields (not from the parser), next(t) > t, prev(next(t)) <= t, next(prev(t)) >= t, and the
// canonical text parses back to an equal schedule.
#include "support/oracle.hpp"

#include <base/civil.hpp>
#include <cron/schedule.hpp>
#include <tz/format.hpp>

#include <rapidcheck.h>

#include <set>
#include <string>
#include <vector>

namespace {

const char* const zones[] = {"UTC",
                             "Europe/London",
                             "Europe/Berlin",
                             "Europe/Dublin",
                             "America/New_York",
                             "America/Santiago",
                             "America/Havana",
                             "America/Asuncion",
                             "Australia/Lord_Howe",
                             "Australia/Sydney",
                             "Pacific/Chatham",
                             "Africa/Casablanca",
                             "Asia/Kolkata",
                             "Pacific/Apia"};

// One generated field: its text and the values it stands for.
struct FieldText {
  std::string text;
  std::set<int> values;
  bool star = false;
};

rc::Gen<FieldText> gen_field(int min, int max, int density) {
  // density: how likely a field is '*' (dense expressions keep brute force windows short).
  return rc::gen::exec([=] {
    FieldText f;
    const int kind = *rc::gen::inRange(0, 100);
    if (kind < density) {
      f.text = "*";
      f.star = true;
      for (int v = min; v <= max; ++v) {
        f.values.insert(v);
      }
      return f;
    }
    if (kind < density + 10) {
      const int step = *rc::gen::inRange(2, std::max(3, (max - min + 1) / 2));
      f.text = "*/" + std::to_string(step);
      f.star = true;
      for (int v = min; v <= max; v += step) {
        f.values.insert(v);
      }
      return f;
    }
    const int items = *rc::gen::inRange(1, 4);
    for (int k = 0; k < items; ++k) {
      const int a = *rc::gen::inRange(min, max + 1);
      std::string item;
      if (*rc::gen::inRange(0, 3) == 0) {
        const int b = *rc::gen::inRange(a, max + 1);
        const int step = *rc::gen::inRange(1, 4);
        item = std::to_string(a) + "-" + std::to_string(b);
        if (step > 1) {
          item += "/" + std::to_string(step);
        }
        for (int v = a; v <= b; v += step) {
          f.values.insert(v);
        }
      } else {
        item = std::to_string(a);
        f.values.insert(a);
      }
      f.text += (k ? "," : "") + item;
    }
    return f;
  });
}

struct Expression {
  std::string text;
  bool seconds = false;
  FieldText fields[6]; // second minute hour dom month dow
};

rc::Gen<Expression> gen_expression() {
  return rc::gen::exec([] {
    Expression e;
    e.seconds = *rc::gen::inRange(0, 5) == 0;
    e.fields[0] = e.seconds ? *gen_field(0, 59, 40) : FieldText{"0", {0}, false};
    e.fields[1] = *gen_field(0, 59, 30);
    e.fields[2] = *gen_field(0, 23, 40);
    e.fields[3] = *gen_field(1, 31, 70);
    e.fields[4] = *gen_field(1, 12, 80);
    e.fields[5] = *gen_field(0, 6, 70);
    for (int k = e.seconds ? 0 : 1; k < 6; ++k) {
      e.text += (e.text.empty() ? "" : " ") + e.fields[k].text;
    }
    return e;
  });
}

// The civil-time match, straight from the fields' value sets and the cron DOM/DOW rule.
bool naive_match(const Expression& e, std::int64_t local) {
  namespace c = base::civil;
  const auto days = c::floor_div(local, 86400);
  const auto sod = local - days * 86400;
  const auto d = c::date_from_days(days);
  const bool dom = e.fields[3].values.count(int(d.day)) > 0;
  const bool dow = e.fields[5].values.count(int(c::weekday(days))) > 0;
  const bool day = (e.fields[3].star || e.fields[5].star) ? (dom && dow) : (dom || dow);
  return day && e.fields[4].values.count(int(d.month)) &&
         e.fields[2].values.count(int(sod / 3600)) &&
         e.fields[1].values.count(int(sod / 60 % 60)) && e.fields[0].values.count(int(sod % 60));
}

// Half the time an instant shortly before one of the zone's transitions, where the DST
// rules matter; otherwise anywhere in 1995-2045.
std::int64_t gen_instant(const tz::Zone& zone, std::int64_t before = 2 * 86400) {
  const auto from = *tz::parse_time("1995-01-01T00:00:00Z", tz::utc());
  const auto to = *tz::parse_time("2045-01-01T00:00:00Z", tz::utc());
  const size_t first = zone.index_at(from) + 1;
  const size_t last = zone.index_at(to);
  if (last >= first && *rc::gen::arbitrary<bool>()) {
    const auto i = *rc::gen::inRange(first, last + 1);
    return zone.period(i).begin - *rc::gen::inRange<std::int64_t>(0, before);
  }
  return *rc::gen::inRange<std::int64_t>(from, to);
}

cron::Schedule parse_or_fail(const std::string& text, const tz::Zone* zone) {
  cron::ParseOptions options;
  options.zone = zone;
  auto s = cron::Schedule::parse(text, options);
  if (!s) {
    RC_FAIL(text + ": " + s.error().message);
  }
  return *s;
}

} // namespace

bool run_cron_properties() {
  bool ok = true;

  ok &= rc::check("the fields match what the generator meant", [&] {
    const auto e = *gen_expression();
    auto s = cron::Schedule::parse(e.text);
    RC_PRE(s.ok()); // a never-firing combination (e.g. day 31 in February only) is rejected
    const auto t = gen_instant(tz::utc());
    for (std::int64_t k = 0; k < 50; ++k) {
      const auto local = t + k * 3607;
      RC_ASSERT(s->matches_local(local) == naive_match(e, local));
    }
  });

  ok &= rc::check("next() walks exactly the fires the brute force finds", [&] {
    const auto e = *gen_expression();
    const tz::Zone* zone = *tz::find_zone(
        *rc::gen::elementOf(std::vector<const char*>(std::begin(zones), std::end(zones))));
    cron::ParseOptions options;
    options.zone = zone;
    options.dst_gap = *rc::gen::inRange(0, 4) == 0 ? cron::DstGap::skip : cron::DstGap::shift;
    auto parsed = cron::Schedule::parse(e.text, options);
    RC_PRE(parsed.ok());
    const auto& s = *parsed;
    // A window scanned by second for 6-field expressions, else by minute (every zone in the
    // list has whole-minute offsets and transitions since 1995).
    const std::int64_t step = e.seconds ? 1 : 60;
    const std::int64_t window = e.seconds ? 6 * 3600 : 8 * 86400;
    const auto t = gen_instant(*zone, window / 2);
    std::vector<std::int64_t> expected;
    for (std::int64_t u = (t / step + 1) * step; u <= t + window; u += step) {
      if (oracle::fires_at(s, u)) {
        expected.push_back(u);
      }
    }
    std::vector<std::int64_t> got;
    cron::Instant at{std::chrono::seconds{t}};
    for (;;) {
      const auto fire = s.next_fire(at);
      RC_ASSERT(fire.has_value());
      RC_ASSERT(fire->time > at);
      at = fire->time;
      const auto f = at.time_since_epoch().count();
      if (f > t + window) {
        break;
      }
      // The civil match itself, from the generator's sets (the oracle reuses the engine's).
      RC_ASSERT(fire->shifted_from.has_value() || naive_match(e, zone->to_local(f)));
      got.push_back(f);
    }
    if (got != expected) {
      std::string g, w;
      for (auto x : got) {
        g += " " + tz::format_utc(x);
      }
      for (auto x : expected) {
        w += " " + tz::format_utc(x);
      }
      RC_FAIL(e.text + " in " + zone->name() + " after " + tz::format_utc(t) +
              "\n got:" + g.substr(0, 400) + "\n want:" + w.substr(0, 400));
    }
  });

  ok &= rc::check("prev(next(t)) <= t and next(prev(t)) >= t", [&] {
    const auto e = *gen_expression();
    const tz::Zone* zone = *tz::find_zone(
        *rc::gen::elementOf(std::vector<const char*>(std::begin(zones), std::end(zones))));
    cron::ParseOptions options;
    options.zone = zone;
    auto parsed = cron::Schedule::parse(e.text, options);
    RC_PRE(parsed.ok());
    const cron::Instant t{std::chrono::seconds{gen_instant(*zone)}};
    const auto next = parsed->next(t);
    RC_ASSERT(next.has_value());
    RC_ASSERT(*next > t);
    const auto back = parsed->prev(*next);
    RC_ASSERT(back.has_value());
    RC_ASSERT(*back <= t);
    const auto prev = parsed->prev(t);
    RC_ASSERT(prev.has_value());
    RC_ASSERT(*prev < t);
    RC_ASSERT(*parsed->next(*prev) >= t);
  });

  ok &= rc::check("to_string parses back to an equal schedule", [&] {
    auto e = *gen_expression();
    // Sprinkle the extensions in: L, W, #, names, H, prefixes.
    const char* doms[] = {"L", "LW", "15W", "1,L", "?"};
    const char* dows[] = {"5L", "1#2", "MON-FRI", "FRI-SUN", "H", "?"};
    std::string text = e.text;
    if (*rc::gen::inRange(0, 3) == 0) {
      text = e.fields[1].text + " " + e.fields[2].text + " " +
             *rc::gen::elementOf(std::vector<const char*>(std::begin(doms), std::end(doms))) + " " +
             e.fields[4].text + " " +
             *rc::gen::elementOf(std::vector<const char*>(std::begin(dows), std::end(dows)));
    }
    if (*rc::gen::inRange(0, 4) == 0) {
      text = "CRON_TZ=Europe/Berlin " + text;
    }
    cron::ParseOptions options;
    options.seed = "round-trip";
    auto s = cron::Schedule::parse(text, options);
    RC_PRE(s.ok());
    const auto canonical = s->to_string();
    const auto again = parse_or_fail(canonical, nullptr);
    RC_ASSERT(again == *s);
    RC_ASSERT(again.to_string() == canonical);
  });

  return ok;
}
