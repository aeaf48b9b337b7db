#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mamori {

// Japan Standard Time: UTC+9 all year (no daylight saving), the time zone
// of every date the dashboard, CSV exports and trend records show.
inline constexpr int64_t kJstOffsetMs = 9LL * 3600 * 1000;
inline constexpr int64_t kDayMs = 24LL * 3600 * 1000;

// Division rounding toward negative infinity, so that instants before 1970
// land in the right second or day.
inline constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0 && (a < 0) != (b < 0)) ? 1 : 0);
}

// "YYYY-MM-DD" of the JST day holding `unix_ms`.
std::string JstDate(int64_t unix_ms);
// "YYYY-MM-DDTHH:MM:SS+09:00" (ISO 8601, seconds).
std::string JstIso8601(int64_t unix_ms);
// Unix ms of 00:00 JST on "YYYY-MM-DD"; nullopt unless it is a valid date
// in exactly that form (years 1970 to 9999).
std::optional<int64_t> ParseJstDate(std::string_view date);
// The last millisecond of the JST day "YYYY-MM-DD"; nullopt as above.
std::optional<int64_t> JstDayEndMs(std::string_view date);
// A time given as "YYYY-MM-DD" (00:00 JST that day) or as RFC 3339 with a
// zone ("2026-04-01T09:00:00+09:00", "...Z", fractional seconds allowed);
// nullopt for anything else.
std::optional<int64_t> ParseTimeOrJstDate(std::string_view text);

}  // namespace mamori
