#pragma once

#include <string>

#include "common/base/file_io.h"
#include "common/base/result.h"
#include "common/crypto/pki.h"

namespace mamori {

// Paths of a component's TLS material, from its config file.
struct TlsFiles {
  std::string ca_file;    // trust anchor (the deployment's CA)
  std::string cert_file;  // own certificate
  std::string key_file;   // own private key (PEM, unencrypted)
};

struct TlsMaterial {
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
  CertInfo cert;  // parsed own certificate
};

// Reads and checks the files: each readable and PEM, the key matching the
// certificate, the certificate currently valid and issued by the CA. Errors
// name the file and the problem ("tls.key_file /etc/m/key.pem: does not
// match certificate /etc/m/cert.pem").
Result<TlsMaterial> LoadTlsMaterial(const TlsFiles& files, int64_t now_ms);

}  // namespace mamori
