#include "common/crypto/unlock_key.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "common/crypto/openssl_util.h"
#include "common/crypto/pki.h"

namespace mamori {
namespace {

using openssl::EvpPkeyCtxPtr;
using openssl::EvpPkeyPtr;
using X509Ptr = std::unique_ptr<X509, openssl::Deleter<X509, X509_free>>;

constexpr std::string_view kSalt = "mamori-unlock-key-v1";

Error CryptoError(std::string_view what) {
  return MakeError(ErrorCode::kInvalidArgument, std::string(what) + ": " + openssl::DrainErrors());
}

bool IsP256(EVP_PKEY* key) {
  char group[64] = {0};
  size_t len = 0;
  return EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
         EVP_PKEY_get_group_name(key, group, sizeof(group), &len) == 1 &&
         std::string_view(group, len) == "prime256v1";
}

Result<EvpPkeyPtr> ReadPrivate(std::string_view pem) {
  openssl::BioPtr bio = openssl::MemBio(pem);
  if (!bio) return MakeError(ErrorCode::kInvalidArgument, "private key too large");
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, openssl::NoPassphrase, nullptr));
  if (!key) return CryptoError("cannot read the private key");
  if (!IsP256(key.get())) {
    return MakeError(ErrorCode::kInvalidArgument, "the private key is not a P-256 key");
  }
  return key;
}

Result<EvpPkeyPtr> ReadPeer(std::string_view pem) {
  EvpPkeyPtr key;
  if (pem.find("BEGIN CERTIFICATE") != std::string_view::npos) {
    openssl::BioPtr bio = openssl::MemBio(pem);
    if (!bio) return MakeError(ErrorCode::kInvalidArgument, "certificate too large");
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, openssl::NoPassphrase, nullptr));
    if (!cert) return CryptoError("cannot read the certificate");
    key.reset(X509_get_pubkey(cert.get()));
  } else {
    openssl::BioPtr bio = openssl::MemBio(pem);
    if (!bio) return MakeError(ErrorCode::kInvalidArgument, "public key too large");
    key.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, openssl::NoPassphrase, nullptr));
  }
  if (!key) return CryptoError("cannot read the public key");
  if (!IsP256(key.get())) {
    return MakeError(ErrorCode::kInvalidArgument, "the public key is not a P-256 key");
  }
  return key;
}

}  // namespace

Result<std::string> DeploymentIdFromCa(std::string_view ca_pem) {
  Result<CertInfo> info = InspectCertificate(ca_pem);
  if (!info.ok()) return info.error();
  return info->sha256_fingerprint;
}

Result<UnlockKeyPair> CreateUnlockKeyPair() {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return CryptoError("cannot generate a P-256 key");
  openssl::BioPtr priv(BIO_new(BIO_s_mem()));
  openssl::BioPtr pub(BIO_new(BIO_s_mem()));
  if (!priv || !pub ||
      PEM_write_bio_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_PUBKEY(pub.get(), key.get()) != 1) {
    return CryptoError("cannot write the unlock key");
  }
  return UnlockKeyPair{openssl::BioToString(priv.get()), openssl::BioToString(pub.get())};
}

Result<std::string> UnlockPublicKeyPem(std::string_view private_pem) {
  Result<EvpPkeyPtr> key = ReadPrivate(private_pem);
  if (!key.ok()) return key.error();
  openssl::BioPtr pub(BIO_new(BIO_s_mem()));
  if (!pub || PEM_write_bio_PUBKEY(pub.get(), key->get()) != 1) {
    return CryptoError("cannot write the public key");
  }
  return openssl::BioToString(pub.get());
}

Result<std::string> DeriveUnlockKey(std::string_view own_private_pem, std::string_view peer_pem,
                                    std::string_view deployment_id, std::string_view terminal_id) {
  Result<EvpPkeyPtr> own = ReadPrivate(own_private_pem);
  if (!own.ok()) return own.error();
  Result<EvpPkeyPtr> peer = ReadPeer(peer_pem);
  if (!peer.ok()) return peer.error();

  EvpPkeyCtxPtr dh(EVP_PKEY_CTX_new(own->get(), nullptr));
  size_t secret_len = 0;
  if (!dh || EVP_PKEY_derive_init(dh.get()) != 1 ||
      EVP_PKEY_derive_set_peer(dh.get(), peer->get()) != 1 ||
      EVP_PKEY_derive(dh.get(), nullptr, &secret_len) != 1) {
    return CryptoError("ECDH failed");
  }
  std::string secret(secret_len, '\0');
  if (EVP_PKEY_derive(dh.get(), reinterpret_cast<unsigned char*>(secret.data()), &secret_len) !=
      1) {
    return CryptoError("ECDH failed");
  }
  secret.resize(secret_len);

  std::string info(deployment_id);
  info.push_back('\0');
  info.append(terminal_id);
  EvpPkeyCtxPtr kdf(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  std::string out(32, '\0');
  size_t out_len = out.size();
  if (!kdf || EVP_PKEY_derive_init(kdf.get()) != 1 ||
      EVP_PKEY_CTX_set_hkdf_md(kdf.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_salt(kdf.get(), reinterpret_cast<const unsigned char*>(kSalt.data()),
                                  static_cast<int>(kSalt.size())) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(kdf.get(), reinterpret_cast<const unsigned char*>(secret.data()),
                                 static_cast<int>(secret.size())) != 1 ||
      EVP_PKEY_CTX_add1_hkdf_info(kdf.get(), reinterpret_cast<const unsigned char*>(info.data()),
                                  static_cast<int>(info.size())) != 1 ||
      EVP_PKEY_derive(kdf.get(), reinterpret_cast<unsigned char*>(out.data()), &out_len) != 1) {
    OPENSSL_cleanse(secret.data(), secret.size());
    return CryptoError("HKDF failed");
  }
  OPENSSL_cleanse(secret.data(), secret.size());
  return out;
}

}  // namespace mamori
