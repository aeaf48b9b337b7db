#include "server/policy/policy_hub.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

class FixedClock final : public Clock {
 public:
  int64_t NowMs() const override { return 1'700'000'000'000; }
};

const PolicySigningKey& SigningKey() {
  static const PolicySigningKey key = PolicySigningKey::Generate().value();
  return key;
}

const PolicySigningKey& OtherKey() {
  static const PolicySigningKey key = PolicySigningKey::Generate().value();
  return key;
}

std::string PolicyNamed(const std::string& name) {
  return "name: " + name + "\nrules:\n  - name: r\n    match: {class: hid}\n    action: allow\n";
}

class PolicyHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenSqliteStore(dir_.File("hub.db"), SqliteOptions{});
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
    hub_ = std::make_unique<PolicyHub>(store_.get(), &clock_, SigningKey());
    ASSERT_TRUE(hub_->Load().ok());
  }

  uint64_t Apply(const std::string& group, const std::string& name) {
    auto r = hub_->Apply(group, PolicyNamed(name), "test.yaml", "mamori://admin/a");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r->version : 0;
  }

  testing::TempDir dir_;
  FixedClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<PolicyHub> hub_;
};

TEST_F(PolicyHubTest, NearestAncestorWins) {
  Apply("osaka", "osaka-policy");
  Apply("osaka/suita", "suita-policy");
  Apply("kyoto", "kyoto-policy");

  auto own = hub_->Resolve("osaka/suita");
  ASSERT_TRUE(own);
  EXPECT_EQ(own->stored.group, "osaka/suita");
  EXPECT_FALSE(own->inherited);

  auto parent = hub_->Resolve("osaka/suita/hoken");
  ASSERT_TRUE(parent);
  EXPECT_EQ(parent->policy->name, "suita-policy");
  EXPECT_TRUE(parent->inherited);

  EXPECT_EQ(hub_->Resolve("osaka/toyonaka/kokuho/x")->stored.group, "osaka");
  // A name that merely starts like a group does not inherit from it.
  EXPECT_EQ(hub_->Resolve("osaka/suitak")->stored.group, "osaka");
  EXPECT_FALSE(hub_->Resolve("osakax"));
  EXPECT_FALSE(hub_->Resolve("nara"));
}

TEST_F(PolicyHubTest, InvalidPolicyOrGroupStoresNothing) {
  Apply("osaka", "good");
  auto bad =
      hub_->Apply("osaka", "name: x\nrules: [ {name: a, action: boom, match: {class: hid}} ]\n",
                  "bad.yaml", "mamori://admin/a");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("bad.yaml:"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(hub_->Apply("Osaka/../x", PolicyNamed("p"), "p.yaml", "a").ok());
  EXPECT_EQ(hub_->Resolve("osaka")->policy->name, "good");
  EXPECT_EQ(store_->PolicyHistory("osaka")->size(), 1u);
}

TEST_F(PolicyHubTest, WatchersOfTheGroupAndBelowAreNotifiedOthersNot) {
  std::vector<std::string> seen_suita, seen_kyoto;
  hub_->AddWatcher(
      "osaka/suita/hoken", "t1",
      [&](const ResolvedPolicy& r) { seen_suita.push_back(r.policy->name); }, [](const Error&) {});
  hub_->AddWatcher(
      "kyoto", "t2", [&](const ResolvedPolicy& r) { seen_kyoto.push_back(r.policy->name); },
      [](const Error&) {});
  Apply("osaka", "p1");
  Apply("osaka/suita", "p2");
  Apply("osaka/toyonaka", "p3");  // not an ancestor of osaka/suita/hoken
  EXPECT_EQ(seen_suita, (std::vector<std::string>{"p1", "p2"}));
  EXPECT_TRUE(seen_kyoto.empty());
}

TEST_F(PolicyHubTest, ReloadFromStoreAndCloseAll) {
  const uint64_t v = Apply("osaka", "persisted");
  PolicyHub reloaded(store_.get(), &clock_, SigningKey());
  ASSERT_TRUE(reloaded.Load().ok());
  ASSERT_TRUE(reloaded.Resolve("osaka/suita"));
  EXPECT_EQ(reloaded.Resolve("osaka/suita")->stored.version, v);

  int closed = 0;
  reloaded.AddWatcher(
      "osaka", "t1", [](const ResolvedPolicy&) {}, [&](const Error&) { ++closed; });
  reloaded.CloseAll();
  EXPECT_EQ(closed, 1);
  reloaded.AddWatcher(
      "osaka", "t1", [](const ResolvedPolicy&) {}, [&](const Error&) { ++closed; });
  EXPECT_EQ(closed, 2);  // a watch opened after closing ends at once
}

TEST_F(PolicyHubTest, CloseTerminalEndsOnlyThatTerminalsWatchesOnce) {
  std::vector<std::string> closed;
  auto watch = [&](std::string terminal) {
    return hub_->AddWatcher(
        "osaka", terminal, [](const ResolvedPolicy&) {},
        [&closed, terminal](const Error& why) { closed.push_back(terminal + ": " + why.message); });
  };
  watch("t1");
  watch("t2");
  watch("t1");  // a second stream of the same terminal
  EXPECT_EQ(hub_->CloseTerminal("t1", MakeError(ErrorCode::kPermissionDenied, "revoked: lost")),
            2u);
  EXPECT_EQ(closed, (std::vector<std::string>{"t1: revoked: lost", "t1: revoked: lost"}));
  // Already ended: not told again, not even by the shutdown.
  EXPECT_EQ(hub_->CloseTerminal("t1", MakeError(ErrorCode::kPermissionDenied, "again")), 0u);
  hub_->CloseAll();
  EXPECT_EQ(closed.size(), 3u);
  EXPECT_EQ(closed.back(), "t2: collector is shutting down");
}

TEST_F(PolicyHubTest, AppliedPolicyIsSignedAndTheSignatureStoredWithIt) {
  const uint64_t v = Apply("osaka", "signed");
  auto stored = store_->GetPolicy("osaka", v);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  const PolicyBundle& sp = **stored;
  EXPECT_EQ(sp.key_id, SigningKey().key_id());
  EXPECT_TRUE(SigningKey().public_key().Verify(sp).ok());
  // What watchers and the stream get is the stored, signed row.
  auto resolved = hub_->Resolve("osaka/suita");
  ASSERT_TRUE(resolved);
  EXPECT_EQ(resolved->stored.signature, sp.signature);
  EXPECT_EQ(resolved->stored.key_id, sp.key_id);
}

TEST_F(PolicyHubTest, LoadSignsPoliciesStoredBeforeSigningExisted) {
  auto old = store_->PutPolicy("osaka", PolicyNamed("old"), "mamori://admin/a", 1);
  ASSERT_TRUE(old.ok());
  ASSERT_TRUE(old->signature.empty());
  PolicyHub reloaded(store_.get(), &clock_, SigningKey());
  ASSERT_TRUE(reloaded.Load().ok());
  auto r = reloaded.Resolve("osaka");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->stored.key_id, SigningKey().key_id());
  EXPECT_TRUE(SigningKey().public_key().Verify(r->stored).ok());
  EXPECT_EQ((*store_->GetPolicy("osaka", 0))->key_id, SigningKey().key_id());
}

TEST_F(PolicyHubTest, LoadResignsEveryVersionAfterAKeyRotation) {
  Apply("osaka", "first");
  Apply("osaka", "second");
  PolicyHub rotated(store_.get(), &clock_, OtherKey());
  ASSERT_TRUE(rotated.Load().ok());
  auto history = store_->PolicyHistory("osaka");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  for (const PolicyBundle& sp : *history) {
    EXPECT_EQ(sp.key_id, OtherKey().key_id());
    EXPECT_TRUE(OtherKey().public_key().Verify(sp).ok());
  }
}

TEST_F(PolicyHubTest, LoadRefusesAStoredPolicyWhoseSignatureDoesNotVerify) {
  const uint64_t v = Apply("osaka", "good");
  // Someone edits the policy in the database and keeps the old signature.
  ASSERT_TRUE(
      store_->SetPolicySignature("osaka", v, std::string(64, 'x'), SigningKey().key_id()).ok());
  PolicyHub reloaded(store_.get(), &clock_, SigningKey());
  Status s = reloaded.Load();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("group osaka version " + std::to_string(v)), std::string::npos)
      << s.error().message;
  EXPECT_NE(s.error().message.find("changed outside the collector"), std::string::npos);
}

}  // namespace
}  // namespace mamori
