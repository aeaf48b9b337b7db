#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/policy/policy_bundle.h"

// OpenSSL's EVP_PKEY, declared here so this header does not pull in OpenSSL.
struct evp_pkey_st;

namespace mamori {

// Policy bundles are signed with the collector's Ed25519 policy key; agents
// pin the public key. The signature covers exactly these bytes (format v1):
//
//   "mamori-policy-bundle-v1" followed by one NUL byte   (24 bytes)
//   version                         unsigned 64-bit, big-endian
//   length of group in bytes        unsigned 64-bit, big-endian
//   group                           the bytes as sent (UTF-8)
//   length of policy_yaml in bytes  unsigned 64-bit, big-endian
//   policy_yaml                     the bytes as sent
//
// The domain string keeps a signature over a bundle from ever verifying as
// anything else made with the same key; the lengths make the encoding
// unambiguous (no group/yaml split can produce the same bytes). applied_at,
// applied_by and key_id are informational and not signed.
inline constexpr std::string_view kPolicySignatureDomain = "mamori-policy-bundle-v1";

std::string PolicySigningPayload(const PolicyBundle& bundle);

// An Ed25519 signature (64 bytes, raw) and the id of the key that made it.
struct PolicySignature {
  std::string signature;
  std::string key_id;
};

// The pinned public half. Copies share the immutable key; thread-safe.
class PolicyPublicKey {
 public:
  // SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY") of an Ed25519 key.
  static Result<PolicyPublicKey> FromPem(std::string_view pem);
  // As FromPem; errors name the file.
  static Result<PolicyPublicKey> LoadFile(const std::string& path);

  // First 16 hex digits of the SHA-256 of the raw 32-byte public key.
  const std::string& key_id() const { return key_id_; }
  Result<std::string> ToPem() const;

  // Ok when the bundle's signature is this key's signature over its signed
  // fields and its key_id names this key. The error (kUnauthenticated) says
  // which: unsigned, signed by another key, or a signature that does not
  // verify.
  Status Verify(const PolicyBundle& bundle) const;

 private:
  PolicyPublicKey(std::shared_ptr<evp_pkey_st> key, std::string key_id)
      : key_(std::move(key)), key_id_(std::move(key_id)) {}
  friend class PolicySigningKey;

  std::shared_ptr<evp_pkey_st> key_;
  std::string key_id_;
};

// The collector's private policy key. Copies share the immutable key;
// thread-safe.
class PolicySigningKey {
 public:
  static Result<PolicySigningKey> Generate();
  // PKCS#8 PEM ("BEGIN PRIVATE KEY"), unencrypted, of an Ed25519 key.
  static Result<PolicySigningKey> FromPem(std::string_view pem);
  // As FromPem; errors name the file.
  static Result<PolicySigningKey> LoadFile(const std::string& path);

  const std::string& key_id() const { return public_key_.key_id(); }
  const PolicyPublicKey& public_key() const { return public_key_; }
  Result<std::string> PrivateKeyPem() const;

  // The signature over the bundle's signed fields (its own signature and
  // key_id are ignored).
  Result<PolicySignature> Sign(const PolicyBundle& bundle) const;

 private:
  PolicySigningKey(std::shared_ptr<evp_pkey_st> key, PolicyPublicKey public_key)
      : key_(std::move(key)), public_key_(std::move(public_key)) {}

  std::shared_ptr<evp_pkey_st> key_;
  PolicyPublicKey public_key_;
};

}  // namespace mamori
