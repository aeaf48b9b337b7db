#include "tests/support/custom_cert.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>

#include "common/crypto/openssl_util.h"

namespace mamori::testing {
namespace {

using openssl::BioPtr;
using openssl::Deleter;
using openssl::EvpPkeyCtxPtr;
using openssl::EvpPkeyPtr;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error(what + ": " + openssl::DrainErrors());
}

EvpPkeyPtr NewKey(const CertSpec& spec) {
  EVP_PKEY* raw = nullptr;
  if (spec.key_type == "EC") {
    raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", spec.curve.c_str());
  } else if (spec.key_type == "RSA") {
    raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(spec.rsa_bits));
  } else {
    raw = EVP_PKEY_Q_keygen(nullptr, nullptr, spec.key_type.c_str());
  }
  if (raw == nullptr) Fail("generate " + spec.key_type + " key");
  return EvpPkeyPtr(raw);
}

X509Ptr ReadCert(const std::string& pem) {
  BioPtr bio = openssl::MemBio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) Fail("read issuer certificate");
  return cert;
}

EvpPkeyPtr ReadKey(const std::string& pem) {
  BioPtr bio = openssl::MemBio(pem);
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) Fail("read issuer key");
  return key;
}

void AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) Fail("add extension " + value);
}

}  // namespace

KeyAndCert MakeCustomCert(const CertSpec& spec, const KeyAndCert* issuer) {
  EvpPkeyPtr key = NewKey(spec);
  X509Ptr issuer_cert = issuer ? ReadCert(issuer->cert_pem) : nullptr;
  EvpPkeyPtr issuer_key = issuer ? ReadKey(issuer->key_pem) : nullptr;

  X509Ptr cert(X509_new());
  unsigned char serial[16];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;
  std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>> bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.days * 86400) == nullptr ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(spec.common_name.c_str()),
                                 -1, -1, 0) != 1 ||
      X509_set_pubkey(cert.get(), key.get()) != 1 ||
      X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer_cert.get()) : name) !=
          1) {
    Fail("build certificate");
  }
  X509* signer_cert = issuer ? issuer_cert.get() : cert.get();
  if (spec.is_ca) {
    AddExt(cert.get(), signer_cert, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(cert.get(), signer_cert, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  } else {
    AddExt(cert.get(), signer_cert, NID_basic_constraints, "critical,CA:FALSE");
    AddExt(cert.get(), signer_cert, NID_key_usage, "critical,digitalSignature,keyEncipherment");
  }
  if (!spec.eku.empty()) {
    std::string eku;
    for (const std::string& e : spec.eku) eku += (eku.empty() ? "" : ",") + e;
    AddExt(cert.get(), signer_cert, NID_ext_key_usage, eku);
  }
  AddExt(cert.get(), signer_cert, NID_subject_key_identifier, "hash");
  AddExt(cert.get(), signer_cert, NID_authority_key_identifier, "keyid:always");
  if (!spec.uris.empty()) {
    std::string san;
    for (const std::string& u : spec.uris) san += (san.empty() ? "URI:" : ",URI:") + u;
    AddExt(cert.get(), signer_cert, NID_subject_alt_name, san);
  }
  EVP_PKEY* signer = issuer ? issuer_key.get() : key.get();
  const EVP_MD* md = EVP_get_digestbyname(spec.digest.c_str());
  if (EVP_PKEY_is_a(signer, "ED25519")) md = nullptr;
  if (X509_sign(cert.get(), signer, md) <= 0) Fail("sign certificate with " + spec.digest);

  KeyAndCert out;
  BioPtr kb(BIO_new(BIO_s_mem()));
  BioPtr cb(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_X509(cb.get(), cert.get()) != 1) {
    Fail("encode certificate");
  }
  out.key_pem = openssl::BioToString(kb.get());
  out.cert_pem = openssl::BioToString(cb.get());
  ERR_clear_error();
  return out;
}

}  // namespace mamori::testing
