#include "server/revocation/revocation_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/policy/policy_signing.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using ::testing::HasSubstr;

class FixedClock final : public Clock {
 public:
  int64_t NowMs() const override { return 1'765'000'000'000; }
};

class RecordingObserver final : public StandingObserver {
 public:
  void OnStandingChanged(std::string_view id, TerminalStanding s) override {
    seen.push_back(std::string(id) + "=" + std::string(TerminalStandingName(s)));
  }
  std::vector<std::string> seen;
};

const std::string kFingerprint(64, 'a');

class RevocationRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenSqliteStore(dir_.File("revoke.db"), SqliteOptions{});
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
    static const PolicySigningKey key = PolicySigningKey::Generate().value();
    hub_ = std::make_unique<PolicyHub>(store_.get(), &clock_, key);
    ASSERT_TRUE(hub_->Load().ok());
    audit_ = std::make_unique<StoreAuditTrail>(store_.get(), &clock_);
    registry_ = NewRegistry();
  }

  std::unique_ptr<RevocationRegistry> NewRegistry() {
    auto r = std::make_unique<RevocationRegistry>(store_.get(), hub_.get(), audit_.get(), &clock_);
    EXPECT_TRUE(r->Load().ok());
    r->AddObserver(&observer_);
    return r;
  }

  testing::TempDir dir_;
  FixedClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<PolicyHub> hub_;
  std::unique_ptr<StoreAuditTrail> audit_;
  RecordingObserver observer_;
  std::unique_ptr<RevocationRegistry> registry_;
};

TEST_F(RevocationRegistryTest, RevokingATerminalEndsItsStreamsAndRefusesEveryCertificate) {
  std::vector<std::string> closed;
  for (const char* t : {"t1", "t2"}) {
    hub_->AddWatcher(
        "osaka", t, [](const ResolvedPolicy&) {},
        [&closed, t](const Error& why) {
          const bool denied = why.code == ErrorCode::kPermissionDenied;
          closed.push_back(std::string(t) + (denied ? " denied " : " other ") + why.message);
        });
  }
  EXPECT_FALSE(registry_->RevokedReason(PeerRole::kTerminal, "t1", kFingerprint));

  auto out =
      registry_->Revoke(PeerRole::kTerminal, "t1", "", "stolen laptop", "cert:mamori://admin/ops");
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->streams_closed, 1u);
  EXPECT_GT(out->record.id, 0);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_THAT(closed[0], HasSubstr("t1 denied terminal 't1' revoked by "
                                   "cert:mamori://admin/ops: stolen laptop"));

  // Any certificate of the identity, and none of another's.
  auto reason = registry_->RevokedReason(PeerRole::kTerminal, "t1", "");
  ASSERT_TRUE(reason);
  EXPECT_THAT(*reason, HasSubstr("stolen laptop"));
  EXPECT_TRUE(registry_->RevokedReason(PeerRole::kTerminal, "t1", kFingerprint));
  EXPECT_FALSE(registry_->RevokedReason(PeerRole::kTerminal, "t2", ""));
  EXPECT_FALSE(registry_->RevokedReason(PeerRole::kAdmin, "t1", ""));  // another role
  EXPECT_EQ(registry_->StandingOf("t1").standing, TerminalStanding::kRevoked);
  EXPECT_EQ(registry_->StandingOf("t1").reason, "stolen laptop");
  EXPECT_EQ(observer_.seen, std::vector<std::string>{"t1=revoked"});

  // Recorded in the audit log with actor, target and reason.
  AuditQuery q;
  q.action = "terminal.revoke";
  auto audit = store_->QueryAudit(q);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].actor, "cert:mamori://admin/ops");
  EXPECT_EQ((*audit)[0].target, "terminal:t1");
  EXPECT_EQ((*audit)[0].detail, "stolen laptop");

  // Twice is refused with the first record's story.
  auto again = registry_->Revoke(PeerRole::kTerminal, "t1", "", "again", "cert:x");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_THAT(again.error().message, HasSubstr("stolen laptop"));
}

TEST_F(RevocationRegistryTest, ACertificateRevocationRefusesOnlyThatCertificate) {
  ASSERT_TRUE(
      registry_->Revoke(PeerRole::kAdmin, "ops", kFingerprint, "key leaked", "web:alice").ok());
  EXPECT_TRUE(registry_->RevokedReason(PeerRole::kAdmin, "ops", kFingerprint));
  // The fingerprint names the certificate whatever identity it claims.
  EXPECT_TRUE(registry_->RevokedReason(PeerRole::kTerminal, "t9", kFingerprint));
  EXPECT_FALSE(registry_->RevokedReason(PeerRole::kAdmin, "ops", std::string(64, 'b')));
  EXPECT_FALSE(registry_->RevokedReason(PeerRole::kAdmin, "ops", ""));
}

TEST_F(RevocationRegistryTest, BadInputIsRefusedAndNothingIsStored) {
  const std::string actor = "cert:mamori://admin/ops";
  for (const auto& [id, cert, reason, what] :
       std::vector<std::tuple<std::string, std::string, std::string, std::string>>{
           {"t1", "", "", "a reason is required"},
           {"t1", "", "   ", "a reason is required"},
           {"t1", "", std::string(501, 'x'), "longer than 500"},
           {"t1", "", "bad\x01reason", "control"},
           {"t/1", "", "r", "terminal id must be"},
           {"", "", "r", "terminal id must be"},
           {"t1", "ABC", "r", "cert_sha256 must be"},
           {"t1", std::string(64, 'A'), "r", "cert_sha256 must be"},
       }) {
    auto out = registry_->Revoke(PeerRole::kTerminal, id, cert, reason, actor);
    ASSERT_FALSE(out.ok()) << id << " " << reason;
    EXPECT_EQ(out.error().code, ErrorCode::kInvalidArgument);
    EXPECT_THAT(out.error().message, HasSubstr(what));
  }
  EXPECT_FALSE(registry_->Retire("t1", "", actor).ok());
  EXPECT_FALSE(registry_->Revoke(PeerRole::kCollector, "c1", "", "r", actor).ok());
  EXPECT_TRUE(registry_->List().empty());
  auto stored = store_->ListRevocations();
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(stored->empty());
}

TEST_F(RevocationRegistryTest, RetiringRefusesTheTerminalAndSurvivesAReload) {
  ASSERT_TRUE(registry_->Revoke(PeerRole::kTerminal, "t1", "", "lost", "cert:a").ok());
  ASSERT_TRUE(registry_->Retire("t1", "disposed of", "cert:a").ok());
  ASSERT_TRUE(registry_->Retire("t2", "replaced", "cert:a").ok());
  ASSERT_TRUE(registry_->Revoke(PeerRole::kAdmin, "bob", "", "left", "cert:a").ok());
  EXPECT_FALSE(registry_->Retire("t2", "again", "cert:a").ok());

  auto reloaded = NewRegistry();
  EXPECT_EQ(reloaded->List().size(), 4u);
  EXPECT_EQ(reloaded->StandingOf("t1").standing, TerminalStanding::kRetired);
  EXPECT_EQ(reloaded->StandingOf("t1").reason, "disposed of");
  EXPECT_EQ(reloaded->StandingOf("t2").standing, TerminalStanding::kRetired);
  EXPECT_EQ(reloaded->StandingOf("t3").standing, TerminalStanding::kActive);
  EXPECT_TRUE(reloaded->RevokedReason(PeerRole::kTerminal, "t2", ""));
  EXPECT_TRUE(reloaded->RevokedReason(PeerRole::kAdmin, "bob", ""));
  EXPECT_FALSE(reloaded->RevokedReason(PeerRole::kAdmin, "alice", ""));
  const std::vector<RevocationRecord> list = reloaded->List();
  EXPECT_EQ(list[0].kind, RevocationKind::kRevoke);
  EXPECT_EQ(list[1].kind, RevocationKind::kRetire);
  EXPECT_EQ(list[3].role, "admin");
  EXPECT_EQ(list[3].subject, "bob");
  EXPECT_EQ(list[3].at_ms, clock_.NowMs());
}

}  // namespace
}  // namespace mamori
