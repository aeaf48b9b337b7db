#pragma once

#include <cstddef>
#include <cstdint>

#include "common/base/sanitize.h"
#include "common/device/report_interval.h"

namespace mamori {

// Every bound the collector puts on what an agent declares, in one place.
// Root on a terminal is an adversary: a value outside these bounds is
// refused at the service boundary with INVALID_ARGUMENT (or
// RESOURCE_EXHAUSTED for sizes) naming the field and the bound, and logged
// with the terminal id and peer address. Nothing an agent declares switches
// a check off. The operator guide lists the same figures.

// Configurable under `limits:` in the collector's config.
struct CollectorLimits {
  // Largest message the collector accepts from an agent. Messages up to
  // twice this size are received, refused and logged by the service;
  // larger ones are refused by gRPC before any handler runs, which gRPC
  // 1.51 does not report to the application: those are not logged.
  int64_t max_message_bytes = 4 * 1024 * 1024;
  int64_t max_devices_per_report = 4096;
  // The agent sends at most 500 a batch (agent/core/reporter.h).
  int64_t max_events_per_batch = 1000;
  // Memory all agent connections together may hold in gRPC's buffers
  // (0 = no quota). gRPC 1.51 reads an oversized message whole before
  // refusing it; the quota caps that, but to get under it gRPC cancels
  // streams, possibly an honest agent's (which retries). Off by default.
  int64_t transport_memory_bytes = 0;
};

// Declared report interval (StateReport.report_interval_seconds): 0 means
// "not said" (the collector's default applies); otherwise the agent's own
// config bounds, 1 s .. 24 h (common/device/report_interval.h).

// The agent's clock (StateReport.agent_time) may be off by at most this
// much from the collector's before the report is refused. Skew below it is
// judged by the compliance clock check (limit: compliance.max_clock_skew);
// a refused report is recorded, so the terminal fails that check with the
// refusal as its evidence instead of hiding its clock by being refused.
inline constexpr int64_t kMaxAgentClockOffsetMs = 30LL * 24 * 3600 * 1000;

// Event times (Event.time): at most kMaxAgentClockOffsetMs ahead of the
// collector's clock, and not older than this (an outbox holds events while
// a terminal is offline, but not for a decade).
inline constexpr int64_t kMaxEventAgeMs = 3660LL * 24 * 3600 * 1000;

// Event sequence numbers (Event.seq): at least 1, strictly increasing
// within a batch, at most kMaxEventSeq (far below 2^63, so no arithmetic on
// a seq can overflow), and at most kMaxEventSeqAhead beyond what the
// collector has acknowledged for the terminal: an agent numbers its events
// without gaps, and a jump of millions would open a gap the acknowledgement
// can never cross.
inline constexpr uint64_t kMaxEventSeq = uint64_t{1} << 53;
inline constexpr uint64_t kMaxEventSeqAhead = 1'000'000;

// Interface classes per device (DeviceIdentity.interface_classes and
// Decision.allowed_interface_classes): a USB configuration has at most 32
// interfaces.
inline constexpr int kMaxInterfacesPerDevice = 32;

// Policy versions (StateReport.applied_policy_version,
// WatchPolicyRequest.current_version) may not be above the newest version
// this collector has issued: a version it never issued cannot be enforced.

// Policy streams (WatchPolicy) one terminal may hold open at once. A new
// stream beyond this closes the terminal's oldest one (ABORTED): an agent
// that reconnects after a network fault opens a new stream before keepalive
// has noticed the old one is dead, and must not be locked out for that.
inline constexpr std::size_t kMaxPolicyStreamsPerTerminal = 2;

// Writes one terminal may have queued at the ingest writer at once; beyond
// that its reports are refused with RESOURCE_EXHAUSTED (the agent retries),
// so one terminal cannot fill the queue every other terminal shares.
inline constexpr std::size_t kMaxQueuedWritesPerTerminal = 8;

// Strings are not refused but cut and cleaned (report_sanitizer.h): a
// device string is controlled by whoever built the USB device, and a
// hostile device must not be able to make its terminal's reports refused.
inline constexpr std::size_t kMaxDeviceIdBytes = 256;
inline constexpr std::size_t kMaxBusPathBytes = 128;
inline constexpr std::size_t kMaxDescriptorHashBytes = 64;
inline constexpr std::size_t kMaxRuleNameBytes = 128;
inline constexpr std::size_t kMaxDetailBytes = 1024;
inline constexpr std::size_t kMaxUserBytes = 256;
inline constexpr std::size_t kMaxHostnameBytes = 255;
inline constexpr std::size_t kMaxOsBytes = 255;
inline constexpr std::size_t kMaxAgentVersionBytes = 64;
inline constexpr std::size_t kMaxBackendNameBytes = 64;
// Serial, manufacturer and product: kMaxDeviceStringBytes (256, sanitize.h).

}  // namespace mamori
