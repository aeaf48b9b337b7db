// Offline unlock codes at the collector: issuing from the terminal's
// certificate (stored or given), the issued-codes table, the audit record,
// and the reconciliation of a reported use. Each code issued here is checked
// with the terminal's own key, as the agent does.

#include "server/admin/unlock_issuer.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/crypto/pki.h"
#include "common/crypto/unlock_key.h"
#include "common/policy/unlock_code.h"
#include "proto/wire/convert.h"
#include "server/audit/audit_trail.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

class FixedClock final : public Clock {
 public:
  int64_t NowMs() const override { return now; }
  int64_t now = SystemClock().NowMs();
};

class UnlockIssuerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = CreateCa("Test CA", 30).value();
    terminal_ = Issue("T-0001");
    unlock_ = CreateUnlockKeyPair().value();
    store_ = OpenSqliteStore(dir_.File("db.sqlite"), SqliteOptions{}).value();
    audit_ = std::make_unique<StoreAuditTrail>(store_.get(), &clock_);
    issuer_ =
        UnlockIssuer::Create(store_.get(), audit_.get(), &clock_, unlock_.private_pem, ca_.cert_pem)
            .value();
  }

  KeyAndCert Issue(const std::string& id) {
    IssueRequest r;
    r.kind = CertKind::kTerminal;
    r.id = id;
    r.group = "osaka";
    r.not_before_ms = clock_.now - 60'000;
    return IssueCertificate(ca_, r).value();
  }

  // What the agent of `terminal` with `key_pem` makes of `code`.
  UnlockVerify AgentCheck(const std::string& code, const std::string& key_pem,
                          const std::string& terminal, const UnlockDevice& device) {
    const std::string dep = DeploymentIdFromCa(ca_.cert_pem).value();
    const UnlockScope scope{dep, terminal,
                            DeriveUnlockKey(key_pem, unlock_.public_pem, dep, terminal).value()};
    UnlockParse parsed = ParseUnlockCode(code);
    EXPECT_TRUE(parsed.ok()) << parsed.error.message;
    return VerifyUnlockCode(parsed.fields, scope, {device}, clock_.now, 300'000);
  }

  v1::IssueUnlockCodeRequest Request() {
    v1::IssueUnlockCodeRequest r;
    r.set_terminal_id("T-0001");
    r.set_vid_pid("0781:5581");
    r.set_serial("SER-A");
    r.set_hours(2);
    r.set_reason("承認: 課長");
    return r;
  }

  testing::TempDir dir_;
  FixedClock clock_;
  KeyAndCert ca_;
  KeyAndCert terminal_;
  UnlockKeyPair unlock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<StoreAuditTrail> audit_;
  std::unique_ptr<UnlockIssuer> issuer_;
};

TEST_F(UnlockIssuerTest, IssuesACodeTheTerminalAcceptsForThatDeviceOnly) {
  ASSERT_TRUE(store_->PutTerminalCertificate("T-0001", terminal_.cert_pem, clock_.now).ok());
  v1::IssueUnlockCodeResponse response;
  Status s = issuer_->Issue("cert:mamori://admin/ops", Request(), &response);
  ASSERT_TRUE(s.ok()) << s.error().message;
  const v1::UnlockCodeView& c = response.code();
  EXPECT_EQ(c.code().size(), 20u);
  EXPECT_EQ(ToMs(c.expires()), (clock_.now + 2 * 3600 * 1000) / 60000 * 60000);
  EXPECT_TRUE(AgentCheck(c.code(), terminal_.key_pem, "T-0001", {0x0781, 0x5581, "SER-A"}).ok());
  EXPECT_EQ(
      AgentCheck(c.code(), terminal_.key_pem, "T-0001", {0x0781, 0x5581, "SER-B"}).error.refusal,
      UnlockRefusal::kOtherDevice);
  // Another terminal (its own key) never accepts it.
  const KeyAndCert other = Issue("T-0002");
  EXPECT_FALSE(AgentCheck(c.code(), other.key_pem, "T-0002", {0x0781, 0x5581, "SER-A"}).ok());

  // Stored, and audited without the code.
  auto listed = store_->ListIssuedUnlockCodes("T-0001", 10).value();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].code, c.code());
  EXPECT_EQ(listed[0].issued_by, "cert:mamori://admin/ops");
  auto audit = store_->QueryAudit(AuditQuery{}).value();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].action, "unlock.issue");
  EXPECT_EQ(audit[0].outcome, "ok");
  EXPECT_EQ(audit[0].target, "terminal:T-0001");
  EXPECT_NE(audit[0].detail.find("0781:5581 serial 'SER-A'"), std::string::npos);
  EXPECT_EQ(audit[0].detail.find(c.code()), std::string::npos);
}

TEST_F(UnlockIssuerTest, UsesAGivenCertificateOnlyWhenItIsTheTerminals) {
  v1::IssueUnlockCodeResponse response;
  Status none = issuer_->Issue("a", Request(), &response);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("never connected"), std::string::npos);

  v1::IssueUnlockCodeRequest wrong = Request();
  wrong.set_terminal_certificate_pem(Issue("T-0002").cert_pem);
  Status s = issuer_->Issue("a", wrong, &response);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("not the certificate of T-0001"), std::string::npos);

  const KeyAndCert foreign_ca = CreateCa("Other CA", 30).value();
  IssueRequest r;
  r.id = "T-0001";
  wrong.set_terminal_certificate_pem(IssueCertificate(foreign_ca, r).value().cert_pem);
  EXPECT_FALSE(issuer_->Issue("a", wrong, &response).ok());

  v1::IssueUnlockCodeRequest right = Request();
  right.set_terminal_certificate_pem(terminal_.cert_pem);
  ASSERT_TRUE(issuer_->Issue("a", right, &response).ok());
  EXPECT_TRUE(
      AgentCheck(response.code().code(), terminal_.key_pem, "T-0001", {0x0781, 0x5581, "SER-A"})
          .ok());
  // Failures are audited too.
  auto audit = store_->QueryAudit(AuditQuery{}).value();
  ASSERT_EQ(audit.size(), 4u);
  EXPECT_EQ(audit[1].outcome, "failed");
}

TEST_F(UnlockIssuerTest, RefusesWhatCannotMakeAGoodCode) {
  ASSERT_TRUE(store_->PutTerminalCertificate("T-0001", terminal_.cert_pem, clock_.now).ok());
  v1::IssueUnlockCodeResponse response;
  auto refused = [&](auto edit, std::string_view words) {
    v1::IssueUnlockCodeRequest r = Request();
    edit(r);
    Status s = issuer_->Issue("a", r, &response);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find(words), std::string::npos) << s.error().message;
  };
  refused([](auto& r) { r.set_hours(25); }, "at most 24");
  refused([](auto& r) { r.set_serial(""); }, "no serial");
  refused([](auto& r) { r.set_vid_pid("781:5581"); }, "VID:PID");
  refused([](auto& r) { r.set_terminal_id("bad id!"); }, "not a terminal id");
  refused([](auto& r) { r.set_from_event_seq(7); }, "not both");
  refused(
      [](auto& r) {
        r.clear_vid_pid();
        r.clear_serial();
        r.set_from_event_seq(7);
      },
      "no device event 7");
}

TEST_F(UnlockIssuerTest, TakesTheDeviceFromABlockEvent) {
  ASSERT_TRUE(store_->PutTerminalCertificate("T-0001", terminal_.cert_pem, clock_.now).ok());
  Event e;
  e.seq = 7;
  e.time_ms = clock_.now;
  e.kind = EventKind::kDeviceBlocked;
  Device d;
  d.device_id = "1-1";
  d.identity.vendor_id = 0x0930;
  d.identity.product_id = 0x6545;
  d.identity.serial = "TOSHIBA-1";
  e.device = d;
  ASSERT_TRUE(store_->AppendEvents("T-0001", {e}, clock_.now).ok());
  v1::IssueUnlockCodeRequest r;
  r.set_terminal_id("T-0001");
  r.set_from_event_seq(7);
  v1::IssueUnlockCodeResponse response;
  Status s = issuer_->Issue("a", r, &response);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(response.code().vid_pid(), "0930:6545");
  EXPECT_TRUE(
      AgentCheck(response.code().code(), terminal_.key_pem, "T-0001", {0x0930, 0x6545, "TOSHIBA-1"})
          .ok());
}

TEST_F(UnlockIssuerTest, ReconcilesUsesWithIssuedCodes) {
  ASSERT_TRUE(store_->PutTerminalCertificate("T-0001", terminal_.cert_pem, clock_.now).ok());
  v1::IssueUnlockCodeResponse response;
  ASSERT_TRUE(issuer_->Issue("a", Request(), &response).ok());
  const std::string code = response.code().code();
  EXPECT_TRUE(issuer_->ReconcileUse("T-0001", code, clock_.now + 5, "uid 1000 (alice)").value());
  EXPECT_TRUE(issuer_->ReconcileUse("T-0001", code, clock_.now + 9, "again").value());
  EXPECT_FALSE(issuer_->ReconcileUse("T-0002", code, clock_.now, "x").value());
  EXPECT_FALSE(issuer_->ReconcileUse("T-0001", "AAAAAA-AAAAAA-AAAAAA", clock_.now, "x").value());
  v1::ListUnlockCodesResponse list;
  ASSERT_TRUE(issuer_->List(v1::ListUnlockCodesRequest{}, &list).ok());
  ASSERT_EQ(list.codes_size(), 1);
  EXPECT_EQ(ToMs(list.codes(0).used_at()), clock_.now + 5);  // the first report counts
  EXPECT_EQ(list.codes(0).used_by(), "uid 1000 (alice)");
}

}  // namespace
}  // namespace mamori
