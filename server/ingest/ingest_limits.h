#pragma once

#include <cstdint>

namespace mamori {

// What the collector accepts from one agent in one message: everything an
// agent declares is bounded here, at the boundary (root on a terminal is an
// adversary).
struct CollectorLimits {
  // Largest message the collector accepts from an agent. Messages up to
  // twice this size are received, rejected and logged; larger ones are cut
  // off by the transport before they reach the collector.
  int64_t max_message_bytes = 4 * 1024 * 1024;
  int64_t max_devices_per_report = 4096;
  int64_t max_events_per_batch = 1000;
};

}  // namespace mamori
