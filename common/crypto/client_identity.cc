#include "common/crypto/client_identity.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <optional>
#include <vector>

#include "common/base/sanitize.h"
#include "common/crypto/openssl_util.h"

namespace mamori {
namespace {

using X509Ptr = std::unique_ptr<X509, openssl::Deleter<X509, X509_free>>;
using GeneralNamesPtr =
    std::unique_ptr<GENERAL_NAMES, openssl::Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;

constexpr std::string_view kScheme = "mamori://";
constexpr std::size_t kShownBytes = 160;

Error Refuse(std::string message) {
  return MakeError(ErrorCode::kUnauthenticated, std::move(message));
}

std::string Quoted(std::string_view raw) {
  return "\"" + SanitizeDeviceString(raw, kShownBytes) + "\"";
}

Status CheckKey(X509* cert) {
  EVP_PKEY* key = X509_get0_pubkey(cert);
  if (key == nullptr) {
    ERR_clear_error();
    return Refuse("certificate public key cannot be read");
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &len) != 1) {
      ERR_clear_error();
      return Refuse("EC key on an unnamed curve (only P-256 and P-384 are accepted)");
    }
    const std::string_view name(group, len);
    if (name == "prime256v1" || name == "P-256" || name == "secp384r1" || name == "P-384") {
      return Status::Ok();
    }
    return Refuse("EC key on curve " + std::string(name) + " (only P-256 and P-384 are accepted)");
  }
  if (EVP_PKEY_is_a(key, "RSA")) {
    const int bits = EVP_PKEY_get_bits(key);
    if (bits >= 2048) return Status::Ok();
    return Refuse("RSA key of " + std::to_string(bits) + " bits (at least 2048 required)");
  }
  const char* type = EVP_PKEY_get0_type_name(key);
  return Refuse(std::string("key type ") + (type != nullptr ? type : "unknown") +
                " (only EC P-256, P-384 and RSA of 2048 bits or more are accepted)");
}

Status CheckSignature(X509* cert) {
  int md_nid = NID_undef;
  int pk_nid = NID_undef;
  int security_bits = 0;
  uint32_t flags = 0;
  if (X509_get_signature_info(cert, &md_nid, &pk_nid, &security_bits, &flags) != 1) {
    ERR_clear_error();
    return Refuse("certificate signature algorithm is not recognised");
  }
  switch (md_nid) {
    case NID_md2:
    case NID_md4:
    case NID_md5:
    case NID_md5_sha1:
    case NID_sha1:
      return Refuse(std::string("certificate signed with ") + OBJ_nid2sn(md_nid) +
                    " (broken digest; SHA-256 or stronger required)");
    default:
      break;
  }
  // Catches what the list above does not name (e.g. a 1024-bit RSA CA key).
  if ((flags & X509_SIG_INFO_TLS) == 0 || security_bits < 112) {
    return Refuse("certificate signature is too weak (" + std::to_string(security_bits) +
                  " bits of security; 112 required)");
  }
  return Status::Ok();
}

std::vector<std::string> UriNames(X509* cert) {
  std::vector<std::string> uris;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return uris;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type != GEN_URI) continue;
    const ASN1_STRING* s = gn->d.uniformResourceIdentifier;
    uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                      static_cast<std::size_t>(ASN1_STRING_length(s)));
  }
  return uris;
}

// Reads the identity and group URIs with reasons ParseIdentityUri and
// ParseGroupUri do not give: which part is wrong and why.
Result<ClientIdentity> CheckUris(const std::vector<std::string>& uris) {
  std::optional<PeerIdentity> identity;
  std::vector<std::string> groups;
  for (const std::string& uri : uris) {
    const std::string_view view(uri);
    if (!view.starts_with(kScheme)) continue;  // foreign URIs say nothing about us
    std::string_view rest = view.substr(kScheme.size());
    const auto slash = rest.find('/');
    const std::string_view kind = rest.substr(0, slash);
    const std::string_view value =
        slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (kind == "group") {
      if (!IsValidGroup(value)) {
        return Refuse("group " + Quoted(value) +
                      " is not a valid group (segments of a-z 0-9 _ - separated by '/')");
      }
      groups.emplace_back(value);
      continue;
    }
    std::optional<PeerRole> role;
    for (PeerRole r : {PeerRole::kTerminal, PeerRole::kAdmin, PeerRole::kCollector}) {
      if (kind == PeerRoleName(r)) role = r;
    }
    if (!role) return Refuse("unknown mamori:// URI SAN " + Quoted(uri));
    if (!IsValidId(value)) {
      const std::string what = *role == PeerRole::kTerminal ? "terminal id"
                               : *role == PeerRole::kAdmin  ? "admin name"
                                                            : "collector name";
      return Refuse(what + " " + Quoted(value) +
                    " is not valid (1 to 128 characters of A-Z a-z 0-9 . _ -)");
    }
    if (identity) return Refuse("certificate carries more than one mamori:// identity URI SAN");
    identity = PeerIdentity{*role, std::string(value)};
  }
  if (!identity) return Refuse("certificate has no mamori:// identity URI SAN");
  ClientIdentity out;
  out.identity = *identity;
  if (identity->role == PeerRole::kTerminal) {
    if (groups.empty()) return Refuse("terminal certificate has no mamori://group/ URI SAN");
    if (groups.size() > 1) {
      return Refuse("terminal certificate carries more than one mamori://group/ URI SAN");
    }
    out.group = groups.front();
  } else if (!groups.empty()) {
    return Refuse(std::string(PeerRoleName(identity->role)) +
                  " certificate carries a group (only terminal certificates may)");
  }
  return out;
}

}  // namespace

Result<ClientIdentity> CheckClientIdentity(std::string_view leaf_pem) {
  ERR_clear_error();
  openssl::BioPtr bio = openssl::MemBio(leaf_pem);
  if (!bio) return Refuse("certificate data too large");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, openssl::NoPassphrase, nullptr));
  if (!cert) {
    ERR_clear_error();
    return Refuse("no PEM certificate found");
  }
  // Computes and caches the extension flags; a certificate whose extensions
  // do not parse is marked invalid here.
  const uint32_t flags = X509_get_extension_flags(cert.get());
  if ((flags & EXFLAG_INVALID) != 0) {
    ERR_clear_error();
    return Refuse("certificate extensions are malformed");
  }
  if ((flags & EXFLAG_CA) != 0) {
    return Refuse("CA certificate (basicConstraints CA:TRUE) used as a client certificate");
  }
  if ((flags & EXFLAG_XKUSAGE) == 0 ||
      (X509_get_extended_key_usage(cert.get()) & XKU_SSL_CLIENT) == 0) {
    return Refuse("certificate has no extendedKeyUsage clientAuth");
  }
  if (Status s = CheckKey(cert.get()); !s) return s.error();
  if (Status s = CheckSignature(cert.get()); !s) return s.error();
  Result<ClientIdentity> identity = CheckUris(UriNames(cert.get()));
  if (!identity) return identity;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &md_len) != 1) {
    ERR_clear_error();
    return MakeError(ErrorCode::kInternal, "cannot hash certificate");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  identity->cert_sha256.reserve(md_len * 2);
  for (unsigned int i = 0; i < md_len; ++i) {
    identity->cert_sha256 += kHex[md[i] >> 4];
    identity->cert_sha256 += kHex[md[i] & 0xf];
  }
  return identity;
}

}  // namespace mamori
