#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mamori {

// Whether a terminal may still connect, as the collector's deny list has
// it. A revoked terminal stays in every view, non-compliant; a retired
// (decommissioned) one leaves the lists and counts unless asked for, while
// its events, device history and audit records stay.
enum class TerminalStanding : uint8_t { kActive, kRevoked, kRetired };
std::string_view TerminalStandingName(TerminalStanding s);  // "active", "revoked", "retired"

struct StandingInfo {
  TerminalStanding standing = TerminalStanding::kActive;
  std::string reason;  // why it was revoked or retired
  std::string actor;   // who did it
  int64_t at_ms = 0;
};

// Answers a terminal's standing from memory.
class TerminalStandings {
 public:
  virtual ~TerminalStandings() = default;
  virtual StandingInfo StandingOf(std::string_view terminal_id) const = 0;
};

// Hears of a terminal revoked or retired, once the change is stored.
class StandingObserver {
 public:
  virtual ~StandingObserver() = default;
  virtual void OnStandingChanged(std::string_view terminal_id, TerminalStanding standing) = 0;
};

}  // namespace mamori
