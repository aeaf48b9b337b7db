#include "common/base/jst_time.h"

#include <chrono>
#include <cstdio>

namespace mamori {
namespace {

using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::year_month_day;

std::optional<int> Digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// Unix ms of 00:00 UTC on the date at the start of `s`, validated.
std::optional<int64_t> UtcMidnight(std::string_view s) {
  if (s.size() < 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  const auto y = Digits(s, 0, 4);
  const auto m = Digits(s, 5, 2);
  const auto d = Digits(s, 8, 2);
  if (!y || !m || !d || *y < 1970) return std::nullopt;
  const year_month_day ymd{std::chrono::year(*y), std::chrono::month(static_cast<unsigned>(*m)),
                           std::chrono::day(static_cast<unsigned>(*d))};
  if (!ymd.ok()) return std::nullopt;
  return static_cast<int64_t>(sys_days(ymd).time_since_epoch().count()) * kDayMs;
}

}  // namespace

std::string JstDate(int64_t unix_ms) {
  const int64_t day = FloorDiv(unix_ms + kJstOffsetMs, kDayMs);
  const year_month_day ymd{sys_days(days(day))};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

std::string JstIso8601(int64_t unix_ms) {
  const int64_t local = unix_ms + kJstOffsetMs;
  const int64_t day = FloorDiv(local, kDayMs);
  const int64_t second_of_day = FloorDiv(local - day * kDayMs, 1000);
  const year_month_day ymd{sys_days(days(day))};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d+09:00",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(second_of_day / 3600),
                static_cast<int>(second_of_day / 60 % 60), static_cast<int>(second_of_day % 60));
  return buf;
}

std::optional<int64_t> ParseJstDate(std::string_view date) {
  if (date.size() != 10) return std::nullopt;
  const auto midnight = UtcMidnight(date);
  if (!midnight) return std::nullopt;
  return *midnight - kJstOffsetMs;
}

std::optional<int64_t> ParseTimeOrJstDate(std::string_view text) {
  if (text.size() == 10) return ParseJstDate(text);
  // YYYY-MM-DDTHH:MM:SS[.fff...](Z|+HH:MM|-HH:MM)
  const auto midnight = UtcMidnight(text);
  if (!midnight || text.size() < 20 || (text[10] != 'T' && text[10] != 't') || text[13] != ':' ||
      text[16] != ':') {
    return std::nullopt;
  }
  const auto hh = Digits(text, 11, 2);
  const auto mi = Digits(text, 14, 2);
  const auto ss = Digits(text, 17, 2);
  if (!hh || !mi || !ss || *hh > 23 || *mi > 59 || *ss > 60) return std::nullopt;
  int64_t ms = *midnight + ((*hh * 60LL + *mi) * 60 + *ss) * 1000;
  std::size_t pos = 19;
  if (text[pos] == '.') {
    ++pos;
    int64_t scale = 100;
    const std::size_t first = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      ms += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == first || pos - first > 9) return std::nullopt;
  }
  const std::string_view zone = text.substr(pos);
  if (zone == "Z" || zone == "z") return ms;
  if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':') {
    return std::nullopt;
  }
  const auto zh = Digits(zone, 1, 2);
  const auto zm = Digits(zone, 4, 2);
  if (!zh || !zm || *zh > 23 || *zm > 59) return std::nullopt;
  const int64_t offset = (*zh * 60LL + *zm) * 60 * 1000;
  return zone[0] == '+' ? ms - offset : ms + offset;
}

std::optional<int64_t> JstDayEndMs(std::string_view date) {
  const auto start = ParseJstDate(date);
  if (!start) return std::nullopt;
  return *start + kDayMs - 1;
}

}  // namespace mamori
