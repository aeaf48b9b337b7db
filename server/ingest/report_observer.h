#pragma once

#include "common/device/terminal_state.h"

namespace mamori {

// Told about every terminal snapshot once the store has committed it, so
// views kept in memory follow the store without reading it back.
class ReportObserver {
 public:
  virtual ~ReportObserver() = default;
  // Called in commit order, after the commit and never for a snapshot that
  // was rolled back. Must not block for long: it runs on the thread that
  // acknowledges reports to the agents.
  virtual void OnReportStored(const TerminalState& state) = 0;
};

}  // namespace mamori
