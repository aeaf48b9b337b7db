#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/crypto/pki.h"

namespace mamori::testing {

// What a hand-made certificate looks like. The defaults give a well-formed
// terminal certificate (EC P-256, SHA-256, clientAuth, identity and group
// URIs); each test changes the one thing it wants wrong.
struct CertSpec {
  std::string key_type = "EC";    // "EC", "RSA", "ED25519"
  std::string curve = "P-256";    // EC only: any OpenSSL group name
  int rsa_bits = 2048;            // RSA only
  std::string digest = "SHA256";  // signature digest: "SHA256", "SHA1", "MD5"
  bool is_ca = false;             // basicConstraints CA:TRUE (and keyCertSign)
  // extendedKeyUsage values ("clientAuth", "serverAuth"); empty leaves the
  // extension out altogether.
  std::vector<std::string> eku = {"clientAuth"};
  std::vector<std::string> uris = {"mamori://terminal/t-1", "mamori://group/osaka"};
  std::string common_name = "t-1";
  int64_t days = 30;
};

// Makes any certificate, well-formed or not, with a fresh key: signed by
// `issuer`, or self-signed when `issuer` is null. Throws std::runtime_error
// when OpenSSL refuses.
KeyAndCert MakeCustomCert(const CertSpec& spec, const KeyAndCert* issuer);

}  // namespace mamori::testing
