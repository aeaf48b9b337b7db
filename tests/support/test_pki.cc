#include "tests/support/test_pki.h"

#include <chrono>
#include <stdexcept>
#include <utility>

#include "common/policy/policy_signing.h"

namespace mamori::testing {
namespace {

constexpr int64_t kDayMs = 24LL * 60 * 60 * 1000;
constexpr int64_t kTestValidityDays = 30;

template <typename T>
T Unwrap(Result<T> result, std::string_view what) {
  if (!result) throw std::runtime_error(std::string(what) + ": " + result.error().message);
  return std::move(result).value();
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

IssueRequest Request(CertKind kind, std::string_view id) {
  IssueRequest r;
  r.kind = kind;
  r.id = std::string(id);
  r.validity_days = kTestValidityDays;
  return r;
}

}  // namespace

TestPki::TestPki() {
  ca_ = Unwrap(CreateCa("Mamori Test CA", 3650), "create test CA");
  ca_file_ = dir_.Write("ca.pem", ca_.cert_pem);
  dir_.Write("ca.key", ca_.key_pem);

  IssueRequest server = Request(CertKind::kServer, kServerId);
  server.dns_names = {std::string(kServerName)};
  server.ip_addresses = {"127.0.0.1", "::1"};
  Issue("server", server);
  Issue("admin", Request(CertKind::kAdmin, kAdminName));
  IssuePolicyKey("policy-signing");
}

TestPki::~TestPki() = default;

TlsPaths TestPki::Server() const {
  return {ca_file_, dir_.File("server.pem"), dir_.File("server.key")};
}

TlsPaths TestPki::Admin() const {
  return {ca_file_, dir_.File("admin.pem"), dir_.File("admin.key")};
}

PolicyKeyPaths TestPki::PolicyKey() const {
  return {dir_.File("policy-signing.key"), dir_.File("policy-signing.pub")};
}

PolicyKeyPaths TestPki::IssuePolicyKey(std::string_view name) {
  const PolicySigningKey key = Unwrap(PolicySigningKey::Generate(), "generate policy key");
  PolicyKeyPaths paths;
  paths.key = dir_.Write(std::string(name) + ".key",
                         Unwrap(key.PrivateKeyPem(), "encode policy key " + std::string(name)));
  paths.pub =
      dir_.Write(std::string(name) + ".pub",
                 Unwrap(key.public_key().ToPem(), "encode policy key " + std::string(name)));
  return paths;
}

TlsPaths TestPki::IssueTerminal(std::string_view id, std::string_view group) {
  IssueRequest r = Request(CertKind::kTerminal, id);
  r.group = std::string(group);
  return Issue("terminal-" + std::string(id), r);
}

TlsPaths TestPki::IssueAdmin(std::string_view name) {
  return Issue("admin-" + std::string(name), Request(CertKind::kAdmin, name));
}

TlsPaths TestPki::IssueExpiredTerminal(std::string_view id) {
  IssueRequest r = Request(CertKind::kTerminal, id);
  r.not_before_ms = NowMs() - 10 * kDayMs;
  r.validity_days = 1;
  return Issue("expired-terminal-" + std::string(id), r);
}

TlsPaths TestPki::IssueFromOtherCa(std::string_view id) {
  if (!other_ca_) {
    other_ca_ =
        std::make_unique<KeyAndCert>(Unwrap(CreateCa("Unrelated CA", 3650), "create other CA"));
    dir_.Write("other-ca.pem", other_ca_->cert_pem);
  }
  const KeyAndCert material = Unwrap(IssueCertificate(*other_ca_, Request(CertKind::kTerminal, id)),
                                     "issue foreign terminal");
  return Write("foreign-terminal-" + std::string(id), material);
}

TlsPaths TestPki::Issue(std::string_view name, const IssueRequest& request) {
  return Write(name, Unwrap(IssueCertificate(ca_, request), "issue " + std::string(name)));
}

const KeyAndCert& TestPki::IssuingCa() {
  if (!issuing_ca_) {
    issuing_ca_ = std::make_unique<KeyAndCert>(
        Unwrap(CreateIssuingCa(ca_, "Mamori Test Issuing CA", 365), "create issuing CA"));
    dir_.Write("issuing-ca.pem", issuing_ca_->cert_pem);
    dir_.Write("issuing-ca.key", issuing_ca_->key_pem);
  }
  return *issuing_ca_;
}

TlsPaths TestPki::IssueViaIssuingCa(std::string_view name, const IssueRequest& request) {
  return Write(name, Unwrap(IssueCertificate(IssuingCa(), request), "issue " + std::string(name)));
}

TlsPaths TestPki::IssueViaForeignIssuingCa(std::string_view name, const IssueRequest& request) {
  if (!foreign_issuing_ca_) {
    const KeyAndCert root = Unwrap(CreateCa("Unrelated Root", 3650), "create unrelated root");
    dir_.Write("other-root.pem", root.cert_pem);
    foreign_issuing_ca_ = std::make_unique<KeyAndCert>(
        Unwrap(CreateIssuingCa(root, "Mamori Test Issuing CA", 365), "create foreign issuing CA"));
  }
  return Write(
      name, Unwrap(IssueCertificate(*foreign_issuing_ca_, request), "issue " + std::string(name)));
}

IssueRequest TestPki::TerminalRequest(std::string_view id, std::string_view group) {
  IssueRequest r = Request(CertKind::kTerminal, id);
  r.group = std::string(group);
  return r;
}

TlsPaths TestPki::Write(std::string_view name, const KeyAndCert& material) const {
  TlsPaths paths;
  paths.ca = ca_file_;
  paths.cert = dir_.Write(std::string(name) + ".pem", material.cert_pem);
  paths.key = dir_.Write(std::string(name) + ".key", material.key_pem);
  return paths;
}

}  // namespace mamori::testing
