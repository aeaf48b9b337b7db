#pragma once

#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/device/terminal_state.h"

namespace mamori {

// The latest snapshot of every terminal, its devices included.
class TerminalRepository {
 public:
  virtual ~TerminalRepository() = default;

  // Replaces the terminal's snapshot, its devices included.
  virtual Status PutTerminalState(const TerminalState& state) = 0;
  // Records a report refused for the agent's clock (TerminalState's
  // clock_refused_*), creating the terminal (never reported) if it is new;
  // the rest of its snapshot stays as it was.
  virtual Status RecordClockRefusal(std::string_view terminal_id, std::string_view group,
                                    int64_t agent_time_ms, int64_t at_ms) = 0;
  virtual Result<std::optional<TerminalState>> GetTerminal(std::string_view terminal_id) = 0;
  // Terminals in `group` or below ("" = all), devices included, by id.
  virtual Result<std::vector<TerminalState>> ListTerminals(std::string_view group) = 0;
  // The same terminals one at a time, by id, without holding them all in
  // memory (loading a deployment's worth at start); stops at the first
  // error `visit` returns.
  virtual Status ForEachTerminal(std::string_view group,
                                 const std::function<Status(TerminalState&&)>& visit) = 0;
};

}  // namespace mamori
