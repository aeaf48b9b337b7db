#include "agent/storage/file_identity_store.h"

#include <spdlog/logger.h>

#include <filesystem>
#include <system_error>
#include <utility>

#include "common/base/file_io.h"
#include "common/base/logging.h"
#include "common/crypto/ca_pin.h"
#include "common/crypto/identity.h"
#include "common/crypto/pki.h"

namespace mamori {
namespace {

namespace fs = std::filesystem;

std::string Join(const std::string& dir, const char* name) {
  return (fs::path(dir) / name).string();
}

Status MakeDir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return MakeError(ErrorCode::kIo, dir + ": cannot create: " + ec.message());
  // The key lives here. (Mode bits only: on Windows the ACL of the data
  // directory applies.)
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  return Status::Ok();
}

std::string TerminalIdOf(const CertInfo& cert) {
  for (const std::string& uri : cert.uris) {
    std::optional<PeerIdentity> id = ParseIdentityUri(uri);
    if (id && id->role == PeerRole::kTerminal) return id->id;
  }
  return "";
}

// The identity in the three PEMs, checked: key matches, certificate chains
// to the CA and is valid now, names a terminal, CA has the pinned
// fingerprint.
Result<TerminalIdentity> Check(std::string key_pem, std::string cert_pem, std::string ca_pem,
                               std::string_view pin, int64_t now_ms) {
  Result<std::string> fingerprint = CertificateFingerprint(ca_pem);
  if (!fingerprint.ok())
    return MakeError(fingerprint.error().code, "CA: " + fingerprint.error().message);
  if (*fingerprint != pin) {
    return MakeError(ErrorCode::kUnauthenticated, "the CA certificate has fingerprint " +
                                                      FormatFingerprint(*fingerprint) +
                                                      ", not the pinned " + FormatFingerprint(pin));
  }
  if (Status s = CheckKeyMatchesCertificate(key_pem, cert_pem); !s.ok()) return s.error();
  if (Status s = VerifyCertificate(ca_pem, cert_pem, now_ms, CertPurpose::kClient); !s.ok()) {
    return s.error();
  }
  Result<CertInfo> info = InspectCertificate(cert_pem);
  if (!info.ok()) return info.error();
  TerminalIdentity identity;
  identity.terminal_id = TerminalIdOf(*info);
  if (identity.terminal_id.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the certificate names no terminal (mamori://terminal/<id>)");
  }
  identity.key_pem = std::move(key_pem);
  identity.cert_pem = std::move(cert_pem);
  identity.ca_pem = std::move(ca_pem);
  identity.not_before_ms = info->not_before_ms;
  identity.not_after_ms = info->not_after_ms;
  return identity;
}

int64_t WallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

FileIdentityStore::FileIdentityStore(std::string dir, std::string ca_fingerprint,
                                     std::shared_ptr<spdlog::logger> logger)
    : dir_(std::move(dir)),
      pending_dir_(Join(dir_, "pending")),
      ca_fingerprint_(std::move(ca_fingerprint)),
      log_(logger ? std::move(logger) : GetLogger("identity")) {}

std::optional<TerminalIdentity> FileIdentityStore::LoadPair(const std::string& dir, int64_t now_ms,
                                                            std::string* why) const {
  std::error_code ec;
  if (!fs::exists(Join(dir, "cert.pem"), ec)) {
    *why = dir + ": no certificate";
    return std::nullopt;
  }
  Result<std::string> key = ReadFileToString(Join(dir, "key.pem"));
  Result<std::string> cert = ReadFileToString(Join(dir, "cert.pem"));
  Result<std::string> ca = ReadFileToString(Join(dir, "ca.pem"));
  for (const Result<std::string>* r : {&key, &cert, &ca}) {
    if (!r->ok()) {
      *why = r->error().message;
      return std::nullopt;
    }
  }
  Result<TerminalIdentity> identity = Check(*key, *cert, *ca, ca_fingerprint_, now_ms);
  if (!identity.ok()) {
    *why = dir + ": " + identity.error().message;
    return std::nullopt;
  }
  return *identity;
}

Result<std::optional<TerminalIdentity>> FileIdentityStore::Load(int64_t now_ms) {
  std::string current_why;
  std::string pending_why;
  if (auto current = LoadPair(dir_, now_ms, &current_why)) return current;
  if (auto pending = LoadPair(pending_dir_, now_ms, &pending_why)) {
    log_->info("using the renewed certificate in {} ({})", pending_dir_, current_why);
    return pending;
  }
  std::error_code ec;
  if (fs::exists(Join(dir_, "cert.pem"), ec)) {
    log_->warn("the stored identity cannot be used ({}); the terminal enrolls again", current_why);
  }
  return std::optional<TerminalIdentity>();
}

Status FileIdentityStore::SavePendingKey(std::string_view key_pem) {
  if (Status s = MakeDir(pending_dir_); !s.ok()) return s;
  // A certificate left from an interrupted attempt must not pair with the
  // new key.
  std::error_code ec;
  fs::remove(Join(pending_dir_, "cert.pem"), ec);
  return WriteFileAtomic(Join(pending_dir_, "key.pem"), key_pem, 0600);
}

Result<TerminalIdentity> FileIdentityStore::SavePendingCertificate(
    const IssuedCertificate& issued) {
  Result<std::string> key = ReadFileToString(Join(pending_dir_, "key.pem"));
  if (!key.ok()) return key.error();
  std::string cert_pem = issued.certificate_pem;
  if (!cert_pem.empty() && cert_pem.back() != '\n') cert_pem += '\n';
  cert_pem += issued.chain_pem;
  Result<TerminalIdentity> identity =
      Check(*key, cert_pem, issued.ca_pem, ca_fingerprint_, WallNowMs());
  if (!identity.ok()) {
    return MakeError(identity.error().code,
                     "the issued certificate is not usable: " + identity.error().message);
  }
  if (Status s = WriteFileAtomic(Join(pending_dir_, "ca.pem"), issued.ca_pem, 0644); !s.ok()) {
    return s.error();
  }
  if (Status s = WriteFileAtomic(Join(pending_dir_, "cert.pem"), cert_pem, 0644); !s.ok()) {
    return s.error();
  }
  return identity;
}

Status FileIdentityStore::Promote() {
  if (Status s = MakeDir(dir_); !s.ok()) return s;
  Result<std::string> key = ReadFileToString(Join(pending_dir_, "key.pem"));
  Result<std::string> cert = ReadFileToString(Join(pending_dir_, "cert.pem"));
  Result<std::string> ca = ReadFileToString(Join(pending_dir_, "ca.pem"));
  for (const Result<std::string>* r : {&key, &cert, &ca}) {
    if (!r->ok()) return r->error();
  }
  // Certificate first: until the key follows, the current pair does not
  // match and Load takes the (complete) pending one.
  if (Status s = WriteFileAtomic(Join(dir_, "ca.pem"), *ca, 0644); !s.ok()) return s;
  if (Status s = WriteFileAtomic(Join(dir_, "cert.pem"), *cert, 0644); !s.ok()) return s;
  if (Status s = WriteFileAtomic(Join(dir_, "key.pem"), *key, 0600); !s.ok()) return s;
  return DiscardPending();
}

Status FileIdentityStore::DiscardPending() {
  std::error_code ec;
  fs::remove_all(pending_dir_, ec);
  if (ec) return MakeError(ErrorCode::kIo, pending_dir_ + ": cannot remove: " + ec.message());
  return Status::Ok();
}

}  // namespace mamori
