#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/crypto/pki.h"
#include "tests/support/temp_dir.h"

namespace mamori::testing {

// Paths of a policy signing key pair (mamorictl pki policy-key).
struct PolicyKeyPaths {
  std::string key;  // private, the collector's policy.signing_key_file
  std::string pub;  // public, every agent's policy.public_key_file
};

// Paths of one party's TLS files, as a component's config takes them.
struct TlsPaths {
  std::string ca;    // trust anchor: always the test CA (ca.pem)
  std::string cert;  // own certificate, PEM
  std::string key;   // own private key, PEM, mode 0600
};

// A throwaway PKI in its own TempDir, for tests and benchmarks that run real
// TLS. The constructor writes:
//   ca.pem / ca.key          the test CA (ECDSA P-256, like production)
//   server.pem / server.key  collector "collector": DNS localhost,
//                            IP 127.0.0.1 and ::1 (connect to either)
//   admin.pem / admin.key    admin "admin"
//   policy-signing.key/.pub  the collector's Ed25519 policy key pair
// and the Issue* functions add more, each returning its {ca, cert, key}
// paths. Typical use:
//
//   TestPki pki;
//   StartCollector(pki.Server());                     // ca/cert/key
//   TlsPaths agent = pki.IssueTerminal("t-001", "osaka/suita");
//   TlsPaths admin = pki.Admin();
//
// Every certificate is valid from 5 minutes ago for 30 days unless stated.
// Failures throw std::runtime_error (see TempDir). Not thread-safe: create
// certificates before starting threads.
class TestPki {
 public:
  // Server name to dial or override to: the server certificate's DNS SAN.
  static constexpr std::string_view kServerName = "localhost";
  static constexpr std::string_view kServerId = "collector";
  static constexpr std::string_view kAdminName = "admin";

  TestPki();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  // The directory holding every file; removed with the TestPki.
  const std::string& dir() const { return dir_.path(); }
  const std::string& ca_file() const { return ca_file_; }
  // The CA's PEM key and certificate, to issue custom certificates with
  // mamori::IssueCertificate.
  const KeyAndCert& ca() const { return ca_; }

  TlsPaths Server() const;  // server.pem / server.key
  TlsPaths Admin() const;   // admin.pem / admin.key
  // policy-signing.key / policy-signing.pub: what collectors sign with and
  // agents pin, unless a test says otherwise.
  PolicyKeyPaths PolicyKey() const;
  // <name>.key / <name>.pub: another Ed25519 policy key pair.
  PolicyKeyPaths IssuePolicyKey(std::string_view name);

  // terminal-<id>.pem/.key: URI SANs mamori://terminal/<id> and, when
  // `group` is not empty, mamori://group/<group>.
  TlsPaths IssueTerminal(std::string_view id, std::string_view group = "");
  // admin-<name>.pem/.key: URI SAN mamori://admin/<name>.
  TlsPaths IssueAdmin(std::string_view name);
  // expired-terminal-<id>.pem/.key: a terminal certificate from this CA that
  // expired a day ago (valid for one day, ten days ago).
  TlsPaths IssueExpiredTerminal(std::string_view id);
  // foreign-terminal-<id>.pem/.key: a well-formed terminal certificate
  // signed by an unrelated CA (written as other-ca.pem). `ca` still points at
  // the test CA, so the holder trusts the collector but is not trusted by it.
  TlsPaths IssueFromOtherCa(std::string_view id);

  // Issues any certificate with this CA and writes <name>.pem/.key.
  TlsPaths Issue(std::string_view name, const IssueRequest& request);

  // The test CA's issuing CA ("Mamori Test Issuing CA", made on first use
  // and written as issuing-ca.pem/.key).
  const KeyAndCert& IssuingCa();
  // Issues with the issuing CA: <name>.pem holds the leaf followed by the
  // issuing CA's certificate, as `mamorictl pki issue --issuer` writes it.
  TlsPaths IssueViaIssuingCa(std::string_view name, const IssueRequest& request);
  // Issues with the issuing CA of an unrelated root (other-root.pem): a
  // well-formed chain that leads nowhere the collector trusts.
  TlsPaths IssueViaForeignIssuingCa(std::string_view name, const IssueRequest& request);
  // A terminal request with the test lifetime (for the Issue* functions).
  static IssueRequest TerminalRequest(std::string_view id, std::string_view group);

 private:
  TlsPaths Write(std::string_view name, const KeyAndCert& material) const;

  TempDir dir_;
  KeyAndCert ca_;
  std::string ca_file_;
  std::unique_ptr<KeyAndCert> other_ca_;  // created on first IssueFromOtherCa
  std::unique_ptr<KeyAndCert> issuing_ca_;
  std::unique_ptr<KeyAndCert> foreign_issuing_ca_;
};

}  // namespace mamori::testing
