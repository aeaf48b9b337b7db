#include "common/policy/policy_signing.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <array>
#include <climits>
#include <utility>

#include "common/base/hex.h"
#include "common/crypto/credentials.h"
#include "common/crypto/openssl_util.h"

namespace mamori {
namespace {

using openssl::BioPtr;
using openssl::BioToString;
using openssl::EvpMdCtxPtr;
using openssl::EvpPkeyCtxPtr;
using openssl::EvpPkeyPtr;
using openssl::MemBio;
using openssl::NoPassphrase;

constexpr std::size_t kEd25519KeyBytes = 32;
constexpr std::size_t kEd25519SignatureBytes = 64;
constexpr std::size_t kKeyIdHexDigits = 16;

Error OpenSslError(std::string_view what) {
  return MakeError(ErrorCode::kInternal, std::string(what) + ": " + openssl::DrainErrors());
}

std::shared_ptr<evp_pkey_st> Share(EvpPkeyPtr key) {
  return std::shared_ptr<evp_pkey_st>(key.release(), EVP_PKEY_free);
}

Status CheckEd25519(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "ED25519") == 1) return Status::Ok();
  const char* type = EVP_PKEY_get0_type_name(key);
  return MakeError(ErrorCode::kInvalidArgument, std::string("not an Ed25519 key (found ") +
                                                    (type ? type : "unknown type") +
                                                    "); make one with 'mamorictl pki policy-key'");
}

Result<std::string> RawPublicKey(EVP_PKEY* key) {
  std::array<unsigned char, kEd25519KeyBytes> raw{};
  std::size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, raw.data(), &len) != 1 || len != raw.size()) {
    return OpenSslError("cannot read the Ed25519 public key");
  }
  return std::string(reinterpret_cast<const char*>(raw.data()), len);
}

Result<std::string> KeyIdOf(EVP_PKEY* key) {
  Result<std::string> raw = RawPublicKey(key);
  if (!raw) return raw.error();
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  if (EVP_Digest(raw->data(), raw->size(), md.data(), &md_len, EVP_sha256(), nullptr) != 1) {
    return OpenSslError("cannot hash the public key");
  }
  return HexEncode(std::string_view(reinterpret_cast<const char*>(md.data()), md_len))
      .substr(0, kKeyIdHexDigits);
}

Error InFile(const std::string& path, const Error& e) {
  return MakeError(e.code, path + ": " + e.message);
}

void PutU64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out += static_cast<char>((v >> shift) & 0xff);
  }
}

}  // namespace

std::string PolicySigningPayload(const PolicyBundle& bundle) {
  const std::string_view group = bundle.group;
  const std::string_view policy_yaml = bundle.policy_yaml;
  std::string out;
  out.reserve(kPolicySignatureDomain.size() + 1 + 24 + group.size() + policy_yaml.size());
  out += kPolicySignatureDomain;
  out += '\0';
  PutU64(out, bundle.version);
  PutU64(out, group.size());
  out += group;
  PutU64(out, policy_yaml.size());
  out += policy_yaml;
  return out;
}

Result<PolicyPublicKey> PolicyPublicKey::FromPem(std::string_view pem) {
  ERR_clear_error();
  if (pem.find("PRIVATE KEY-----") != std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "holds a private key; agents need the public key (policy-signing.pub), "
                     "and the private key must stay on the collector");
  }
  BioPtr bio = MemBio(pem);
  if (!bio) return MakeError(ErrorCode::kInvalidArgument, "key data too large");
  EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!key) {
    ERR_clear_error();
    return MakeError(ErrorCode::kInvalidArgument, "no PEM public key found (BEGIN PUBLIC KEY)");
  }
  if (Status s = CheckEd25519(key.get()); !s) return s.error();
  Result<std::string> id = KeyIdOf(key.get());
  if (!id) return id.error();
  return PolicyPublicKey(Share(std::move(key)), std::move(*id));
}

Result<PolicyPublicKey> PolicyPublicKey::LoadFile(const std::string& path) {
  Result<std::string> pem = ReadFileToString(path);
  if (!pem) return pem.error();
  Result<PolicyPublicKey> key = FromPem(*pem);
  if (!key) return InFile(path, key.error());
  return key;
}

Result<std::string> PolicyPublicKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) {
    return OpenSslError("cannot encode the public key");
  }
  return BioToString(bio.get());
}

Status PolicyPublicKey::Verify(const PolicyBundle& bundle) const {
  const std::string_view signature = bundle.signature;
  const std::string_view key_id = bundle.key_id;
  if (signature.empty()) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "unsigned (no signature; the pinned policy key is " + key_id_ + ")");
  }
  if (key_id != key_id_) {
    return MakeError(ErrorCode::kUnauthenticated, "signed with key '" +
                                                      std::string(key_id.substr(0, 64)) +
                                                      "', not the pinned policy key " + key_id_);
  }
  if (signature.size() != kEd25519SignatureBytes) {
    return MakeError(
        ErrorCode::kUnauthenticated,
        "malformed signature (" + std::to_string(signature.size()) + " bytes, Ed25519 has 64)");
  }
  const std::string payload = PolicySigningPayload(bundle);
  ERR_clear_error();
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  // Ed25519 hashes internally: no digest is given (NULL md).
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1) {
    return OpenSslError("cannot set up signature verification");
  }
  const int rc = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
      reinterpret_cast<const unsigned char*>(payload.data()), payload.size());
  ERR_clear_error();
  if (rc != 1) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "signature does not verify with the pinned policy key " + key_id_ +
                         " (bundle altered or forged)");
  }
  return Status::Ok();
}

namespace {

Result<PolicyPublicKey> PublicFromAny(EVP_PKEY* key) {
  Result<std::string> raw = RawPublicKey(key);
  if (!raw) return raw.error();
  EvpPkeyPtr pub(EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr,
                                                reinterpret_cast<const unsigned char*>(raw->data()),
                                                raw->size()));
  if (!pub) return OpenSslError("cannot derive the public key");
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pub.get()) != 1) {
    return OpenSslError("cannot encode the public key");
  }
  return PolicyPublicKey::FromPem(BioToString(bio.get()));
}

}  // namespace

Result<PolicySigningKey> PolicySigningKey::Generate() {
  ERR_clear_error();
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "ED25519", nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0) {
    return OpenSslError("cannot set up Ed25519 key generation");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &raw) <= 0) return OpenSslError("cannot generate Ed25519 key");
  EvpPkeyPtr key(raw);
  Result<PolicyPublicKey> pub = PublicFromAny(key.get());
  if (!pub) return pub.error();
  return PolicySigningKey(Share(std::move(key)), std::move(*pub));
}

Result<PolicySigningKey> PolicySigningKey::FromPem(std::string_view pem) {
  ERR_clear_error();
  BioPtr bio = MemBio(pem);
  if (!bio) return MakeError(ErrorCode::kInvalidArgument, "key data too large");
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!key) {
    ERR_clear_error();
    return MakeError(ErrorCode::kInvalidArgument,
                     "no unencrypted PEM private key found (BEGIN PRIVATE KEY)");
  }
  if (Status s = CheckEd25519(key.get()); !s) return s.error();
  Result<PolicyPublicKey> pub = PublicFromAny(key.get());
  if (!pub) return pub.error();
  return PolicySigningKey(Share(std::move(key)), std::move(*pub));
}

Result<PolicySigningKey> PolicySigningKey::LoadFile(const std::string& path) {
  Result<std::string> pem = ReadFileToString(path);
  if (!pem) return pem.error();
  Result<PolicySigningKey> key = FromPem(*pem);
  if (!key) return InFile(path, key.error());
  return key;
}

Result<std::string> PolicySigningKey::PrivateKeyPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("cannot encode the private key");
  }
  return BioToString(bio.get());
}

Result<PolicySignature> PolicySigningKey::Sign(const PolicyBundle& bundle) const {
  const std::string payload = PolicySigningPayload(bundle);
  ERR_clear_error();
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1) {
    return OpenSslError("cannot set up policy signing");
  }
  std::array<unsigned char, kEd25519SignatureBytes> sig{};
  std::size_t len = sig.size();
  if (EVP_DigestSign(ctx.get(), sig.data(), &len,
                     reinterpret_cast<const unsigned char*>(payload.data()), payload.size()) != 1) {
    return OpenSslError("cannot sign the policy bundle");
  }
  return PolicySignature{std::string(reinterpret_cast<const char*>(sig.data()), len), key_id()};
}

}  // namespace mamori
