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

using X509CrlPtr = std::unique_ptr<X509_CRL, OpenSslDeleter<X509_CRL, X509_CRL_free>>;
using X509RevokedPtr =
    std::unique_ptr<X509_REVOKED, OpenSslDeleter<X509_REVOKED, X509_REVOKED_free>>;
using Asn1IntegerPtr =
    std::unique_ptr<ASN1_INTEGER, OpenSslDeleter<ASN1_INTEGER, ASN1_INTEGER_free>>;
using Asn1EnumeratedPtr =
    std::unique_ptr<ASN1_ENUMERATED, OpenSslDeleter<ASN1_ENUMERATED, ASN1_ENUMERATED_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, OpenSslDeleter<ASN1_TIME, ASN1_TIME_free>>;

void FreeX509Stack(STACK_OF(X509) * stack) { sk_X509_pop_free(stack, X509_free); }
using X509StackPtr = std::unique_ptr<STACK_OF(X509), OpenSslDeleter<STACK_OF(X509), FreeX509Stack>>;

constexpr int64_t kDefaultBackdateMs = 5LL * 60 * 1000;
constexpr int64_t kMaxValidityDays = 100LL * 365;

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
  const int64_t days = EffectiveValidityDays(r);
  if (days < 1 || days > kMaxValidityDays) {
    return MakeError(ErrorCode::kInvalidArgument, "validity must be between 1 and " +
                                                      std::to_string(kMaxValidityDays) +
                                                      " days, got " + std::to_string(days));
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
  info.issuer = NameToString(X509_get_issuer_name(cert));
  if (BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)); serial) {
    if (char* hex = BN_bn2hex(serial.get()); hex != nullptr) {
      info.serial_hex = hex;
      OPENSSL_free(hex);
    }
  }
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
      // Either a stranger's certificate or one whose chain left out the
      // issuing CA: both look the same from here, so say both.
      return "not issued by this CA, or the chain omits the issuing CA certificate; subject " +
             subject + ", issuer " +
             (current != nullptr ? NameToString(X509_get_issuer_name(current)) : "?");
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

namespace {

Status CheckCaName(std::string_view common_name) {
  // RFC 5280 bounds a common name at 64 characters, not bytes: a Japanese
  // name may use up to three bytes per character.
  const auto chars = std::count_if(common_name.begin(), common_name.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0u) != 0x80u;
  });
  if (chars == 0 || chars > 64) {
    return MakeError(ErrorCode::kInvalidArgument, "CA name must be 1 to 64 characters");
  }
  return Status::Ok();
}

Status CheckValidityDays(int64_t validity_days) {
  if (validity_days < 1 || validity_days > kMaxValidityDays) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "validity must be between 1 and " + std::to_string(kMaxValidityDays) +
                         " days, got " + std::to_string(validity_days));
  }
  return Status::Ok();
}

bool IsSelfIssued(X509* cert) {
  const bool self = X509_check_issued(cert, cert) == X509_V_OK;
  ERR_clear_error();
  return self;
}

struct LoadedCa {
  std::vector<X509Ptr> certs;  // the CA's certificate first, then anything after it
  EvpPkeyPtr key;
};

// Parses a CA's certificate file and key and checks they belong together.
Result<LoadedCa> LoadCa(const KeyAndCert& ca) {
  Result<std::vector<X509Ptr>> certs = ParseCertChain(ca.cert_pem);
  if (!certs)
    return MakeError(ErrorCode::kInvalidArgument, "CA certificate: " + certs.error().message);
  Result<EvpPkeyPtr> key = ParseKey(ca.key_pem);
  if (!key) return MakeError(ErrorCode::kInvalidArgument, "CA key: " + key.error().message);
  X509* cert = (*certs)[0].get();
  if (EVP_PKEY_eq(key->get(), X509_get0_pubkey(cert)) != 1) {
    ERR_clear_error();
    return MakeError(ErrorCode::kInvalidArgument, "CA key does not match the CA certificate");
  }
  if ((X509_get_extension_flags(cert) & EXFLAG_CA) == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "the CA certificate is not a CA (CA:FALSE)");
  }
  return LoadedCa{std::move(*certs), std::move(*key)};
}

}  // namespace

int64_t EffectiveValidityDays(const IssueRequest& request) {
  if (request.validity_days != 0) return request.validity_days;
  return request.kind == CertKind::kServer ? kDefaultServerCertDays : kDefaultClientCertDays;
}

Result<KeyAndCert> CreateCa(std::string_view common_name, int64_t validity_days,
                            int64_t not_before_ms) {
  if (Status s = CheckCaName(common_name); !s) return s.error();
  if (Status s = CheckValidityDays(validity_days); !s) return s.error();
  ERR_clear_error();
  Result<EvpPkeyPtr> key = GenerateP256Key();
  if (!key) return key.error();
  Result<X509Ptr> cert = NewCert(key->get(), common_name, not_before_ms, validity_days);
  if (!cert) return cert.error();
  X509* c = cert->get();
  if (X509_set_issuer_name(c, X509_get_subject_name(c)) != 1 ||
      // pathlen:1: the root signs issuing CAs, which sign leaves only.
      !AddExtension(c, c, NID_basic_constraints, "critical,CA:TRUE,pathlen:1") ||
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

Result<KeyAndCert> CreateIssuingCa(const KeyAndCert& root, std::string_view common_name,
                                   int64_t validity_days, int64_t not_before_ms) {
  if (Status s = CheckCaName(common_name); !s) return s.error();
  if (Status s = CheckValidityDays(validity_days); !s) return s.error();
  Result<LoadedCa> loaded = LoadCa(root);
  if (!loaded) return loaded.error();
  X509* issuer = loaded->certs[0].get();
  if (!IsSelfIssued(issuer)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the CA certificate is not a self-signed root (subject " +
                         NameToString(X509_get_subject_name(issuer)) +
                         "): issuing CAs are made from the root CA");
  }
  if (X509_get_pathlen(issuer) == 0) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "the root CA was made with pathlen:0 and cannot sign an issuing CA; "
                     "make a new root with 'mamorictl pki init' (this version makes roots "
                     "that can)");
  }

  ERR_clear_error();
  Result<EvpPkeyPtr> key = GenerateP256Key();
  if (!key) return key.error();
  Result<X509Ptr> cert = NewCert(key->get(), common_name, not_before_ms, validity_days);
  if (!cert) return cert.error();
  X509* c = cert->get();
  const int64_t not_after = Asn1TimeToMs(X509_get0_notAfter(c));
  const int64_t root_not_after = Asn1TimeToMs(X509_get0_notAfter(issuer));
  if (not_after > root_not_after) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the issuing CA would outlive the root CA (root expires " +
                         FormatUtc(root_not_after) + ", issuing CA " + FormatUtc(not_after) +
                         "); choose fewer days");
  }
  if (X509_set_issuer_name(c, X509_get_subject_name(issuer)) != 1 ||
      !AddExtension(c, issuer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !AddExtension(c, issuer, NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !AddExtension(c, issuer, NID_subject_key_identifier, "hash") ||
      !AddExtension(c, issuer, NID_authority_key_identifier, "keyid:always") ||
      X509_sign(c, loaded->key.get(), EVP_sha256()) <= 0) {
    return OpenSslError(ErrorCode::kInternal, "cannot create issuing CA certificate");
  }
  Result<std::string> key_pem = KeyToPem(key->get());
  if (!key_pem) return key_pem.error();
  Result<std::string> cert_pem = CertToPem(c);
  if (!cert_pem) return cert_pem.error();
  return KeyAndCert{std::move(*key_pem), std::move(*cert_pem)};
}

Result<KeyAndCert> IssueCertificate(const KeyAndCert& ca, const IssueRequest& request) {
  if (Status s = ValidateRequest(request); !s) return s.error();
  Result<LoadedCa> loaded = LoadCa(ca);
  if (!loaded) return loaded.error();
  X509* issuer = loaded->certs[0].get();

  ERR_clear_error();
  Result<EvpPkeyPtr> key = GenerateP256Key();
  if (!key) return key.error();
  Result<X509Ptr> cert =
      NewCert(key->get(), request.id, request.not_before_ms, EffectiveValidityDays(request));
  if (!cert) return cert.error();
  X509* c = cert->get();
  const char* eku = request.kind == CertKind::kServer ? "serverAuth" : "clientAuth";
  if (X509_set_issuer_name(c, X509_get_subject_name(issuer)) != 1 ||
      !AddExtension(c, issuer, NID_basic_constraints, "critical,CA:FALSE") ||
      // ECDSA keys sign the handshake; keyEncipherment does not apply to EC.
      !AddExtension(c, issuer, NID_key_usage, "critical,digitalSignature") ||
      !AddExtension(c, issuer, NID_ext_key_usage, eku) ||
      !AddExtension(c, issuer, NID_subject_key_identifier, "hash") ||
      !AddExtension(c, issuer, NID_authority_key_identifier, "keyid:always")) {
    return OpenSslError(ErrorCode::kInternal, "cannot build certificate extensions");
  }
  if (Status s = AddSubjectAltNames(c, request); !s) return s.error();
  if (X509_sign(c, loaded->key.get(), EVP_sha256()) <= 0) {
    return OpenSslError(ErrorCode::kInternal, "cannot sign certificate");
  }
  Result<std::string> key_pem = KeyToPem(key->get());
  if (!key_pem) return key_pem.error();
  Result<std::string> cert_pem = CertToPem(c);
  if (!cert_pem) return cert_pem.error();
  // An issuing CA's certificate travels with every leaf it signs: peers
  // trust only the root, and the TLS handshake carries what links the two.
  for (const X509Ptr& ca_cert : loaded->certs) {
    if (IsSelfIssued(ca_cert.get())) break;
    Result<std::string> pem = CertToPem(ca_cert.get());
    if (!pem) return pem.error();
    *cert_pem += *pem;
  }
  return KeyAndCert{std::move(*key_pem), std::move(*cert_pem)};
}

Result<std::string> CreateCrl(const KeyAndCert& issuer, const std::vector<CrlEntry>& entries,
                              int64_t this_update_ms, int64_t next_update_ms, uint64_t crl_number) {
  if (next_update_ms <= this_update_ms) {
    return MakeError(ErrorCode::kInvalidArgument, "CRL next update must follow this update");
  }
  Result<LoadedCa> loaded = LoadCa(issuer);
  if (!loaded) return loaded.error();
  X509* ca_cert = loaded->certs[0].get();
  if ((X509_get_key_usage(ca_cert) & KU_CRL_SIGN) == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "the CA certificate may not sign CRLs (cRLSign)");
  }

  ERR_clear_error();
  X509CrlPtr crl(X509_CRL_new());
  Asn1TimePtr this_update(ASN1_TIME_set(nullptr, FloorDiv(this_update_ms, 1000)));
  Asn1TimePtr next_update(ASN1_TIME_set(nullptr, FloorDiv(next_update_ms, 1000)));
  if (!crl || !this_update || !next_update ||
      X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca_cert)) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), this_update.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) != 1) {
    return OpenSslError(ErrorCode::kInternal, "cannot build CRL");
  }
  for (const CrlEntry& entry : entries) {
    const std::string& hex = entry.serial_hex;
    const bool hex_ok =
        !hex.empty() && hex.size() <= 40 && std::all_of(hex.begin(), hex.end(), [](char c) {
          return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        });
    if (!hex_ok) {
      return MakeError(ErrorCode::kInvalidArgument, "invalid serial \"" + hex.substr(0, 64) +
                                                        "\": expected 1 to 40 hexadecimal digits");
    }
    BIGNUM* raw_bn = nullptr;
    if (BN_hex2bn(&raw_bn, hex.c_str()) == 0) {
      return OpenSslError(ErrorCode::kInternal, "cannot encode serial");
    }
    BignumPtr bn(raw_bn);
    X509RevokedPtr revoked(X509_REVOKED_new());
    Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    Asn1TimePtr when(ASN1_TIME_set(nullptr, FloorDiv(entry.revoked_at_ms, 1000)));
    if (!revoked || !serial || !when ||
        X509_REVOKED_set_serialNumber(revoked.get(), serial.get()) != 1 ||
        X509_REVOKED_set_revocationDate(revoked.get(), when.get()) != 1) {
      return OpenSslError(ErrorCode::kInternal, "cannot build CRL entry");
    }
    // RFC 5280 5.3.1: the reason code is left out rather than "unspecified".
    if (entry.reason != CrlReason::kUnspecified) {
      Asn1EnumeratedPtr reason(ASN1_ENUMERATED_new());
      if (!reason || ASN1_ENUMERATED_set(reason.get(), static_cast<long>(entry.reason)) != 1 ||
          X509_REVOKED_add1_ext_i2d(revoked.get(), NID_crl_reason, reason.get(), 0, 0) != 1) {
        return OpenSslError(ErrorCode::kInternal, "cannot encode CRL reason");
      }
    }
    if (X509_CRL_add0_revoked(crl.get(), revoked.get()) != 1) {
      return OpenSslError(ErrorCode::kInternal, "cannot add CRL entry");
    }
    revoked.release();
  }
  Asn1IntegerPtr number(ASN1_INTEGER_new());
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca_cert, nullptr, nullptr, crl.get(), 0);
  X509ExtensionPtr aki(
      X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  if (!number || ASN1_INTEGER_set_uint64(number.get(), crl_number) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0) != 1 || !aki ||
      X509_CRL_add_ext(crl.get(), aki.get(), -1) != 1 || X509_CRL_sort(crl.get()) != 1 ||
      X509_CRL_sign(crl.get(), loaded->key.get(), EVP_sha256()) <= 0) {
    return OpenSslError(ErrorCode::kInternal, "cannot sign CRL");
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl.get()) != 1) {
    return OpenSslError(ErrorCode::kInternal, "cannot encode CRL");
  }
  return BioToString(bio.get());
}

Result<CertInfo> InspectCertificate(std::string_view pem) {
  Result<X509Ptr> cert = ParseCert(pem);
  if (!cert) return cert.error();
  return Inspect(cert->get());
}

Result<std::vector<CertInfo>> InspectCertificateChain(std::string_view pem) {
  Result<std::vector<X509Ptr>> certs = ParseCertChain(pem);
  if (!certs) return certs.error();
  std::vector<CertInfo> out;
  out.reserve(certs->size());
  for (const X509Ptr& cert : *certs) out.push_back(Inspect(cert.get()));
  return out;
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
