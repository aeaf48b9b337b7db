#pragma once

// Small pieces the benchmarks share: how a number on the command line is
// read, how a percentile is taken, and the event most of a real backlog
// consists of.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/device/device.h"
#include "common/device/event.h"

namespace mamori::bench {

// Reads `text` as a whole base-10 number within [min, max] into *out; false
// (leaving *out alone) for anything else.
inline bool ParseIntArg(std::string_view text, int min, int max, int* out) {
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max) return false;
  *out = v;
  return true;
}

// Nearest-rank percentile (p in (0, 1]) of `v`, which is reordered; 0 for
// an empty `v`.
template <typename T>
T NearestRank(std::vector<T>& v, double p) {
  if (v.empty()) return T{};
  const auto rank =
      static_cast<std::size_t>(std::max(0.0, std::ceil(p * static_cast<double>(v.size())) - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(rank), v.end());
  return v[rank];
}

// A DEVICE_BLOCKED alert for a SanDisk stick on port 1-2 with `serial`,
// blocked and enforced under the default rule.
inline Event BlockedStickEvent(uint64_t seq, int64_t time_ms, std::string serial) {
  Event e;
  e.seq = seq;
  e.time_ms = time_ms;
  e.kind = EventKind::kDeviceBlocked;
  e.severity = Severity::kAlert;
  Device d;
  d.device_id = "1-2";
  d.identity.vendor_id = 0x0781;
  d.identity.product_id = 0x5581;
  d.identity.serial = std::move(serial);
  d.identity.manufacturer = "SanDisk";
  d.identity.product = "Ultra";
  d.identity.bus_path = "1-2";
  d.identity.device_class = DeviceClass::kMassStorage;
  d.identity.interface_classes = {DeviceClass::kMassStorage};
  d.decision.action = Action::kBlock;
  d.decision.matched_rule = "default";
  d.decision.enforced = true;
  e.device = std::move(d);
  return e;
}

}  // namespace mamori::bench
