#include "server/enrollment/enrollment_workflow.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>

#include "common/crypto/csr.h"
#include "server/app/collector_config.h"
#include "server/enrollment/attempt_limiter.h"
#include "server/enrollment/enroll_token.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using ::testing::HasSubstr;

class FakeClock final : public Clock {
 public:
  int64_t NowMs() const override { return now_.load(); }
  void Advance(int64_t ms) { now_ += ms; }

 private:
  std::atomic<int64_t> now_{1'800'000'000'000};
};

class FakeRevocations final : public RevocationList {
 public:
  std::optional<std::string> RevokedReason(PeerRole role, std::string_view id,
                                           std::string_view /*cert_sha256*/) const override {
    auto it = revoked.find(std::string(PeerRoleName(role)) + "/" + std::string(id));
    if (it == revoked.end()) return std::nullopt;
    return it->second;
  }
  std::map<std::string, std::string> revoked;
};

// --- tokens ---------------------------------------------------------------

TEST(EnrollTokenTest, FormatIdAndHash) {
  Result<NewEnrollToken> t = MakeEnrollToken();
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->text.size(), 3u + 8 + 1 + 52);
  EXPECT_TRUE(t->text.starts_with("mt_" + t->id + "_"));
  EXPECT_EQ(EnrollTokenId(t->text), t->id);
  EXPECT_TRUE(EnrollTokenMatches(t->text, t->secret_sha256));
  EXPECT_EQ(t->secret_sha256, EnrollTokenSha256(t->text));
  EXPECT_EQ(t->secret_sha256.find(t->text), std::string::npos);
  std::string wrong = t->text;
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  EXPECT_FALSE(EnrollTokenMatches(wrong, t->secret_sha256));
  EXPECT_FALSE(EnrollTokenMatches(t->text, "nothex"));
  Result<NewEnrollToken> other = MakeEnrollToken();
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->text, t->text);
}

TEST(EnrollTokenTest, MalformedTextHasNoId) {
  EXPECT_FALSE(EnrollTokenId(""));
  EXPECT_FALSE(EnrollTokenId("mt_abc"));
  EXPECT_FALSE(EnrollTokenId("xx_aaaaaaaa_" + std::string(52, 'b')));
  EXPECT_FALSE(EnrollTokenId("mt_AAAAAAAA_" + std::string(52, 'b')));  // upper case
  EXPECT_FALSE(EnrollTokenId("mt_aaaaaaaa-" + std::string(52, 'b')));
  EXPECT_FALSE(EnrollTokenId("mt_aaaaaaaa_" + std::string(52, '1')));  // 1 is not base32
  EXPECT_EQ(EnrollTokenId("mt_aaaaaaaa_" + std::string(52, 'b')), "aaaaaaaa");
}

// --- attempt limiter --------------------------------------------------------

TEST(AttemptLimiterTest, BucketEmptiesAndRefillsPerAddress) {
  FakeClock clock;
  AttemptLimiter limiter(&clock, 10, 100);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(limiter.Allow("10.0.0.1")) << i;
  EXPECT_FALSE(limiter.Allow("10.0.0.1"));
  EXPECT_TRUE(limiter.Allow("10.0.0.2"));  // others unaffected
  clock.Advance(6'000);                    // one attempt back every 6 s
  EXPECT_TRUE(limiter.Allow("10.0.0.1"));
  EXPECT_FALSE(limiter.Allow("10.0.0.1"));
  clock.Advance(10 * 60'000);  // never more than the burst
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(limiter.Allow("10.0.0.1"));
  EXPECT_FALSE(limiter.Allow("10.0.0.1"));
}

TEST(AttemptLimiterTest, MemoryIsBoundedByEvictingTheLeastRecent) {
  FakeClock clock;
  AttemptLimiter limiter(&clock, 1, 3);
  EXPECT_TRUE(limiter.Allow("a"));
  EXPECT_TRUE(limiter.Allow("b"));
  EXPECT_TRUE(limiter.Allow("c"));
  EXPECT_FALSE(limiter.Allow("a"));  // a is now the most recent
  EXPECT_TRUE(limiter.Allow("d"));   // evicts b
  EXPECT_EQ(limiter.tracked(), 3u);
  EXPECT_FALSE(limiter.Allow("a"));
  EXPECT_FALSE(limiter.Allow("c"));
  EXPECT_TRUE(limiter.Allow("b"));  // forgotten, so a fresh bucket
  for (int i = 0; i < 10'000; ++i) (void)limiter.Allow("flood-" + std::to_string(i));
  EXPECT_EQ(limiter.tracked(), 3u);
}

TEST(AttemptLimiterTest, PeerHostDropsSchemeAndPort) {
  EXPECT_EQ(PeerHost("ipv4:127.0.0.1:5000"), "127.0.0.1");
  EXPECT_EQ(PeerHost("ipv6:[::1]:5000"), "::1");
  EXPECT_EQ(PeerHost("ipv6:%5B::1%5D:5000"), "::1");  // as gRPC writes it
  EXPECT_EQ(PeerHost("unix:/tmp/s"), "unix:/tmp/s");
}

// --- workflow ---------------------------------------------------------------

class EnrollmentWorkflowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = OpenSqliteStore(dir_.File("c.db"), SqliteOptions{});
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
    audit_ = std::make_unique<StoreAuditTrail>(store_.get(), &clock_);
    Make(EnrollmentSettings{});
  }

  void Make(EnrollmentSettings settings) {
    static const KeyAndCert ca = *CreateCa("Test CA", 3650);
    workflow_ = std::make_unique<EnrollmentWorkflow>(store_.get(), audit_.get(), &revocations_,
                                                     &clock_, settings, ca, ca.cert_pem);
  }

  std::string Token(int64_t uses = 5, int64_t expires_ms = 7 * kDayMs) {
    TokenSpec spec;
    spec.group = "osaka";
    spec.uses = uses;
    spec.expires_in_ms = expires_ms;
    auto t = workflow_->CreateToken("cert:mamori://admin/ops", spec);
    EXPECT_TRUE(t.ok()) << t.error().message;
    return t.ok() ? t->second : "";
  }

  EnrollInput Input(const std::string& token, const std::string& host) {
    Result<KeyAndCsr> made = MakeKeyAndCsr("x");
    EnrollInput in;
    in.token = token;
    in.csr_pem = made->csr_pem;
    in.hostname = host;
    in.peer = "ipv4:10.1.2.3:4444";
    last_key_ = made->key_pem;
    return in;
  }

  testing::TempDir dir_;
  FakeClock clock_;
  FakeRevocations revocations_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<StoreAuditTrail> audit_;
  std::unique_ptr<EnrollmentWorkflow> workflow_;
  std::string last_key_;
};

TEST_F(EnrollmentWorkflowTest, ExpiredTokenReadsLikeAnyBadToken) {
  const std::string token = Token(5, 60'000);
  ASSERT_TRUE(workflow_->Enroll(Input(token, "pc-1")).ok());
  clock_.Advance(61'000);
  auto r = workflow_->Enroll(Input(token, "pc-2"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
  EXPECT_THAT(r.error().message, HasSubstr("unknown, used up, expired or revoked"));
}

TEST_F(EnrollmentWorkflowTest, TerminalIdRules) {
  const std::string token = Token(10);
  auto lower = workflow_->Enroll(Input(token, "PC-Upper"));
  ASSERT_TRUE(lower.ok()) << lower.error().message;
  EXPECT_EQ(lower->id, "pc-upper");
  EnrollInput asked = Input(token, "host-a");
  asked.terminal_id = "Custom-ID";
  // The default rule ignores the requested id.
  EXPECT_EQ(workflow_->Enroll(asked)->id, "host-a");
  EnrollmentSettings request_rule;
  request_rule.terminal_id_rule = TerminalIdRule::kRequest;
  Make(request_rule);
  asked = Input(token, "host-b");
  asked.terminal_id = "Custom-ID";
  EXPECT_EQ(workflow_->Enroll(asked)->id, "Custom-ID");
  EXPECT_EQ(workflow_->Enroll(Input(token, "host-c"))->id, "host-c");
  auto bad = workflow_->Enroll(Input(token, "bad host"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(bad.error().message, HasSubstr("not a valid terminal id"));
  EXPECT_THAT(workflow_->Enroll(Input(token, "")).error().message, HasSubstr("hostname is empty"));
}

TEST_F(EnrollmentWorkflowTest, RevokedIdMayNeitherEnrollNorRenew) {
  const std::string token = Token();
  auto first = workflow_->Enroll(Input(token, "pc-1"));
  ASSERT_TRUE(first.ok());
  revocations_.revoked["terminal/pc-1"] = "stolen";
  revocations_.revoked["terminal/pc-2"] = "retired";
  auto again = workflow_->Enroll(Input(token, "pc-2"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kPermissionDenied);
  RenewalCaller caller{PeerRole::kTerminal, "pc-1", "osaka", first->cert_pem, "ipv4:1.2.3.4:5"};
  auto renewed = workflow_->Renew(caller, MakeKeyAndCsr("x")->csr_pem);
  ASSERT_FALSE(renewed.ok());
  EXPECT_EQ(renewed.error().code, ErrorCode::kPermissionDenied);
}

TEST_F(EnrollmentWorkflowTest, RenewalKeepsIdentityAndGroupAndNeedsAFreshKey) {
  const std::string token = Token();
  EnrollInput in = Input(token, "pc-1");
  const std::string csr = in.csr_pem;
  auto first = workflow_->Enroll(in);
  ASSERT_TRUE(first.ok());
  RenewalCaller caller{PeerRole::kTerminal, "pc-1", "osaka", first->cert_pem, "ipv4:1.2.3.4:5"};
  auto same = workflow_->Renew(caller, csr);
  ASSERT_FALSE(same.ok());
  EXPECT_THAT(same.error().message, HasSubstr("freshly made key"));
  clock_.Advance(60'000);
  auto renewed = workflow_->Renew(caller, MakeKeyAndCsr("someone-else")->csr_pem);
  ASSERT_TRUE(renewed.ok()) << renewed.error().message;
  Result<CertInfo> info = InspectCertificate(renewed->cert_pem);
  EXPECT_THAT(info->uris, ::testing::ElementsAre("mamori://terminal/pc-1", "mamori://group/osaka"));
  // The lifetime counts from now.
  EXPECT_EQ(renewed->not_after_ms, (clock_.NowMs() + 30 * kDayMs) / 1000 * 1000);
  auto records = store_->ListIssuedCertificates("pc-1", 10);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].reason, "renew");
}

TEST_F(EnrollmentWorkflowTest, TokenBoundsAreEnforced) {
  TokenSpec spec;
  spec.group = "osaka";
  spec.uses = 0;
  EXPECT_THAT(workflow_->CreateToken("a", spec).error().message, HasSubstr("uses"));
  spec.uses = kMaxTokenUses + 1;
  EXPECT_FALSE(workflow_->CreateToken("a", spec).ok());
  spec.uses = 1;
  spec.expires_in_ms = 366 * kDayMs;
  EXPECT_THAT(workflow_->CreateToken("a", spec).error().message, HasSubstr("365d"));
  spec.expires_in_ms = kDayMs;
  spec.group = "Bad Group";
  EXPECT_THAT(workflow_->CreateToken("a", spec).error().message, HasSubstr("invalid group"));
  spec.group = "osaka";
  spec.note = std::string(300, 'n');
  EXPECT_THAT(workflow_->CreateToken("a", spec).error().message, HasSubstr("note"));
}

TEST_F(EnrollmentWorkflowTest, OversizedFieldsAreRefusedByName) {
  const std::string token = Token();
  EnrollInput in = Input(token, "pc-1");
  in.os = std::string(1000, 'o');
  auto r = workflow_->Enroll(in);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("os is 1000 bytes"));
  in = Input(token, "pc-1");
  in.csr_pem = std::string(20'000, 'c');
  EXPECT_THAT(workflow_->Enroll(in).error().message, HasSubstr("csr_pem: CSR too large"));
}

// --- config -----------------------------------------------------------------

constexpr std::string_view kBase =
    "listen: 127.0.0.1:7443\n"
    "tls: {ca_file: ca.pem, cert_file: c.pem, key_file: c.key}\n"
    "policy: {signing_key_file: p.key}\n";

TEST(EnrollmentConfigTest, ParsesTheSection) {
  auto c = ParseCollectorConfig(std::string(kBase) +
                                    "enrollment:\n  listen: 127.0.0.1:7444\n"
                                    "  issuing_ca_cert_file: issuing-ca.pem\n"
                                    "  issuing_ca_key_file: issuing-ca.key\n"
                                    "  certificate_lifetime: 5m\n  terminal_id: request\n"
                                    "  max_attempts_per_minute: 30\n  active_window: 14d\n",
                                "c.yaml", "/etc/mamori");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->enrollment.listen, "127.0.0.1:7444");
  EXPECT_EQ(c->enrollment.issuing_ca_cert_file, "/etc/mamori/issuing-ca.pem");
  EXPECT_EQ(c->enrollment.certificate_lifetime_ms, 5 * 60'000);
  EXPECT_EQ(c->enrollment.terminal_id_rule, TerminalIdRule::kRequest);
  EXPECT_EQ(c->enrollment.max_attempts_per_minute, 30);
  EXPECT_EQ(c->enrollment.active_window_ms, 14 * kDayMs);
  auto none = ParseCollectorConfig(kBase, "c.yaml", "/etc/mamori");
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_TRUE(none->enrollment.listen.empty());
  EXPECT_EQ(none->enrollment.certificate_lifetime_ms, 30 * kDayMs);
}

TEST(EnrollmentConfigTest, ErrorsNameTheField) {
  const auto error = [](const std::string& section) {
    auto c = ParseCollectorConfig(std::string(kBase) + "enrollment:\n" + section, "c.yaml", ".");
    return c.ok() ? std::string() : c.error().message;
  };
  const std::string ca = "  issuing_ca_cert_file: a.pem\n  issuing_ca_key_file: a.key\n";
  EXPECT_THAT(error(ca + "  certificate_lifetime: 1m\n"),
              HasSubstr("enrollment.certificate_lifetime"));
  EXPECT_THAT(error(ca + "  certificate_lifetime: 398d\n"), HasSubstr("between 5m and 397d"));
  EXPECT_THAT(error(ca + "  terminal_id: mac\n"), HasSubstr("'hostname' or 'request'"));
  EXPECT_THAT(error("  listen: 127.0.0.1:7444\n"), HasSubstr("needs the issuing CA"));
  EXPECT_THAT(error("  issuing_ca_cert_file: a.pem\n"), HasSubstr("go together"));
  EXPECT_THAT(error(ca + "  listen: nohost\n"), HasSubstr("expected host:port"));
  EXPECT_THAT(error(ca + "  surprise: 1\n"), HasSubstr("surprise"));
  EXPECT_THAT(error(ca + "  certificate_lifetime: 1m\n"), HasSubstr("c.yaml:"));
}

}  // namespace
}  // namespace mamori
