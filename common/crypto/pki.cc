#include "common/crypto/pki.h"

#ifdef _WIN32
#include <ws2tcpip.h>  // inet_ntop
#else
#include <arpa/inet.h>
#endif
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <utility>

#include "common/base/jst_time.h"
#include "common/crypto/identity.h"
#include "common/crypto/leaf_signing.h"
#include "common/crypto/openssl_util.h"

namespace mamori {
namespace {

template <typename T, void (*kFree)(T*)>
using OpenSslDeleter = openssl::Deleter<T, kFree>;
using openssl::BioPtr;
using openssl::BioToString;
using openssl::EvpPkeyCtxPtr;
using openssl::EvpPkeyPtr;
using openssl::MemBio;
using openssl::NoPassphrase;

using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BIGNUM, BN_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509, X509_free>>;
using X509ExtensionPtr =
    std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION, X509_EXTENSION_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpenSslDeleter<X509_STORE, X509_STORE_free>>;
using X509StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX, OpenSslDeleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using GeneralNamePtr =
    std::unique_ptr<GENERAL_NAME, OpenSslDeleter<GENERAL_NAME, GENERAL_NAME_free>>;
using GeneralNamesPtr =
    std::unique_ptr<GENERAL_NAMES, OpenSslDeleter<GENERAL_NAMES, GENERAL_NAMES_free>>;
using Asn1Ia5StringPtr =
    std::unique_ptr<ASN1_IA5STRING, OpenSslDeleter<ASN1_IA5STRING, ASN1_IA5STRING_free>>;
using Asn1OctetStringPtr =
    std::unique_ptr<ASN1_OCTET_STRING, OpenSslDeleter<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>>;

void FreeX509Stack(STACK_OF(X509) * stack) { sk_X509_pop_free(stack, X509_free); }
using X509StackPtr = std::unique_ptr<STACK_OF(X509), OpenSslDeleter<STACK_OF(X509), FreeX509Stack>>;

constexpr int64_t kDefaultBackdateMs = 5LL * 60 * 1000;
constexpr int64_t kMaxValidityDays = 100LL * 365;
constexpr int64_t kMinValiditySeconds = 60;

Error OpenSslError(ErrorCode code, std::string_view what) {
  return MakeError(code, std::string(what) + ": " + openssl::DrainErrors());
}

int64_t NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

Result<X509Ptr> ParseCert(std::string_view pem) {
  ERR_clear_error();
  BioPtr bio = MemBio(pem);
  if (!bio) return MakeError(ErrorCode::kInvalidArgument, "certificate data too large");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!cert) {
    ERR_clear_error();
    return MakeError(ErrorCode::kInvalidArgument, "no PEM certificate found");
  }
  return cert;
}

// Every certificate in `pem`, in order. An empty result is an error.
Result<std::vector<X509Ptr>> ParseCertChain(std::string_view pem) {
  ERR_clear_error();
  BioPtr bio = MemBio(pem);
  if (!bio) return MakeError(ErrorCode::kInvalidArgument, "certificate data too large");
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr)) {
    certs.emplace_back(cert);
  }
  // The loop ends on "no start line" at the end of the data; that is not an error.
  ERR_clear_error();
  if (certs.empty()) return MakeError(ErrorCode::kInvalidArgument, "no PEM certificate found");
  return certs;
}

Result<EvpPkeyPtr> ParseKey(std::string_view pem) {
  ERR_clear_error();
  BioPtr bio = MemBio(pem);
  if (!bio) return MakeError(ErrorCode::kInvalidArgument, "key data too large");
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!key) {
    ERR_clear_error();
    return MakeError(ErrorCode::kInvalidArgument, "no unencrypted PEM private key found");
  }
  return key;
}

Result<EvpPkeyPtr> GenerateP256Key() {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") <= 0) {
    return OpenSslError(ErrorCode::kInternal, "cannot set up EC key generation");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &raw) <= 0) {
    return OpenSslError(ErrorCode::kInternal, "cannot generate EC P-256 key");
  }
  return EvpPkeyPtr(raw);
}

Result<std::string> KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError(ErrorCode::kInternal, "cannot encode private key");
  }
  return BioToString(bio.get());
}

Result<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslError(ErrorCode::kInternal, "cannot encode certificate");
  }
  return BioToString(bio.get());
}

// 128 random bits: unpredictable serials are what the CA/Browser Forum asks
// for, and they make collisions between separately run `pki issue` calls moot.
bool SetRandomSerial(X509* cert) {
  BignumPtr bn(BN_new());
  if (!bn) return false;
  do {
    if (BN_rand(bn.get(), 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) return false;
  } while (BN_is_zero(bn.get()));
  ASN1_INTEGER* serial = X509_get_serialNumber(cert);
  return BN_to_ASN1_INTEGER(bn.get(), serial) != nullptr;
}

bool SetValidity(X509* cert, int64_t not_before_ms, int64_t validity_days) {
  const time_t not_before = static_cast<time_t>(FloorDiv(not_before_ms, 1000));
  const time_t not_after = not_before + static_cast<time_t>(validity_days * 24 * 60 * 60);
  return ASN1_TIME_set(X509_getm_notBefore(cert), not_before) != nullptr &&
         ASN1_TIME_set(X509_getm_notAfter(cert), not_after) != nullptr;
}

bool SetName(X509* cert, std::string_view common_name) {
  X509_NAME* name = X509_get_subject_name(cert);
  const auto* o = reinterpret_cast<const unsigned char*>("Mamori");
  const auto* cn = reinterpret_cast<const unsigned char*>(common_name.data());
  return X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, o, -1, -1, 0) == 1 &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, cn,
                                    static_cast<int>(common_name.size()), -1, 0) == 1;
}

// Adds an extension from OpenSSL's config syntax. Only fixed strings go
// through this path; anything user-supplied is encoded structurally.
bool AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

bool IsValidDnsName(std::string_view name) {
  if (name.starts_with("*.")) name.remove_prefix(2);
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

Status PushString(GENERAL_NAMES* names, int type, std::string_view value) {
  GeneralNamePtr gn(GENERAL_NAME_new());
  Asn1Ia5StringPtr str(ASN1_IA5STRING_new());
  if (!gn || !str ||
      ASN1_STRING_set(str.get(), value.data(), static_cast<int>(value.size())) != 1) {
    return OpenSslError(ErrorCode::kInternal, "cannot encode subjectAltName");
  }
  GENERAL_NAME_set0_value(gn.get(), type, str.release());
  if (sk_GENERAL_NAME_push(names, gn.get()) <= 0) {
    return OpenSslError(ErrorCode::kInternal, "cannot encode subjectAltName");
  }
  gn.release();
  return Status::Ok();
}

Status PushIp(GENERAL_NAMES* names, const std::string& ip) {
  Asn1OctetStringPtr octets(a2i_IPADDRESS(ip.c_str()));
  if (!octets) {
    ERR_clear_error();
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid IP address \"" + ip + "\" (expected IPv4 or IPv6 literal)");
  }
  GeneralNamePtr gn(GENERAL_NAME_new());
  if (!gn) return OpenSslError(ErrorCode::kInternal, "cannot encode subjectAltName");
  GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, octets.release());
  if (sk_GENERAL_NAME_push(names, gn.get()) <= 0) {
    return OpenSslError(ErrorCode::kInternal, "cannot encode subjectAltName");
  }
  gn.release();
  return Status::Ok();
}

PeerRole RoleOf(CertKind kind) {
  switch (kind) {
    case CertKind::kServer:
      return PeerRole::kCollector;
    case CertKind::kAdmin:
      return PeerRole::kAdmin;
    case CertKind::kTerminal:
      return PeerRole::kTerminal;
  }
  return PeerRole::kTerminal;
}

std::string_view KindName(CertKind kind) {
  switch (kind) {
    case CertKind::kServer:
      return "collector name";
    case CertKind::kAdmin:
      return "admin name";
    case CertKind::kTerminal:
      return "terminal id";
  }
  return "id";
}

Status ValidateRequest(const IssueRequest& r) {
  if (!IsValidId(r.id)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid " + std::string(KindName(r.kind)) + " \"" + r.id +
                         "\": use 1 to 128 characters of A-Z a-z 0-9 . _ -");
  }
  if (!r.group.empty()) {
    if (r.kind != CertKind::kTerminal) {
      return MakeError(ErrorCode::kInvalidArgument, "only terminal certificates carry a group");
    }
    if (!IsValidGroup(r.group)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "invalid group \"" + r.group +
                           "\": use segments of a-z 0-9 _ - separated by '/', e.g. "
                           "osaka/suita/hoken");
    }
  }
  if (r.kind != CertKind::kServer && (!r.dns_names.empty() || !r.ip_addresses.empty())) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "only server certificates carry DNS and IP names");
  }
  for (const std::string& dns : r.dns_names) {
    if (!IsValidDnsName(dns)) {
      return MakeError(ErrorCode::kInvalidArgument, "invalid DNS name \"" + dns + "\"");
    }
  }
  if (r.validity_seconds > 0) {
    if (r.validity_seconds < kMinValiditySeconds ||
        r.validity_seconds > kMaxValidityDays * 24 * 60 * 60) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "validity must be between " + std::to_string(kMinValiditySeconds) +
                           " seconds and " + std::to_string(kMaxValidityDays) + " days, got " +
                           std::to_string(r.validity_seconds) + " seconds");
    }
  } else if (r.validity_days < 1 || r.validity_days > kMaxValidityDays) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "validity must be between 1 and " + std::to_string(kMaxValidityDays) +
                         " days, got " + std::to_string(r.validity_days));
  }
  return Status::Ok();
}

Status AddSubjectAltNames(X509* cert, const IssueRequest& r) {
  GeneralNamesPtr names(GENERAL_NAMES_new());
  if (!names) return OpenSslError(ErrorCode::kInternal, "cannot encode subjectAltName");
  if (Status s = PushString(names.get(), GEN_URI, FormatIdentityUri(RoleOf(r.kind), r.id)); !s) {
    return s;
  }
  if (!r.group.empty()) {
    if (Status s = PushString(names.get(), GEN_URI, FormatGroupUri(r.group)); !s) return s;
  }
  for (const std::string& dns : r.dns_names) {
    if (Status s = PushString(names.get(), GEN_DNS, dns); !s) return s;
  }
  for (const std::string& ip : r.ip_addresses) {
    if (Status s = PushIp(names.get(), ip); !s) return s;
  }
  // Critical only when the subject is empty (RFC 5280 4.2.1.6); ours never is.
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError(ErrorCode::kInternal, "cannot add subjectAltName");
  }
  return Status::Ok();
}

// Fills in the fields common to CA and leaf certificates.
Result<X509Ptr> NewCert(EVP_PKEY* key, std::string_view common_name, int64_t not_before_ms,
                        int64_t validity_days) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1 || !SetRandomSerial(cert.get()) ||
      !SetValidity(cert.get(), not_before_ms == 0 ? NowMs() - kDefaultBackdateMs : not_before_ms,
                   validity_days) ||
      !SetName(cert.get(), common_name) || X509_set_pubkey(cert.get(), key) != 1) {
    return OpenSslError(ErrorCode::kInternal, "cannot build certificate");
  }
  return cert;
}

int64_t Asn1TimeToMs(const ASN1_TIME* t) {
  tm parsed{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &parsed) != 1) return 0;
  // UTC calendar arithmetic without timegm, which Windows lacks.
  using namespace std::chrono;
  const sys_days date = year{parsed.tm_year + 1900} /
                        month{static_cast<unsigned>(parsed.tm_mon + 1)} /
                        day{static_cast<unsigned>(parsed.tm_mday)};
  const auto at = date + hours{parsed.tm_hour} + minutes{parsed.tm_min} + seconds{parsed.tm_sec};
  return duration_cast<milliseconds>(at.time_since_epoch()).count();
}

std::string NameToString(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return {};
  // RFC 2253 but keep UTF-8 as is: CA names may well be Japanese.
  const unsigned long flags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
  if (X509_NAME_print_ex(bio.get(), name, 0, flags) < 0) return {};
  return BioToString(bio.get());
}

std::string CommonName(const X509_NAME* name) {
  const int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return {};
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return {};
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

std::string IpToString(const ASN1_OCTET_STRING* ip) {
  const unsigned char* data = ASN1_STRING_get0_data(ip);
  const int len = ASN1_STRING_length(ip);
  char buf[INET6_ADDRSTRLEN] = {};
  if (len == 4 && inet_ntop(AF_INET, data, buf, sizeof(buf)) != nullptr) return buf;
  if (len == 16 && inet_ntop(AF_INET6, data, buf, sizeof(buf)) != nullptr) return buf;
  return "<invalid IP of " + std::to_string(len) + " bytes>";
}

std::string Asn1StringToStd(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

CertInfo Inspect(X509* cert) {
  CertInfo info;
  info.subject = NameToString(X509_get_subject_name(cert));
  info.common_name = CommonName(X509_get_subject_name(cert));
  info.not_before_ms = Asn1TimeToMs(X509_get0_notBefore(cert));
  info.not_after_ms = Asn1TimeToMs(X509_get0_notAfter(cert));
  info.is_ca = (X509_get_extension_flags(cert) & EXFLAG_CA) != 0;

  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (names) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
      switch (gn->type) {
        case GEN_URI:
          info.uris.push_back(Asn1StringToStd(gn->d.uniformResourceIdentifier));
          break;
        case GEN_DNS:
          info.dns_names.push_back(Asn1StringToStd(gn->d.dNSName));
          break;
        case GEN_IPADD:
          info.ip_addresses.push_back(IpToString(gn->d.iPAddress));
          break;
        default:
          break;
      }
    }
  }

  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &md_len) == 1) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < md_len; ++i) {
      info.sha256_fingerprint += kHex[md[i] >> 4];
      info.sha256_fingerprint += kHex[md[i] & 0xf];
    }
  }
  ERR_clear_error();
  return info;
}

std::string VerifyContext(int error, X509* current, int depth, int purpose_id) {
  const std::string which = depth == 0 ? "" : "CA certificate ";
  const std::string subject =
      current != nullptr ? NameToString(X509_get_subject_name(current)) : std::string("?");
  switch (error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return which + "not after " + FormatUtc(Asn1TimeToMs(X509_get0_notAfter(current))) +
             "; subject " + subject;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return which + "not before " + FormatUtc(Asn1TimeToMs(X509_get0_notBefore(current))) +
             "; subject " + subject;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return "not issued by this CA; subject " + subject + ", issuer " +
             (current != nullptr ? NameToString(X509_get_issuer_name(current)) : "?");
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return "signature does not verify with the CA's key; subject " + subject;
    case X509_V_ERR_INVALID_PURPOSE:
      return which + subject + " is not valid for " +
             (purpose_id == X509_PURPOSE_SSL_SERVER ? "TLS server (collector)"
                                                    : "TLS client (agent or admin)") +
             " use";
    default:
      return which + "subject " + subject;
  }
}

// `purpose` is an X509_PURPOSE_* id; 0 skips the purpose check.
Status Verify(std::string_view ca_pem, std::string_view chain_pem, int64_t now_ms, int purpose) {
  Result<std::vector<X509Ptr>> anchors = ParseCertChain(ca_pem);
  if (!anchors) return MakeError(ErrorCode::kInvalidArgument, "CA: " + anchors.error().message);
  Result<std::vector<X509Ptr>> chain = ParseCertChain(chain_pem);
  if (!chain) return chain.error();

  X509StorePtr store(X509_STORE_new());
  X509StackPtr untrusted(sk_X509_new_null());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !untrusted || !ctx) {
    return OpenSslError(ErrorCode::kInternal, "cannot set up certificate verification");
  }
  for (const X509Ptr& anchor : *anchors) {
    if (X509_STORE_add_cert(store.get(), anchor.get()) != 1) {
      return OpenSslError(ErrorCode::kInternal, "cannot add CA certificate");
    }
  }
  for (std::size_t i = 1; i < chain->size(); ++i) {
    if (sk_X509_push(untrusted.get(), (*chain)[i].get()) <= 0) {
      return OpenSslError(ErrorCode::kInternal, "cannot build certificate chain");
    }
    X509_up_ref((*chain)[i].get());
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), (*chain)[0].get(), untrusted.get()) != 1) {
    return OpenSslError(ErrorCode::kInternal, "cannot set up certificate verification");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  // set_time also turns on X509_V_FLAG_USE_CHECK_TIME, so the injected clock
  // rather than the system clock decides validity.
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(FloorDiv(now_ms, 1000)));
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT | X509_V_FLAG_USE_CHECK_TIME);
  if (purpose != 0 && X509_STORE_CTX_set_purpose(ctx.get(), purpose) != 1) {
    return OpenSslError(ErrorCode::kInternal, "cannot set verification purpose");
  }

  const int rc = X509_verify_cert(ctx.get());
  if (rc == 1) return Status::Ok();
  const int error = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  return MakeError(ErrorCode::kUnauthenticated,
                   std::string(X509_verify_cert_error_string(error)) + " (" +
                       VerifyContext(error, X509_STORE_CTX_get_current_cert(ctx.get()),
                                     X509_STORE_CTX_get_error_depth(ctx.get()), purpose) +
                       ")");
}

}  // namespace

Result<KeyAndCert> CreateCa(std::string_view common_name, int64_t validity_days,
                            int64_t not_before_ms) {
  // RFC 5280 bounds a common name at 64 characters, not bytes: a Japanese
  // name may use up to three bytes per character.
  const auto chars = std::count_if(common_name.begin(), common_name.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0u) != 0x80u;
  });
  if (chars == 0 || chars > 64) {
    return MakeError(ErrorCode::kInvalidArgument, "CA name must be 1 to 64 characters");
  }
  if (validity_days < 1 || validity_days > kMaxValidityDays) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "validity must be between 1 and " + std::to_string(kMaxValidityDays) +
                         " days, got " + std::to_string(validity_days));
  }
  ERR_clear_error();
  Result<EvpPkeyPtr> key = GenerateP256Key();
  if (!key) return key.error();
  Result<X509Ptr> cert = NewCert(key->get(), common_name, not_before_ms, validity_days);
  if (!cert) return cert.error();
  X509* c = cert->get();
  if (X509_set_issuer_name(c, X509_get_subject_name(c)) != 1 ||
      // pathlen:0: this CA signs leaves only; an intermediate would need a new design.
      !AddExtension(c, c, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !AddExtension(c, c, NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !AddExtension(c, c, NID_subject_key_identifier, "hash") ||
      !AddExtension(c, c, NID_authority_key_identifier, "keyid:always") ||
      X509_sign(c, key->get(), EVP_sha256()) <= 0) {
    return OpenSslError(ErrorCode::kInternal, "cannot create CA certificate");
  }
  Result<std::string> key_pem = KeyToPem(key->get());
  if (!key_pem) return key_pem.error();
  Result<std::string> cert_pem = CertToPem(c);
  if (!cert_pem) return cert_pem.error();
  return KeyAndCert{std::move(*key_pem), std::move(*cert_pem)};
}

Result<std::string> SignLeafCertificate(const KeyAndCert& issuer, EVP_PKEY* subject_key,
                                        const IssueRequest& request) {
  if (Status s = ValidateRequest(request); !s) return s.error();
  Result<X509Ptr> ca_cert = ParseCert(issuer.cert_pem);
  if (!ca_cert)
    return MakeError(ErrorCode::kInvalidArgument, "CA certificate: " + ca_cert.error().message);
  Result<EvpPkeyPtr> ca_key = ParseKey(issuer.key_pem);
  if (!ca_key) return MakeError(ErrorCode::kInvalidArgument, "CA key: " + ca_key.error().message);
  if (EVP_PKEY_eq(ca_key->get(), X509_get0_pubkey(ca_cert->get())) != 1) {
    ERR_clear_error();
    return MakeError(ErrorCode::kInvalidArgument, "CA key does not match the CA certificate");
  }
  if ((X509_get_extension_flags(ca_cert->get()) & EXFLAG_CA) == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "the CA certificate is not a CA (CA:FALSE)");
  }

  ERR_clear_error();
  const int64_t not_before_ms =
      request.not_before_ms == 0 ? NowMs() - kDefaultBackdateMs : request.not_before_ms;
  Result<X509Ptr> cert = NewCert(subject_key, request.id, not_before_ms, request.validity_days);
  if (!cert) return cert.error();
  X509* c = cert->get();
  if (request.validity_seconds > 0 &&
      ASN1_TIME_set(X509_getm_notAfter(c), static_cast<time_t>(FloorDiv(not_before_ms, 1000) +
                                                               request.validity_seconds)) ==
          nullptr) {
    return OpenSslError(ErrorCode::kInternal, "cannot set certificate validity");
  }
  X509* ca = ca_cert->get();
  const char* eku = request.kind == CertKind::kServer ? "serverAuth" : "clientAuth";
  if (X509_set_issuer_name(c, X509_get_subject_name(ca)) != 1 ||
      !AddExtension(c, ca, NID_basic_constraints, "critical,CA:FALSE") ||
      // ECDSA keys sign the handshake; keyEncipherment does not apply to EC.
      !AddExtension(c, ca, NID_key_usage, "critical,digitalSignature") ||
      !AddExtension(c, ca, NID_ext_key_usage, eku) ||
      !AddExtension(c, ca, NID_subject_key_identifier, "hash") ||
      !AddExtension(c, ca, NID_authority_key_identifier, "keyid:always")) {
    return OpenSslError(ErrorCode::kInternal, "cannot build certificate extensions");
  }
  if (Status s = AddSubjectAltNames(c, request); !s) return s.error();
  if (X509_sign(c, ca_key->get(), EVP_sha256()) <= 0) {
    return OpenSslError(ErrorCode::kInternal, "cannot sign certificate");
  }
  return CertToPem(c);
}

Result<KeyAndCert> IssueCertificate(const KeyAndCert& ca, const IssueRequest& request) {
  if (Status s = ValidateRequest(request); !s) return s.error();
  ERR_clear_error();
  Result<EvpPkeyPtr> key = GenerateP256Key();
  if (!key) return key.error();
  Result<std::string> cert_pem = SignLeafCertificate(ca, key->get(), request);
  if (!cert_pem) return cert_pem.error();
  Result<std::string> key_pem = KeyToPem(key->get());
  if (!key_pem) return key_pem.error();
  return KeyAndCert{std::move(*key_pem), std::move(*cert_pem)};
}

Result<CertInfo> InspectCertificate(std::string_view pem) {
  Result<X509Ptr> cert = ParseCert(pem);
  if (!cert) return cert.error();
  return Inspect(cert->get());
}

Status VerifyCertificate(std::string_view ca_pem, std::string_view chain_pem, int64_t now_ms,
                         CertPurpose purpose) {
  return Verify(
      ca_pem, chain_pem, now_ms,
      purpose == CertPurpose::kServer ? X509_PURPOSE_SSL_SERVER : X509_PURPOSE_SSL_CLIENT);
}

Status CheckKeyMatchesCertificate(std::string_view key_pem, std::string_view cert_pem) {
  Result<EvpPkeyPtr> key = ParseKey(key_pem);
  if (!key) return key.error();
  Result<X509Ptr> cert = ParseCert(cert_pem);
  if (!cert) return cert.error();
  const int eq = EVP_PKEY_eq(key->get(), X509_get0_pubkey(cert->get()));
  ERR_clear_error();
  if (eq != 1) {
    return MakeError(ErrorCode::kInvalidArgument, "private key does not match the certificate");
  }
  return Status::Ok();
}

std::string FormatUtc(int64_t ms) {
  // Calendar arithmetic rather than gmtime_r, which Windows lacks.
  using namespace std::chrono;
  const sys_seconds at{seconds{FloorDiv(ms, 1000)}};
  const sys_days date = floor<days>(at);
  const year_month_day ymd{date};
  const hh_mm_ss<seconds> time{at - date};
  if (!ymd.ok() || static_cast<int>(ymd.year()) < 0 || static_cast<int>(ymd.year()) > 9999) {
    return "invalid-time";
  }
  char buf[32];
  const int n = std::snprintf(
      buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
      static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
      static_cast<int>(time.seconds().count()));
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace mamori
