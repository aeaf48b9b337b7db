#pragma once

// The one place leaf certificates are built, shared by IssueCertificate
// (which makes the key) and SignCsr (whose key comes from a request).

#include <openssl/evp.h>

#include <string>

#include "common/base/result.h"
#include "common/crypto/pki.h"

namespace mamori {

// Certifies the public half of `subject_key` for `request` (validated here),
// signed by `issuer`, whose cert_pem starts with the CA certificate. Returns
// the leaf PEM.
Result<std::string> SignLeafCertificate(const KeyAndCert& issuer, EVP_PKEY* subject_key,
                                        const IssueRequest& request);

}  // namespace mamori
