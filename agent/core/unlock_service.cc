#include "agent/core/unlock_service.h"

#include <algorithm>
#include <charconv>
#include <sstream>
#include <utility>

#include "common/base/jst_time.h"
#include "common/base/sanitize.h"

namespace mamori {
namespace {

constexpr std::string_view kStateHeader = "mamori-unlock-state 1";
// Bounds what a typed code may put into an event.
constexpr std::size_t kMaxEchoBytes = 64;
// Bounds the state file a damaged disk could hand back.
constexpr std::size_t kMaxStateEntries = 100000;

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string DescribeDevice(const DeviceIdentity& id) {
  return FormatVidPid(id.vendor_id, id.product_id) + " serial '" + id.serial + "'";
}

}  // namespace

std::string SerializeUnlockState(const std::map<std::string, int64_t>& used,
                                 const std::vector<int64_t>& failures) {
  std::string out(kStateHeader);
  out += '\n';
  for (const auto& [code, expiry] : used)
    out += "used " + code + " " + std::to_string(expiry) + "\n";
  for (int64_t t : failures) out += "fail " + std::to_string(t) + "\n";
  return out;
}

Status ParseUnlockState(std::string_view text, std::map<std::string, int64_t>& used,
                        std::vector<int64_t>& failures) {
  std::istringstream in{std::string(text)};
  std::string line;
  int n = 0;
  auto bad = [&](std::string what) {
    return MakeError(ErrorCode::kIo, "unlock state line " + std::to_string(n) + ": " + what);
  };
  while (std::getline(in, line)) {
    ++n;
    if (n == 1) {
      if (line != kStateHeader) return bad("not an unlock state file");
      continue;
    }
    if (line.empty()) continue;
    if (used.size() + failures.size() > kMaxStateEntries) return bad("too many entries");
    std::istringstream fields(line);
    std::string kind, a, b, rest;
    fields >> kind >> a >> b >> rest;
    if (kind == "used" && !b.empty() && rest.empty() && ParseUnlockCode(a).ok()) {
      const std::optional<int64_t> expiry = ParseInt(b);
      if (!expiry) return bad("bad expiry");
      used[a] = *expiry;
    } else if (kind == "fail" && b.empty()) {
      const std::optional<int64_t> t = ParseInt(a);
      if (!t) return bad("bad time");
      failures.push_back(*t);
    } else {
      return bad("unreadable entry");
    }
  }
  if (n == 0) return MakeError(ErrorCode::kIo, "unlock state is empty");
  return Status::Ok();
}

UnlockService::UnlockService(UnlockServiceDeps deps) : deps_(std::move(deps)) {}

Status UnlockService::Start() {
  std::lock_guard lock(mu_);
  Result<std::optional<std::string>> text = deps_.state->Load();
  if (!text.ok()) {
    load_error_ = text.error().message;
    return text.error();
  }
  used_.clear();
  failures_.clear();
  if (text->has_value()) {
    Status parsed = ParseUnlockState(**text, used_, failures_);
    if (!parsed.ok()) {
      used_.clear();
      failures_.clear();
      load_error_ = parsed.error().message;
      return parsed;
    }
  }
  loaded_ = true;
  load_error_.clear();
  return Status::Ok();
}

void UnlockService::PruneLocked(int64_t now) {
  // A used code is kept until it could no longer verify anyway.
  for (auto it = used_.begin(); it != used_.end();) {
    it = it->second + deps_.limits.max_skew_ms < now ? used_.erase(it) : std::next(it);
  }
  std::erase_if(failures_, [&](int64_t t) {
    return t + std::max(deps_.limits.failure_window_ms, deps_.limits.lockout_ms) < now;
  });
}

Status UnlockService::SaveLocked() {
  return deps_.state->Save(SerializeUnlockState(used_, failures_));
}

std::optional<int64_t> UnlockService::LockedUntilLocked(int64_t now) const {
  const int max = deps_.limits.max_failures;
  if (max <= 0 || static_cast<int>(failures_.size()) < max) return std::nullopt;
  std::vector<int64_t> sorted = failures_;
  std::sort(sorted.begin(), sorted.end());
  // The lock holds while `max` failures fall within one window; it lasts
  // lockout_ms from the failure that completed such a run.
  std::optional<int64_t> until;
  for (std::size_t end = static_cast<std::size_t>(max) - 1; end < sorted.size(); ++end) {
    const int64_t first = sorted[end + 1 - static_cast<std::size_t>(max)];
    const int64_t last = sorted[end];
    if (last - first <= deps_.limits.failure_window_ms && now < last + deps_.limits.lockout_ms) {
      until = std::max(until.value_or(0), last + deps_.limits.lockout_ms);
    }
  }
  if (until) return until;
  return std::nullopt;
}

void UnlockService::RecordEvent(Event event) {
  Result<uint64_t> seq = deps_.outbox->Append(std::move(event));
  (void)seq;  // the journal logs its own failures; the reply still says what happened
  if (deps_.notify) deps_.notify();
}

UnlockReply UnlockService::Refuse(UnlockRefusal refusal, std::string message, std::string_view code,
                                  std::string_view requester, const Device* device) {
  Event e;
  e.time_ms = deps_.clock->NowMs();
  e.kind = EventKind::kUnlockCodeRefused;
  e.severity = refusal == UnlockRefusal::kLockedOut || refusal == UnlockRefusal::kOtherDevice ||
                       refusal == UnlockRefusal::kReused
                   ? Severity::kAlert
                   : Severity::kWarning;
  e.detail = SanitizeDeviceString("unlock code '" + std::string(code.substr(0, kMaxEchoBytes)) +
                                      "' refused (" + std::string(UnlockRefusalName(refusal)) +
                                      "): " + message + "; typed by " + std::string(requester),
                                  4096);
  if (device) e.device = *device;
  RecordEvent(std::move(e));
  return UnlockReply{false, refusal, std::move(message)};
}

UnlockReply UnlockService::Submit(std::string_view code, std::string_view requester) {
  std::lock_guard lock(mu_);
  const int64_t now = deps_.clock->NowMs();
  if (!loaded_) {
    return Refuse(UnlockRefusal::kUnavailable,
                  "the agent cannot read its record of used unlock codes (" + load_error_ +
                      "); codes are refused until it can",
                  code, requester, nullptr);
  }
  if (!deps_.scope) {
    return Refuse(UnlockRefusal::kUnavailable,
                  "offline unlock is not set up on this terminal (no unlock public key in the "
                  "agent's configuration)",
                  code, requester, nullptr);
  }
  PruneLocked(now);
  if (const std::optional<int64_t> until = LockedUntilLocked(now)) {
    return Refuse(UnlockRefusal::kLockedOut,
                  "too many wrong unlock codes; try again after " + JstIso8601(*until), code,
                  requester, nullptr);
  }
  const UnlockParse parsed = ParseUnlockCode(code);
  if (!parsed.ok())
    return Refuse(parsed.error.refusal, parsed.error.message, code, requester, nullptr);
  const std::string canonical = FormatUnlockCode(parsed.fields);

  std::vector<Device> present = deps_.devices ? deps_.devices() : std::vector<Device>{};
  std::vector<UnlockDevice> candidates;
  candidates.reserve(present.size());
  for (const Device& d : present) {
    candidates.push_back({d.identity.vendor_id, d.identity.product_id, d.identity.serial});
  }
  const UnlockVerify verified =
      VerifyUnlockCode(parsed.fields, *deps_.scope, candidates, now, deps_.limits.max_skew_ms);
  if (!verified.ok()) {
    if (verified.error.refusal == UnlockRefusal::kOtherDevice) {
      // The only outcome a guesser learns from: count it, durably, before
      // answering, so a restart does not reset the count.
      failures_.push_back(now);
      Status saved = SaveLocked();
      std::string message = verified.error.message;
      if (!saved.ok())
        message += " (the failed attempt could not be recorded: " + saved.error().message + ")";
      return Refuse(UnlockRefusal::kOtherDevice, std::move(message), canonical, requester, nullptr);
    }
    const Device* device = verified.error.refusal == UnlockRefusal::kExpired ||
                                   verified.error.refusal == UnlockRefusal::kTooLong
                               ? &present[verified.device_index]
                               : nullptr;
    return Refuse(verified.error.refusal, verified.error.message, canonical, requester, device);
  }
  const Device& device = present[verified.device_index];
  if (auto it = used_.find(canonical); it != used_.end()) {
    return Refuse(UnlockRefusal::kReused,
                  "this code has already been used on this terminal; each code works once",
                  canonical, requester, &device);
  }
  // Used before it takes effect: a crash between the two leaves the code
  // spent, never usable twice.
  used_[canonical] = parsed.fields.expiry_ms;
  if (Status saved = SaveLocked(); !saved.ok()) {
    used_.erase(canonical);
    return Refuse(UnlockRefusal::kUnavailable,
                  "the agent cannot record the code as used (" + saved.error().message + ")",
                  canonical, requester, &device);
  }
  DeviceException ex;
  ex.id = "unlock-" + canonical;
  ex.terminal_id = deps_.scope->terminal_id;
  ex.vendor_id = device.identity.vendor_id;
  ex.product_id = device.identity.product_id;
  ex.serial = device.identity.serial;
  ex.not_before_ms = now;
  ex.not_after_ms = parsed.fields.expiry_ms;
  ex.reason = "offline unlock code typed by " + std::string(requester);
  Status granted = deps_.grant
                       ? deps_.grant(ex)
                       : Status(MakeError(ErrorCode::kFailedPrecondition, "no exception handler"));
  if (!granted.ok()) {
    used_.erase(canonical);
    Status saved = SaveLocked();
    (void)saved;  // the code stays refused either way; worst case it stays spent
    return Refuse(
        UnlockRefusal::kUnavailable,
        "the code is valid but the device could not be allowed: " + granted.error().message,
        canonical, requester, &device);
  }
  const std::string message = "unlock code accepted: " + DescribeDevice(device.identity) +
                              " is allowed until " + JstIso8601(parsed.fields.expiry_ms);
  Event e;
  e.time_ms = now;
  e.kind = EventKind::kUnlockCodeAccepted;
  e.severity = Severity::kWarning;
  e.device = device;
  e.detail =
      SanitizeDeviceString(FormatUnlockAcceptedDetail(canonical, DescribeDevice(device.identity),
                                                      JstIso8601(ex.not_after_ms), requester),
                           4096);
  RecordEvent(std::move(e));
  return UnlockReply{true, UnlockRefusal::kNone, message};
}

namespace {

std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return s;
}

constexpr std::string_view kUnlockVerb = "UNLOCK ";

}  // namespace

Result<std::string> FormatUnlockRequest(std::string_view code) {
  if (code.size() + kUnlockVerb.size() + 1 > kMaxUnlockRequestBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "the code is too long to be an unlock code");
  }
  return std::string(kUnlockVerb) + OneLine(std::string(code)) + "\n";
}

std::optional<std::string_view> ParseUnlockRequest(std::string_view line) {
  if (line.size() > kMaxUnlockRequestBytes || !line.starts_with(kUnlockVerb)) return std::nullopt;
  return line.substr(kUnlockVerb.size());
}

std::string FormatUnlockReply(const UnlockReply& reply) {
  return reply.accepted ? "accepted\t" + OneLine(reply.message) + "\n"
                        : "refused\t" + std::string(UnlockRefusalName(reply.refusal)) + "\t" +
                              OneLine(reply.message) + "\n";
}

Result<UnlockReply> ParseUnlockReply(std::string_view line) {
  UnlockReply reply;
  const auto tab = line.find('\t');
  const std::string_view status = line.substr(0, tab);
  if (status == "accepted" && tab != std::string_view::npos) {
    reply.accepted = true;
    reply.message = std::string(line.substr(tab + 1));
    return reply;
  }
  const auto tab2 =
      tab == std::string_view::npos ? std::string_view::npos : line.find('\t', tab + 1);
  if (status != "refused" || tab2 == std::string_view::npos) {
    return MakeError(ErrorCode::kInternal, "unexpected answer from the service: " +
                                               SanitizeDeviceString(std::string(line), 200));
  }
  const std::string_view reason = line.substr(tab + 1, tab2 - tab - 1);
  for (int r = 0; r <= static_cast<int>(UnlockRefusal::kUnavailable); ++r) {
    if (UnlockRefusalName(static_cast<UnlockRefusal>(r)) == reason) {
      reply.refusal = static_cast<UnlockRefusal>(r);
    }
  }
  if (reply.refusal == UnlockRefusal::kNone) reply.refusal = UnlockRefusal::kUnavailable;
  reply.message = std::string(line.substr(tab2 + 1));
  return reply;
}

}  // namespace mamori
