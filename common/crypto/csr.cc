#include "common/crypto/csr.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <utility>
#include <vector>

#include "common/base/hex.h"
#include "common/crypto/leaf_signing.h"
#include "common/crypto/openssl_util.h"

namespace mamori {
namespace {

using openssl::BioPtr;
using openssl::BioToString;
using openssl::Deleter;
using openssl::EvpPkeyCtxPtr;
using openssl::EvpPkeyPtr;
using openssl::MemBio;
using openssl::NoPassphrase;

using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

void FreeOpenSslString(char* s) { OPENSSL_free(s); }
using OpenSslStringPtr = std::unique_ptr<char, Deleter<char, FreeOpenSslString>>;

Error OpenSslError(ErrorCode code, std::string_view what) {
  return MakeError(code, std::string(what) + ": " + openssl::DrainErrors());
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

// The DER SubjectPublicKeyInfo of `key`.
Result<std::string> PublicKeyDer(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key, &der);
  if (len <= 0) return OpenSslError(ErrorCode::kInternal, "cannot encode public key");
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

Result<std::string> Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &md_len, EVP_sha256(), nullptr) != 1) {
    return OpenSslError(ErrorCode::kInternal, "cannot hash");
  }
  return HexEncode(std::string_view(reinterpret_cast<const char*>(md), md_len));
}

// The key's curve name ("P-256", "P-384", ...) or its type when it is not EC.
std::string DescribeKey(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &len) == 1) {
      const int nid = OBJ_txt2nid(group);
      const char* nist = nid != NID_undef ? EC_curve_nid2nist(nid) : nullptr;
      return std::string("EC ") + (nist != nullptr ? nist : group);
    }
    return "EC (unnamed curve)";
  }
  const char* type = EVP_PKEY_get0_type_name(key);
  return type != nullptr ? type : "unknown key type";
}

bool IsP256(EVP_PKEY* key) {
  if (!EVP_PKEY_is_a(key, "EC")) return false;
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &len) !=
      1) {
    return false;
  }
  return OBJ_txt2nid(group) == NID_X9_62_prime256v1;
}

Result<X509ReqPtr> ReadCsr(std::string_view csr_pem) {
  if (csr_pem.size() > kMaxCsrPemBytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "CSR too large: " + std::to_string(csr_pem.size()) + " bytes, at most " +
                         std::to_string(kMaxCsrPemBytes));
  }
  if (csr_pem.find("-----BEGIN CERTIFICATE REQUEST-----") == std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "no PEM certificate request found (expected -----BEGIN CERTIFICATE "
                     "REQUEST-----)");
  }
  ERR_clear_error();
  BioPtr bio = MemBio(csr_pem);
  if (!bio) return MakeError(ErrorCode::kInvalidArgument, "CSR too large");
  X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!req) {
    ERR_clear_error();
    return MakeError(ErrorCode::kInvalidArgument, "CSR is not a readable PKCS#10 request");
  }
  return req;
}

// The CSR's public key after checking the request is self-signed by it and
// the key is P-256. Borrowed from `req`.
Result<EVP_PKEY*> CheckedCsrKey(X509_REQ* req) {
  EVP_PKEY* key = X509_REQ_get0_pubkey(req);
  if (key == nullptr) {
    ERR_clear_error();
    return MakeError(ErrorCode::kInvalidArgument, "CSR has no readable public key");
  }
  if (!IsP256(key)) {
    ERR_clear_error();
    return MakeError(ErrorCode::kInvalidArgument,
                     "CSR key is " + DescribeKey(key) + "; only EC P-256 keys are accepted");
  }
  if (X509_REQ_verify(req, key) != 1) {
    ERR_clear_error();
    return MakeError(ErrorCode::kInvalidArgument,
                     "CSR signature does not verify with its own public key");
  }
  return key;
}

std::string CommonNameOf(X509_REQ* req) {
  const X509_NAME* name = X509_REQ_get_subject_name(req);
  const int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return {};
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) {
    ERR_clear_error();
    return {};
  }
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

Result<std::vector<X509Ptr>> ReadCerts(std::string_view pem) {
  ERR_clear_error();
  BioPtr bio = MemBio(pem);
  if (!bio) return MakeError(ErrorCode::kInvalidArgument, "certificate data too large");
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr)) {
    certs.emplace_back(cert);
  }
  ERR_clear_error();
  if (certs.empty()) return MakeError(ErrorCode::kInvalidArgument, "no PEM certificate found");
  return certs;
}

Result<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslError(ErrorCode::kInternal, "cannot encode certificate");
  }
  return BioToString(bio.get());
}

bool IsSelfSigned(X509* cert) {
  const bool self = X509_check_issued(cert, cert) == X509_V_OK;
  ERR_clear_error();
  return self;
}

std::string SerialHex(X509* cert) {
  BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!bn) {
    ERR_clear_error();
    return {};
  }
  OpenSslStringPtr hex(BN_bn2hex(bn.get()));
  if (!hex) return {};
  std::string out(hex.get());
  for (char& c : out) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

Result<KeyAndCsr> MakeKeyAndCsr(std::string_view common_name) {
  if (common_name.empty() || common_name.size() > 64) {
    return MakeError(ErrorCode::kInvalidArgument, "CSR common name must be 1 to 64 bytes");
  }
  ERR_clear_error();
  Result<EvpPkeyPtr> key = GenerateP256Key();
  if (!key) return key.error();
  X509ReqPtr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1) {
    return OpenSslError(ErrorCode::kInternal, "cannot build CSR");
  }
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  const auto* cn = reinterpret_cast<const unsigned char*>(common_name.data());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, cn,
                                 static_cast<int>(common_name.size()), -1, 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), key->get()) != 1 ||
      X509_REQ_sign(req.get(), key->get(), EVP_sha256()) <= 0) {
    return OpenSslError(ErrorCode::kInternal, "cannot build CSR");
  }
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  BioPtr csr_bio(BIO_new(BIO_s_mem()));
  if (!key_bio || !csr_bio ||
      PEM_write_bio_PrivateKey(key_bio.get(), key->get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1 ||
      PEM_write_bio_X509_REQ(csr_bio.get(), req.get()) != 1) {
    return OpenSslError(ErrorCode::kInternal, "cannot encode key or CSR");
  }
  return KeyAndCsr{BioToString(key_bio.get()), BioToString(csr_bio.get())};
}

Result<CsrInfo> ParseCsr(std::string_view csr_pem) {
  Result<X509ReqPtr> req = ReadCsr(csr_pem);
  if (!req) return req.error();
  Result<EVP_PKEY*> key = CheckedCsrKey(req->get());
  if (!key) return key.error();
  Result<std::string> der = PublicKeyDer(*key);
  if (!der) return der.error();
  Result<std::string> sha = Sha256Hex(*der);
  if (!sha) return sha.error();
  return CsrInfo{std::move(*der), std::move(*sha), CommonNameOf(req->get())};
}

Result<SignedCertificate> SignCsr(const KeyAndCert& issuer, std::string_view csr_pem,
                                  const IssueRequest& request) {
  Result<X509ReqPtr> req = ReadCsr(csr_pem);
  if (!req) return req.error();
  Result<EVP_PKEY*> key = CheckedCsrKey(req->get());
  if (!key) return key.error();
  Result<std::string> leaf_pem = SignLeafCertificate(issuer, *key, request);
  if (!leaf_pem) return leaf_pem.error();

  Result<std::vector<X509Ptr>> leaf = ReadCerts(*leaf_pem);
  if (!leaf) return leaf.error();
  Result<std::vector<X509Ptr>> issuer_chain = ReadCerts(issuer.cert_pem);
  if (!issuer_chain) return issuer_chain.error();

  SignedCertificate out;
  for (const X509Ptr& cert : *issuer_chain) {
    if (IsSelfSigned(cert.get())) continue;  // the root: the relying party holds it already
    Result<std::string> pem = CertToPem(cert.get());
    if (!pem) return pem.error();
    out.chain_pem += *pem;
  }
  Result<CertInfo> info = InspectCertificate(*leaf_pem);
  if (!info) return info.error();
  Result<std::string> der = PublicKeyDer(*key);
  if (!der) return der.error();
  Result<std::string> key_sha = Sha256Hex(*der);
  if (!key_sha) return key_sha.error();
  out.serial_hex = SerialHex(leaf->front().get());
  out.sha256_fingerprint = info->sha256_fingerprint;
  out.public_key_sha256 = std::move(*key_sha);
  out.not_before_ms = info->not_before_ms;
  out.not_after_ms = info->not_after_ms;
  out.cert_pem = std::move(*leaf_pem);
  return out;
}

Result<std::string> CertificatePublicKeySha256(std::string_view cert_pem) {
  Result<std::vector<X509Ptr>> certs = ReadCerts(cert_pem);
  if (!certs) return certs.error();
  EVP_PKEY* key = X509_get0_pubkey(certs->front().get());
  if (key == nullptr) {
    ERR_clear_error();
    return MakeError(ErrorCode::kInvalidArgument, "certificate has no readable public key");
  }
  Result<std::string> der = PublicKeyDer(key);
  if (!der) return der.error();
  return Sha256Hex(*der);
}

}  // namespace mamori
