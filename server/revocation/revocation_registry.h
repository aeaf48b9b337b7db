#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "common/crypto/identity.h"
#include "server/audit/audit_trail.h"
#include "server/compliance/terminal_standing.h"
#include "server/policy/policy_hub.h"
#include "server/store/store.h"
#include "server/tls/revocation_list.h"

namespace mamori {

// Audit actions of the deny list.
namespace audit {
inline constexpr std::string_view kTerminalRevoke = "terminal.revoke";
inline constexpr std::string_view kTerminalRetire = "terminal.retire";
inline constexpr std::string_view kAdminRevoke = "admin.revoke";
}  // namespace audit

// The collector's deny list: revoked identities (role + id, covering every
// certificate ever issued to it, offline ones included), revoked
// certificates (by SHA-256 of the DER) and retired terminals. Stored in the
// revocations table and answered from an immutable in-memory copy that a
// change replaces whole, so the verifier and the services read it on every
// handshake and call without a store access or a writer's lock: one
// hash-map lookup.
class RevocationRegistry final : public RevocationList, public TerminalStandings {
 public:
  // Bounds of a reason, in bytes.
  static constexpr std::size_t kMaxReasonBytes = 500;

  RevocationRegistry(Store* store, PolicyHub* hub, AuditTrail* audit, const Clock* clock);

  // Reads every record from the store; before serving.
  Status Load();
  // Told of every change once stored; before serving. Not owned.
  void AddObserver(StandingObserver* observer);

  std::optional<std::string> RevokedReason(PeerRole role, std::string_view id,
                                           std::string_view cert_sha256) const override;
  StandingInfo StandingOf(std::string_view terminal_id) const override;

  struct Outcome {
    RevocationRecord record;
    std::size_t streams_closed = 0;  // the terminal's policy streams ended
  };
  // Records the revocation of an identity (`cert_sha256` empty) or of one
  // certificate, with an audit record in the same transaction, then makes
  // it effective: the list answers with it, observers hear of it and a
  // terminal's policy streams are ended. kInvalidArgument for a bad id,
  // fingerprint or reason (required); kAlreadyExists when already revoked.
  Result<Outcome> Revoke(PeerRole role, std::string_view id, std::string_view cert_sha256,
                         std::string_view reason, std::string_view actor);
  // Retires a terminal: it can no longer connect either.
  Result<Outcome> Retire(std::string_view terminal_id, std::string_view reason,
                         std::string_view actor);
  // Every record, oldest first.
  std::vector<RevocationRecord> List() const;

 private:
  struct Snapshot {
    std::vector<RevocationRecord> records;
    // "<role>/<id>" -> index of the identity's revocation (or retirement).
    std::unordered_map<std::string, std::size_t> identities;
    // fingerprint -> index of the certificate's revocation.
    std::unordered_map<std::string, std::size_t> certificates;
    // terminal id -> index of its retirement.
    std::unordered_map<std::string, std::size_t> retired;
    // terminal id -> index of its identity's revocation.
    std::unordered_map<std::string, std::size_t> revoked_terminals;

    void Add(RevocationRecord record);
  };
  std::shared_ptr<const Snapshot> Current() const;
  Result<Outcome> Record(RevocationRecord record);

  Store* store_;
  PolicyHub* hub_;
  AuditTrail* audit_;
  const Clock* clock_;
  std::vector<StandingObserver*> observers_;
  std::mutex write_mu_;  // one change at a time, so none is lost
  mutable std::shared_mutex mu_;
  std::shared_ptr<const Snapshot> snapshot_;  // guarded by mu_
};

}  // namespace mamori
