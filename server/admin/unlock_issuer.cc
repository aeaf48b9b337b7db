#include "server/admin/unlock_issuer.h"

#include <openssl/rand.h>

#include <utility>

#include "common/base/hex.h"
#include "common/base/logging.h"
#include "common/crypto/identity.h"
#include "common/crypto/pki.h"
#include "common/crypto/unlock_key.h"
#include "common/device/device.h"
#include "common/policy/unlock_code.h"
#include "proto/wire/convert.h"

namespace mamori {
namespace {

constexpr uint32_t kDefaultHours = 4;
constexpr int kNonceAttempts = 16;
// Block events searched for --from-event.
constexpr uint32_t kEventSearchLimit = 1000;
constexpr std::size_t kMaxReasonBytes = 512;
constexpr std::size_t kMaxSerialBytes = 256;

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

}  // namespace

void ToUnlockCodeView(const IssuedUnlockCode& c, v1::UnlockCodeView* view) {
  view->set_id(static_cast<uint64_t>(c.id));
  view->set_code(c.code);
  view->set_terminal_id(c.terminal_id);
  view->set_vid_pid(FormatVidPid(c.vendor_id, c.product_id));
  view->set_serial(c.serial);
  SetMs(c.expiry_ms, view->mutable_expires());
  view->set_issued_by(c.issued_by);
  SetMs(c.issued_at_ms, view->mutable_issued_at());
  view->set_reason(c.reason);
  if (c.used_at_ms != 0) SetMs(c.used_at_ms, view->mutable_used_at());
  view->set_used_by(c.used_by);
}

Result<std::unique_ptr<UnlockIssuer>> UnlockIssuer::Create(Store* store, AuditTrail* audit,
                                                           const Clock* clock,
                                                           std::string unlock_key_pem,
                                                           std::string ca_pem) {
  Result<std::string> pub = UnlockPublicKeyPem(unlock_key_pem);
  if (!pub.ok()) return pub.error();
  Result<std::string> deployment = DeploymentIdFromCa(ca_pem);
  if (!deployment.ok()) return deployment.error();
  return std::unique_ptr<UnlockIssuer>(new UnlockIssuer(
      store, audit, clock, std::move(unlock_key_pem), std::move(ca_pem), std::move(*deployment)));
}

UnlockIssuer::UnlockIssuer(Store* store, AuditTrail* audit, const Clock* clock, std::string key_pem,
                           std::string ca_pem, std::string deployment_id)
    : store_(store),
      audit_(audit),
      clock_(clock),
      key_pem_(std::move(key_pem)),
      ca_pem_(std::move(ca_pem)),
      deployment_id_(std::move(deployment_id)) {}

Status UnlockIssuer::IssueLocked(const v1::IssueUnlockCodeRequest& request, IssuedUnlockCode& out) {
  const int64_t now = clock_->NowMs();
  if (!IsValidId(request.terminal_id())) {
    return Invalid("terminal: '" + request.terminal_id() + "' is not a terminal id");
  }
  const uint32_t hours = request.hours() == 0 ? kDefaultHours : request.hours();
  if (hours > 24) return Invalid("hours: at most 24 (got " + std::to_string(hours) + ")");
  if (request.reason().size() > kMaxReasonBytes) return Invalid("reason: too long");

  UnlockDevice device;
  if (request.from_event_seq() != 0) {
    if (!request.vid_pid().empty() || !request.serial().empty()) {
      return Invalid("give either the device (vid:pid and serial) or an event, not both");
    }
    EventQuery q;
    q.terminal_id = request.terminal_id();
    q.limit = kEventSearchLimit;
    Result<std::vector<StoredEvent>> events = store_->QueryEvents(q);
    if (!events.ok()) return events.error();
    const StoredEvent* found = nullptr;
    for (const StoredEvent& e : *events) {
      if (e.event.seq == request.from_event_seq()) found = &e;
    }
    if (found == nullptr || !found->event.device) {
      return MakeError(ErrorCode::kNotFound,
                       "no device event " + std::to_string(request.from_event_seq()) +
                           " among the last " + std::to_string(kEventSearchLimit) +
                           " events of terminal " + request.terminal_id());
    }
    device = {found->event.device->identity.vendor_id, found->event.device->identity.product_id,
              found->event.device->identity.serial};
  } else {
    const std::string& vp = request.vid_pid();
    const auto colon = vp.find(':');
    const std::optional<uint16_t> vid = colon == std::string::npos
                                            ? std::nullopt
                                            : ParseUsbId(std::string_view(vp).substr(0, colon));
    const std::optional<uint16_t> pid = colon == std::string::npos
                                            ? std::nullopt
                                            : ParseUsbId(std::string_view(vp).substr(colon + 1));
    if (!vid || !pid)
      return Invalid("device: expected VID:PID as four hex digits each, e.g. 0781:5581");
    device = {*vid, *pid, request.serial()};
  }
  if (device.serial.empty()) {
    return Invalid(
        "the device has no serial number: an unlock code cannot tell it from others of "
        "its model (register it in the media ledger instead)");
  }
  if (device.serial.size() > kMaxSerialBytes) return Invalid("serial: too long");

  // The terminal's public key: from the request (verified) or from its
  // last connection.
  std::string cert_pem = request.terminal_certificate_pem();
  if (!cert_pem.empty()) {
    if (Status s = VerifyCertificate(ca_pem_, cert_pem, now, CertPurpose::kClient); !s.ok()) {
      return Invalid("terminal certificate: " + s.error().message);
    }
    Result<CertInfo> info = InspectCertificate(cert_pem);
    if (!info.ok()) return info.error();
    const std::string want = FormatIdentityUri(PeerRole::kTerminal, request.terminal_id());
    bool names = false;
    for (const std::string& uri : info->uris) names = names || uri == want;
    if (!names)
      return Invalid("terminal certificate: it is not the certificate of " + request.terminal_id());
  } else {
    Result<std::optional<std::string>> stored = store_->TerminalCertificate(request.terminal_id());
    if (!stored.ok()) return stored.error();
    if (!stored->has_value()) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "terminal " + request.terminal_id() +
                           " has never connected to this collector: give its certificate file");
    }
    cert_pem = std::move(**stored);
  }
  Result<std::string> key =
      DeriveUnlockKey(key_pem_, cert_pem, deployment_id_, request.terminal_id());
  if (!key.ok()) return key.error();
  const UnlockScope scope{deployment_id_, request.terminal_id(), std::move(*key)};

  out.terminal_id = request.terminal_id();
  out.vendor_id = device.vendor_id;
  out.product_id = device.product_id;
  out.serial = device.serial;
  out.reason = request.reason();
  out.issued_at_ms = now;
  // Whole minutes: the code carries minutes.
  out.expiry_ms = (now + static_cast<int64_t>(hours) * 3600 * 1000) / 60000 * 60000;
  for (int attempt = 0; attempt < kNonceAttempts; ++attempt) {
    unsigned char nonce = 0;
    if (RAND_bytes(&nonce, 1) != 1) return MakeError(ErrorCode::kInternal, "no random bytes");
    out.nonce = nonce;
    Result<std::string> code = IssueUnlockCode(scope, device, out.expiry_ms, out.nonce);
    if (!code.ok()) return code.error();
    out.code = *code;
    Result<int64_t> id = store_->AddIssuedUnlockCode(out);
    if (id.ok()) {
      out.id = *id;
      return Status::Ok();
    }
    if (id.error().code != ErrorCode::kAlreadyExists) return id.error();
  }
  return MakeError(ErrorCode::kResourceExhausted,
                   "too many codes for this device with this expiry; try again in a minute");
}

Status UnlockIssuer::Issue(std::string_view actor, const v1::IssueUnlockCodeRequest& request,
                           v1::IssueUnlockCodeResponse* response) {
  IssuedUnlockCode issued;
  issued.issued_by = std::string(actor);
  Status s = IssueLocked(request, issued);
  const std::string target = "terminal:" + request.terminal_id();
  std::string detail;
  if (s.ok()) {
    // The code itself is not audited: the audit log is readable by more
    // people than should be able to use it.
    detail = FormatVidPid(issued.vendor_id, issued.product_id) + " serial '" + issued.serial +
             "' until " + FormatUtc(issued.expiry_ms) + " (code #" + std::to_string(issued.id) +
             ")" + (issued.reason.empty() ? "" : ": " + issued.reason);
  } else {
    detail = s.error().message;
  }
  if (audit_ != nullptr) {
    (void)audit_->Record(actor, audit::kUnlockIssue, target, detail,
                         s.ok() ? AuditOutcome::kOk : AuditOutcome::kFailed);
  }
  if (!s.ok()) return s;
  GetLogger("unlock")->warn("{} issued unlock code #{} for terminal {}: {}", actor, issued.id,
                            issued.terminal_id, detail);
  ToUnlockCodeView(issued, response->mutable_code());
  return Status::Ok();
}

Status UnlockIssuer::List(const v1::ListUnlockCodesRequest& request,
                          v1::ListUnlockCodesResponse* response) {
  Result<std::vector<IssuedUnlockCode>> codes =
      store_->ListIssuedUnlockCodes(request.terminal_id(), std::min(request.limit(), 1000u));
  if (!codes.ok()) return codes.error();
  for (const IssuedUnlockCode& c : *codes) ToUnlockCodeView(c, response->add_codes());
  return Status::Ok();
}

Result<bool> UnlockIssuer::ReconcileUse(std::string_view terminal_id, std::string_view code,
                                        int64_t used_at_ms, std::string_view used_by) {
  return store_->MarkUnlockCodeUsed(terminal_id, code, used_at_ms, used_by);
}

}  // namespace mamori
