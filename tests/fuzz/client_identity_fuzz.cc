// libFuzzer target: CheckClientIdentity over any DER a client could present
// (armoured as PEM, as gRPC hands it over) refuses with a reason or accepts
// an identity that is itself valid; it never crashes.
#include <openssl/evp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/crypto/client_identity.h"
#include "common/crypto/identity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;
  std::vector<unsigned char> b64(4 * ((size + 2) / 3) + 1);
  const int n = EVP_EncodeBlock(b64.data(), data, static_cast<int>(size));
  std::string pem = "-----BEGIN CERTIFICATE-----\n";
  for (int i = 0; i < n; i += 64) {
    pem.append(reinterpret_cast<const char*>(b64.data()) + i,
               static_cast<size_t>(std::min(64, n - i)));
    pem += '\n';
  }
  pem += "-----END CERTIFICATE-----\n";
  const mamori::Result<mamori::ClientIdentity> r = mamori::CheckClientIdentity(pem);
  if (!r.ok()) {
    if (r.error().message.empty()) __builtin_trap();  // refusals say why
    return 0;
  }
  if (!mamori::IsValidId(r->identity.id)) __builtin_trap();
  const bool terminal = r->identity.role == mamori::PeerRole::kTerminal;
  if (terminal != !r->group.empty()) __builtin_trap();
  if (terminal && !mamori::IsValidGroup(r->group)) __builtin_trap();
  if (r->cert_sha256.size() != 64) __builtin_trap();
  return 0;
}
