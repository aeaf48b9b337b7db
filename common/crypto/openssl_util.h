#pragma once

// Small OpenSSL helpers shared by the PKI and policy-signing code: owning
// pointers for OpenSSL objects, memory BIOs, and error-queue draining.

#include <openssl/bio.h>
#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

namespace mamori::openssl {

template <typename T, void (*kFree)(T*)>
struct Deleter {
  void operator()(T* p) const { kFree(p); }
};

using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;

// Drains OpenSSL's thread-local error queue so a stale entry never leaks into
// the message of a later, unrelated failure. Never empty.
std::string DrainErrors();

// A read-only BIO over `data` (which must outlive it); null when too large.
BioPtr MemBio(std::string_view data);

// Everything pending in a memory BIO.
std::string BioToString(BIO* bio);

// A pem_password_cb that refuses to prompt on the terminal for a passphrase
// (OpenSSL's default); encrypted keys are then reported as unreadable.
int NoPassphrase(char* buf, int size, int rwflag, void* userdata);

}  // namespace mamori::openssl
