#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/core/terminal_identity.h"
#include "common/base/result.h"

namespace spdlog {
class logger;
}

namespace mamori {

// The enrolled terminal's identity in <state_dir>/identity/:
//   key.pem   private key, 0600
//   cert.pem  leaf followed by its chain
//   ca.pem    the root CA, whose fingerprint is the configured pin
//   pending/  the same three files of a renewal not yet in use
// Every file is written atomically. Promote writes the certificate, then the
// key, then removes pending/: whenever a crash interrupts it, either the
// current pair or the pending one matches, and Load takes that one.
class FileIdentityStore final : public IdentityStore {
 public:
  // `ca_fingerprint` (64 lower-case hex digits): a certificate whose ca_pem
  // has another fingerprint is refused.
  FileIdentityStore(std::string dir, std::string ca_fingerprint,
                    std::shared_ptr<spdlog::logger> logger = nullptr);

  Result<std::optional<TerminalIdentity>> Load(int64_t now_ms) override;
  Status SavePendingKey(std::string_view key_pem) override;
  Result<TerminalIdentity> SavePendingCertificate(const IssuedCertificate& issued) override;
  Status Promote() override;
  Status DiscardPending() override;

  const std::string& dir() const { return dir_; }

 private:
  // The pair in `dir`, checked: nullopt with `why` when absent or unusable.
  std::optional<TerminalIdentity> LoadPair(const std::string& dir, int64_t now_ms,
                                           std::string* why) const;

  const std::string dir_;
  const std::string pending_dir_;
  const std::string ca_fingerprint_;
  const std::shared_ptr<spdlog::logger> log_;
};

}  // namespace mamori
