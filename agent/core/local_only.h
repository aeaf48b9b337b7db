#pragma once

#include <spdlog/logger.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/event_outbox.h"
#include "agent/core/policy_cache.h"
#include "agent/core/policy_verifier.h"
#include "common/event.h"
#include "common/result.h"

// The pieces an agent built without a collector transport and without
// policy signature verification runs on (the mingw-w64 cross build of the
// Windows agent: Debian has no mingw builds of gRPC, protobuf or OpenSSL).
// Such an agent enforces its built-in default policy and keeps its events
// in its own logs. Nothing here pretends to be a collector.

namespace mamori {

// Trusts no bundle: this build has no signature verification, so a bundle
// can never be shown to come from the deployment's collector.
class NoKeyPolicyVerifier final : public PolicyVerifier {
 public:
  Status Verify(const PolicyUpdate& bundle) const override;
  std::string Describe() const override;
};

// The policy cache of a build that cannot verify or decode bundles. It
// holds nothing and never accepts one; a bundle file that an earlier
// (full) agent left in `state_dir` is reported as unusable, so the core
// raises POLICY_REJECTED and enforces the built-in default.
class NoPolicyCache final : public PolicyCache {
 public:
  explicit NoPolicyCache(std::string state_dir);
  Result<std::optional<PolicyUpdate>> Load() override;
  Result<uint64_t> HighestAccepted() override { return uint64_t{0}; }
  Status Save(const PolicyUpdate& bundle) override;
  std::string Describe() const override { return bundle_path_; }

 private:
  const std::string bundle_path_;
};

// The outbox of an agent without a transport: every event is written, as
// one line, to `logger` (whose sinks are the platform's durable logs: the
// Windows Event Log and a size-bounded rotating file) and flushed before
// Append returns. There is no collector to deliver to or to acknowledge,
// so Pending is always empty and Ack does nothing. Seqs count the events
// of this run, for cross-referencing log lines. Thread-safe.
class LogEventOutbox final : public EventOutbox {
 public:
  explicit LogEventOutbox(std::shared_ptr<spdlog::logger> logger);

  Result<uint64_t> Append(Event event) override;
  std::vector<Event> Pending(std::size_t max) override;
  void Ack(uint64_t through) override;

  uint64_t appended() const;

 private:
  const std::shared_ptr<spdlog::logger> log_;
  mutable std::mutex mu_;
  uint64_t next_seq_ = 1;  // guarded by mu_
};

// "seq=3 kind=device_blocked severity=alert device=... vidpid=0781:5581
// serial='...' rule='default': <detail>", device strings sanitized.
std::string FormatEventLine(const Event& event);

}  // namespace mamori
