#include "agent/core/identity_keeper.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "common/crypto/pki.h"
#include "tests/mocks/agent_fakes.h"

namespace mamori {
namespace {

using std::chrono::milliseconds;
using testing::FakeClock;

constexpr int64_t kMinute = 60'000;
constexpr int64_t kDay = 24 * 60 * kMinute;

class MemoryIdentityStore final : public IdentityStore {
 public:
  Result<std::optional<TerminalIdentity>> Load(int64_t) override { return current; }
  Status SavePendingKey(std::string_view key_pem) override {
    pending_key = std::string(key_pem);
    return Status::Ok();
  }
  Result<TerminalIdentity> SavePendingCertificate(const IssuedCertificate& issued) override {
    if (pending_key.empty()) return MakeError(ErrorCode::kInternal, "no pending key");
    TerminalIdentity id;
    id.key_pem = pending_key;
    id.cert_pem = issued.certificate_pem + issued.chain_pem;
    id.ca_pem = issued.ca_pem;
    id.terminal_id = issued.terminal_id;
    id.not_before_ms = issued.not_before_ms;
    id.not_after_ms = issued.not_after_ms;
    pending = id;
    return id;
  }
  Status Promote() override {
    if (!pending) return MakeError(ErrorCode::kInternal, "nothing pending");
    current = pending;
    pending.reset();
    pending_key.clear();
    ++promotions;
    return Status::Ok();
  }
  Status DiscardPending() override {
    pending.reset();
    pending_key.clear();
    return Status::Ok();
  }

  std::optional<TerminalIdentity> current;
  std::optional<TerminalIdentity> pending;
  std::string pending_key;
  int promotions = 0;
};

class FakeEnrollment final : public EnrollmentClient {
 public:
  explicit FakeEnrollment(MemoryIdentityStore& store, FakeClock& clock)
      : store_(store), clock_(clock) {}
  Result<IssuedCertificate> Enroll(const EnrollmentParams& p) override {
    calls.push_back(p);
    key_saved_before_call = !store_.pending_key.empty();
    if (refusal) return *refusal;
    IssuedCertificate c;
    c.terminal_id = p.terminal_id.empty() ? p.hostname : p.terminal_id;
    c.certificate_pem = "cert-for-" + p.csr_pem;
    c.ca_pem = "root";
    c.not_before_ms = clock_.NowMs();
    c.not_after_ms = clock_.NowMs() + 30 * kDay;
    return c;
  }
  std::vector<EnrollmentParams> calls;
  std::optional<Error> refusal;
  bool key_saved_before_call = false;

 private:
  MemoryIdentityStore& store_;
  FakeClock& clock_;
};

class FakeChannel final : public IdentityChannel {
 public:
  explicit FakeChannel(FakeClock& clock) : clock_(clock) {}
  Result<IssuedCertificate> RenewCertificate(std::string_view csr_pem) override {
    ++renew_calls;
    if (refusal) return *refusal;
    IssuedCertificate c;
    c.terminal_id = "t-1";
    c.certificate_pem = "renewed-" + std::string(csr_pem);
    c.ca_pem = "root";
    c.not_before_ms = clock_.NowMs();
    c.not_after_ms = clock_.NowMs() + life_ms;
    return c;
  }
  void UseIdentity(const TerminalIdentity& identity) override {
    in_use.push_back(identity.cert_pem);
    proven = false;
  }
  bool IdentityProven() override { return proven; }

  int renew_calls = 0;
  std::optional<Error> refusal;
  std::vector<std::string> in_use;
  bool proven = false;
  int64_t life_ms = 30 * kDay;

 private:
  FakeClock& clock_;
};

class RecordingOutbox final : public EventOutbox {
 public:
  Result<uint64_t> Append(Event e) override {
    e.seq = events.size() + 1;
    events.push_back(e);
    return e.seq;
  }
  std::vector<OutboxRecord> Pending(std::size_t) override { return {}; }
  void Ack(uint64_t) override {}
  std::vector<Event> events;
};

class IdentityKeeperTest : public ::testing::Test {
 protected:
  IdentityKeeperDeps Deps() {
    IdentityKeeperDeps d;
    d.store = &store_;
    d.enrollment = &enrollment_;
    d.channel = &channel_;
    d.outbox = &outbox_;
    d.clock = &clock_;
    d.make_key = [this](std::string_view name) -> Result<KeyAndRequest> {
      ++keys_made_;
      return KeyAndRequest{"key-" + std::to_string(keys_made_),
                           "csr-" + std::string(name) + "-" + std::to_string(keys_made_)};
    };
    d.read_token = [this]() -> Result<std::string> {
      if (token_.empty()) return MakeError(ErrorCode::kFailedPrecondition, "no token");
      return token_;
    };
    d.token_used = [this] { token_.clear(); };
    d.on_enrolled = [this](const TerminalIdentity& id) { enrolled_as_ = id.terminal_id; };
    d.notify = [this] { ++notified_; };
    return d;
  }
  IdentityKeeperOptions Options() {
    IdentityKeeperOptions o;
    o.backoff_initial = milliseconds(1000);
    o.backoff_max = milliseconds(60'000);
    o.probation = milliseconds(5 * kMinute);
    o.enrollment.hostname = "suita-pc-01";
    o.enrollment.agent_version = "0.1.0";
    o.random = [] { return 0.5; };
    return o;
  }
  TerminalIdentity Identity(int64_t not_before, int64_t life) {
    TerminalIdentity id;
    id.key_pem = "old-key";
    id.cert_pem = "old-cert";
    id.ca_pem = "root";
    id.terminal_id = "t-1";
    id.not_before_ms = not_before;
    id.not_after_ms = not_before + life;
    return id;
  }
  std::vector<Event> EventsOf(EventKind kind) {
    std::vector<Event> out;
    for (const Event& e : outbox_.events) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }

  FakeClock clock_;
  MemoryIdentityStore store_;
  FakeEnrollment enrollment_{store_, clock_};
  FakeChannel channel_{clock_};
  RecordingOutbox outbox_;
  std::string token_ = "mt_secret";
  int keys_made_ = 0;
  int notified_ = 0;
  std::string enrolled_as_;
};

TEST_F(IdentityKeeperTest, EnrollsWithTheKeyOnDiskFirstAndUsesTheTokenOnce) {
  IdentityKeeper keeper(Deps(), Options(), std::nullopt);
  keeper.Step();
  ASSERT_EQ(enrollment_.calls.size(), 1u);
  EXPECT_TRUE(enrollment_.key_saved_before_call);
  EXPECT_EQ(enrollment_.calls[0].token, "mt_secret");
  EXPECT_EQ(enrollment_.calls[0].hostname, "suita-pc-01");
  EXPECT_EQ(enrollment_.calls[0].csr_pem, "csr-suita-pc-01-1");
  ASSERT_TRUE(store_.current.has_value());
  EXPECT_EQ(store_.current->key_pem, "key-1");
  EXPECT_EQ(token_, "");  // consumed
  EXPECT_EQ(enrolled_as_, "suita-pc-01");
  ASSERT_EQ(channel_.in_use.size(), 1u);
  EXPECT_EQ(channel_.in_use[0], "cert-for-csr-suita-pc-01-1");
  ASSERT_TRUE(keeper.current().has_value());

  // Enrolled: nothing more until the renewal is due.
  keeper.Step();
  EXPECT_EQ(enrollment_.calls.size(), 1u);
  EXPECT_EQ(channel_.renew_calls, 0);
}

TEST_F(IdentityKeeperTest, RefusedTokenLeavesNoIdentityAndRetriesWithBackoff) {
  enrollment_.refusal = MakeError(ErrorCode::kUnauthenticated, "Enroll: UNAUTHENTICATED: bad");
  IdentityKeeper keeper(Deps(), Options(), std::nullopt);
  const milliseconds first = keeper.Step();
  EXPECT_GT(first, milliseconds(0));
  EXPECT_LE(first, milliseconds(1000));
  EXPECT_FALSE(store_.current.has_value());
  EXPECT_EQ(token_, "mt_secret");  // kept for the next attempt
  EXPECT_NE(keeper.last_error().find("UNAUTHENTICATED: bad"), std::string::npos);
  EXPECT_TRUE(enrolled_as_.empty());
  const milliseconds second = keeper.Step();
  EXPECT_EQ(enrollment_.calls.size(), 2u);
  EXPECT_GT(second, first);  // the backoff grows
  enrollment_.refusal.reset();
  keeper.Step();
  EXPECT_TRUE(store_.current.has_value());
}

TEST_F(IdentityKeeperTest, NoTokenIsAnErrorWithoutCallingTheCollector) {
  token_.clear();
  IdentityKeeper keeper(Deps(), Options(), std::nullopt);
  keeper.Step();
  EXPECT_TRUE(enrollment_.calls.empty());
  EXPECT_EQ(keeper.last_error(), "no token");
}

TEST_F(IdentityKeeperTest, RenewsAtTwoThirdsAndPromotesOnlyOnceTheNewPairIsAccepted) {
  const int64_t start = clock_.NowMs();
  store_.current = Identity(start, 30 * kDay);
  IdentityKeeper keeper(Deps(), Options(), store_.current);
  clock_.Advance(20 * kDay - 1);
  keeper.Step();
  EXPECT_EQ(channel_.renew_calls, 0);
  clock_.Advance(1);
  keeper.Step();
  ASSERT_EQ(channel_.renew_calls, 1);
  ASSERT_EQ(channel_.in_use.size(), 1u);
  EXPECT_EQ(channel_.in_use[0], "renewed-csr-t-1-1");
  EXPECT_EQ(notified_, 1);  // a report soon proves the new pair
  // On probation: the old pair stays current on disk.
  keeper.Step();
  EXPECT_EQ(store_.current->key_pem, "old-key");
  EXPECT_TRUE(EventsOf(EventKind::kCertificateRenewed).empty());

  channel_.proven = true;
  keeper.Step();
  EXPECT_EQ(store_.current->key_pem, "key-1");
  EXPECT_EQ(store_.promotions, 1);
  auto renewed = EventsOf(EventKind::kCertificateRenewed);
  ASSERT_EQ(renewed.size(), 1u);
  EXPECT_EQ(renewed[0].severity, Severity::kInfo);
  EXPECT_NE(renewed[0].detail.find("valid until"), std::string::npos);
  EXPECT_GT(notified_, 0);
  EXPECT_EQ(keeper.current()->cert_pem, "renewed-csr-t-1-1");
  // The next renewal counts from the new certificate.
  keeper.Step();
  EXPECT_EQ(channel_.renew_calls, 1);
}

TEST_F(IdentityKeeperTest, NewPairNotAcceptedInTimeFallsBackToTheOldOne) {
  const int64_t start = clock_.NowMs();
  store_.current = Identity(start, 30 * kDay);
  IdentityKeeper keeper(Deps(), Options(), store_.current);
  clock_.Advance(20 * kDay);
  keeper.Step();
  ASSERT_EQ(channel_.in_use.size(), 1u);
  clock_.Advance(5 * kMinute);
  keeper.Step();
  ASSERT_EQ(channel_.in_use.size(), 2u);
  EXPECT_EQ(channel_.in_use[1], "old-cert");
  EXPECT_EQ(store_.current->key_pem, "old-key");
  EXPECT_FALSE(store_.pending.has_value());
  EXPECT_NE(keeper.last_error().find("not accepted"), std::string::npos);
  clock_.Advance(60'000);
  keeper.Step();
  EXPECT_EQ(channel_.renew_calls, 2);  // tries again
}

TEST_F(IdentityKeeperTest, FailingRenewalRaisesAnAlertInTheLastSixthAboutDaily) {
  const int64_t start = clock_.NowMs();
  store_.current = Identity(start, 30 * kDay);
  channel_.refusal = MakeError(ErrorCode::kPermissionDenied, "RenewCertificate: refused");
  IdentityKeeper keeper(Deps(), Options(), store_.current);
  clock_.Advance(20 * kDay);
  keeper.Step();
  EXPECT_EQ(channel_.renew_calls, 1);
  EXPECT_FALSE(store_.pending.has_value());  // the unused key is not kept
  EXPECT_TRUE(EventsOf(EventKind::kCertificateRenewalFailed).empty());
  // Retries until the last sixth, without an alarm.
  for (int i = 0; i < 50 && clock_.NowMs() < start + 25 * kDay - kDay / 2; ++i) {
    clock_.Advance(std::max<int64_t>(keeper.Step().count(), 1));
  }
  EXPECT_GT(channel_.renew_calls, 2);
  EXPECT_TRUE(EventsOf(EventKind::kCertificateRenewalFailed).empty());
  clock_.Advance(start + 25 * kDay - clock_.NowMs());
  keeper.Step();
  auto alarms = EventsOf(EventKind::kCertificateRenewalFailed);
  ASSERT_EQ(alarms.size(), 1u);
  EXPECT_EQ(alarms[0].severity, Severity::kAlert);
  EXPECT_NE(alarms[0].detail.find(FormatUtc(start + 30 * kDay)), std::string::npos)
      << alarms[0].detail;
  EXPECT_NE(alarms[0].detail.find("refused"), std::string::npos) << alarms[0].detail;
  // Hours later: no second alarm yet; a day later: one more.
  clock_.Advance(12 * 60 * kMinute);
  keeper.Step();
  EXPECT_EQ(EventsOf(EventKind::kCertificateRenewalFailed).size(), 1u);
  clock_.Advance(12 * 60 * kMinute);
  keeper.Step();
  EXPECT_EQ(EventsOf(EventKind::kCertificateRenewalFailed).size(), 2u);
}

}  // namespace
}  // namespace mamori
