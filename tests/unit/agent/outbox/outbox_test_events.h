#pragma once

// Events and helpers shared by the outbox tests.

#include <cstdint>
#include <string>
#include <vector>

#include "common/device/event.h"

namespace mamori::testing {

inline Event Info(std::string detail = "") {
  Event e;
  e.kind = EventKind::kDeviceAllowed;
  e.severity = Severity::kInfo;
  e.detail = std::move(detail);
  return e;
}

inline Event Blocked(std::string detail = "") {
  Event e;
  e.kind = EventKind::kDeviceBlocked;
  e.severity = Severity::kAlert;
  e.detail = std::move(detail);
  return e;
}

inline std::vector<uint64_t> Seqs(const std::vector<Event>& events) {
  std::vector<uint64_t> out;
  for (const Event& e : events) out.push_back(e.seq);
  return out;
}

inline std::vector<std::string> Details(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const Event& e : events) out.push_back(e.detail);
  return out;
}

}  // namespace mamori::testing
