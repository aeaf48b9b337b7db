#include "server/web/web_credentials.h"

#include "common/crypto/credentials.h"
#include "common/crypto/pki.h"

namespace mamori::web {
namespace {

// "web.cert_file /path" for messages.
std::string Field(std::string_view field, const std::string& path) {
  return std::string(field) + " " + path;
}

Result<std::string> ReadField(std::string_view field, const std::string& path) {
  if (path.empty()) return MakeError(ErrorCode::kInvalidArgument, std::string(field) + ": not set");
  Result<std::string> data = ReadFileToString(path);
  // The I/O error already starts with the path.
  if (!data) return MakeError(data.error().code, std::string(field) + " " + data.error().message);
  return data;
}

}  // namespace

Status CheckWebCredentials(const WebConfig& config, int64_t now_ms) {
  const std::string cert_field = Field("web.cert_file", config.cert_file);
  const std::string key_field = Field("web.key_file", config.key_file);
  Result<std::string> cert = ReadField("web.cert_file", config.cert_file);
  if (!cert) return cert.error();
  Result<std::string> key = ReadField("web.key_file", config.key_file);
  if (!key) return key.error();

  Result<CertInfo> info = InspectCertificate(*cert);
  if (!info) {
    return MakeError(ErrorCode::kInvalidArgument,
                     cert_field + ": not a PEM certificate (" + info.error().message + ")");
  }
  if (Status s = CheckKeyMatchesCertificate(*key, *cert); !s) {
    if (s.error().message.find("does not match") != std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument,
                       key_field + ": does not match the certificate in " + cert_field);
    }
    return MakeError(ErrorCode::kInvalidArgument,
                     key_field + ": not a usable PEM private key (" + s.error().message + ")");
  }
  if (now_ms > info->not_after_ms) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     cert_field + ": certificate expired on " + FormatUtc(info->not_after_ms));
  }
  if (now_ms < info->not_before_ms) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     cert_field + ": certificate not valid before " +
                         FormatUtc(info->not_before_ms) + " (check the system clock)");
  }
  return Status::Ok();
}

}  // namespace mamori::web
