#include "agent/core/local_only.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "common/device.h"
#include "common/sanitize.h"

namespace mamori {

Status NoKeyPolicyVerifier::Verify(const PolicyUpdate& bundle) const {
  return MakeError(ErrorCode::kFailedPrecondition,
                   "policy version " + std::to_string(bundle.version) +
                       " cannot be verified: this build has no policy signature verification, "
                       "so no bundle is trusted");
}

std::string NoKeyPolicyVerifier::Describe() const {
  return "no policy key (this build cannot verify policy signatures)";
}

NoPolicyCache::NoPolicyCache(std::string state_dir)
    : bundle_path_((std::filesystem::path(state_dir) / "policy.bundle").string()) {}

Result<std::optional<PolicyUpdate>> NoPolicyCache::Load() {
  std::error_code ec;
  const bool present = std::filesystem::exists(bundle_path_, ec);
  if (ec) {
    return MakeError(ErrorCode::kIo,
                     bundle_path_ + ": cannot check for a cached policy: " + ec.message());
  }
  if (!present) return std::optional<PolicyUpdate>();
  return MakeError(ErrorCode::kFailedPrecondition,
                   bundle_path_ +
                       ": a cached policy bundle is present, but this build can neither decode "
                       "nor verify it");
}

Status NoPolicyCache::Save(const PolicyUpdate& bundle) {
  return MakeError(ErrorCode::kFailedPrecondition,
                   "policy version " + std::to_string(bundle.version) +
                       " not cached: this build keeps no policy cache");
}

std::string FormatEventLine(const Event& event) {
  std::string line = "seq=" + std::to_string(event.seq) +
                     " kind=" + std::string(EventKindName(event.kind)) +
                     " severity=" + std::string(SeverityName(event.severity));
  if (event.device) {
    const Device& d = *event.device;
    line += " device='" + SanitizeDeviceString(d.device_id) + "' vidpid=" + d.identity.VidPid() +
            " serial='" + SanitizeDeviceString(d.identity.serial, 64) + "'";
    if (!d.decision.matched_rule.empty()) {
      line += " rule='" + SanitizeDeviceString(d.decision.matched_rule, 128) + "'";
    }
  }
  if (!event.user.empty()) line += " user='" + SanitizeDeviceString(event.user, 128) + "'";
  if (!event.detail.empty()) line += ": " + SanitizeDeviceString(event.detail, 4096);
  return line;
}

LogEventOutbox::LogEventOutbox(std::shared_ptr<spdlog::logger> logger) : log_(std::move(logger)) {}

Result<uint64_t> LogEventOutbox::Append(Event event) {
  std::lock_guard lock(mu_);
  event.seq = next_seq_++;
  const std::string line = FormatEventLine(event);
  switch (event.severity) {
    case Severity::kAlert:
      log_->error("{}", line);
      break;
    case Severity::kWarning:
      log_->warn("{}", line);
      break;
    case Severity::kInfo:
    case Severity::kUnspecified:
      log_->info("{}", line);
      break;
  }
  // The event counts as recorded once it is in the sinks' files.
  log_->flush();
  return event.seq;
}

std::vector<Event> LogEventOutbox::Pending(std::size_t /*max*/) { return {}; }

void LogEventOutbox::Ack(uint64_t /*through*/) {}

uint64_t LogEventOutbox::appended() const {
  std::lock_guard lock(mu_);
  return next_seq_ - 1;
}

}  // namespace mamori
