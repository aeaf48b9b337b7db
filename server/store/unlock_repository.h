#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace mamori {

// An offline unlock code as the collector issued it, and its use as the
// terminal reported it.
struct IssuedUnlockCode {
  int64_t id = 0;    // assigned by the store
  std::string code;  // canonical form, unique
  std::string terminal_id;
  uint16_t vendor_id = 0;
  uint16_t product_id = 0;
  std::string serial;
  int64_t expiry_ms = 0;
  uint32_t nonce = 0;
  std::string issued_by;  // "cert:mamori://admin/ops"
  int64_t issued_at_ms = 0;
  std::string reason;
  int64_t used_at_ms = 0;  // agent clock of the accepted event; 0 = no use reported
  std::string used_by;     // who typed it, from the event
};

// Issued unlock codes, and the certificate each terminal last connected
// with (the collector derives a terminal's unlock key from its public key).
class UnlockRepository {
 public:
  virtual ~UnlockRepository() = default;

  // Remembers `cert_pem` as the terminal's current certificate.
  virtual Status PutTerminalCertificate(std::string_view terminal_id, std::string_view cert_pem,
                                        int64_t seen_ms) = 0;
  virtual Result<std::optional<std::string>> TerminalCertificate(std::string_view terminal_id) = 0;

  // Stores a new code; kAlreadyExists when the same code was issued before.
  virtual Result<int64_t> AddIssuedUnlockCode(const IssuedUnlockCode& code) = 0;
  // Newest first; empty terminal = every terminal.
  virtual Result<std::vector<IssuedUnlockCode>> ListIssuedUnlockCodes(std::string_view terminal_id,
                                                                      uint32_t limit) = 0;
  // Records the reported use of `code` on `terminal_id`; false when the
  // collector never issued that code for that terminal.
  virtual Result<bool> MarkUnlockCodeUsed(std::string_view terminal_id, std::string_view code,
                                          int64_t used_at_ms, std::string_view used_by) = 0;
};

}  // namespace mamori
