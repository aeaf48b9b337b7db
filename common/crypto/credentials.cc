#include "common/crypto/credentials.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>

#include "common/crypto/identity.h"

namespace mamori {
namespace {

// "tls.cert_file /etc/mamori/agent.pem"
std::string Field(std::string_view field, const std::string& path) {
  return std::string(field) + " " + path;
}

Result<std::string> ReadField(std::string_view field, const std::string& path) {
  if (path.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, std::string(field) + ": not set");
  }
  Result<std::string> data = ReadFileToString(path);
  if (!data) {
    return MakeError(data.error().code, std::string(field) + " " + data.error().message);
  }
  return data;
}

// The purpose a certificate is meant for, from its identity URI: a collector
// serves, everyone else (terminals, admins) is a client.
CertPurpose PurposeOf(const CertInfo& info) {
  for (const std::string& uri : info.uris) {
    std::optional<PeerIdentity> id = ParseIdentityUri(uri);
    if (id && id->role == PeerRole::kCollector) return CertPurpose::kServer;
  }
  return CertPurpose::kClient;
}

}  // namespace

Result<TlsMaterial> LoadTlsMaterial(const TlsFiles& files, int64_t now_ms) {
  TlsMaterial m;
  {
    Result<std::string> ca = ReadField("tls.ca_file", files.ca_file);
    if (!ca) return ca.error();
    Result<std::string> cert = ReadField("tls.cert_file", files.cert_file);
    if (!cert) return cert.error();
    Result<std::string> key = ReadField("tls.key_file", files.key_file);
    if (!key) return key.error();
    m.ca_pem = std::move(*ca);
    m.cert_pem = std::move(*cert);
    m.key_pem = std::move(*key);
  }
  const std::string ca_field = Field("tls.ca_file", files.ca_file);
  const std::string cert_field = Field("tls.cert_file", files.cert_file);
  const std::string key_field = Field("tls.key_file", files.key_file);

  Result<CertInfo> ca_info = InspectCertificate(m.ca_pem);
  if (!ca_info)
    return MakeError(ErrorCode::kInvalidArgument, ca_field + ": " + ca_info.error().message);
  if (!ca_info->is_ca) {
    return MakeError(ErrorCode::kInvalidArgument,
                     ca_field + ": not a CA certificate (subject " + ca_info->subject + ")");
  }
  Result<CertInfo> cert_info = InspectCertificate(m.cert_pem);
  if (!cert_info) {
    return MakeError(ErrorCode::kInvalidArgument, cert_field + ": " + cert_info.error().message);
  }
  m.cert = std::move(*cert_info);

  if (Status s = CheckKeyMatchesCertificate(m.key_pem, m.cert_pem); !s) {
    if (s.error().message.find("does not match") != std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument,
                       key_field + ": does not match the certificate in " + cert_field);
    }
    return MakeError(ErrorCode::kInvalidArgument, key_field + ": " + s.error().message);
  }

  // Checked here rather than left to the chain verification so the message
  // names the date, which is what the person fixing it needs.
  if (now_ms > m.cert.not_after_ms) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     cert_field + ": certificate expired on " + FormatUtc(m.cert.not_after_ms));
  }
  if (now_ms < m.cert.not_before_ms) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     cert_field + ": certificate not valid before " +
                         FormatUtc(m.cert.not_before_ms) + " (check the system clock)");
  }
  if (now_ms > ca_info->not_after_ms) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     ca_field + ": CA certificate expired on " + FormatUtc(ca_info->not_after_ms));
  }

  if (Status s = VerifyCertificate(m.ca_pem, m.cert_pem, now_ms, PurposeOf(m.cert)); !s) {
    // pki.h promises this phrase for every "wrong issuer" outcome.
    if (s.error().message.find("not issued by this CA") != std::string::npos) {
      return MakeError(
          ErrorCode::kFailedPrecondition,
          cert_field + ": not issued by the CA in " + ca_field + " (" + s.error().message + ")");
    }
    return MakeError(ErrorCode::kFailedPrecondition, cert_field + ": " + s.error().message);
  }
  return m;
}

}  // namespace mamori
