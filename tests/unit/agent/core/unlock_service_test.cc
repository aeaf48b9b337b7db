#include "agent/core/unlock_service.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "agent/storage/file_unlock_state.h"
#include "common/base/file_io.h"
#include "tests/mocks/agent_fakes.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using testing::FakeClock;
using testing::TempDir;

constexpr int64_t kNow = 1'790'000'000'000LL;
constexpr int64_t kHour = 3600 * 1000;

class RecordingOutbox final : public EventOutbox {
 public:
  Result<uint64_t> Append(Event event) override {
    event.seq = events.size() + 1;
    events.push_back(std::move(event));
    return events.back().seq;
  }
  std::vector<OutboxRecord> Pending(std::size_t) override { return {}; }
  void Ack(uint64_t) override {}
  std::vector<Event> events;
};

Device MakeDevice(std::string id, uint16_t vid, uint16_t pid, std::string serial) {
  Device d;
  d.device_id = std::move(id);
  d.identity.vendor_id = vid;
  d.identity.product_id = pid;
  d.identity.serial = std::move(serial);
  d.decision.action = Action::kBlock;
  return d;
}

class UnlockServiceTest : public ::testing::Test {
 protected:
  UnlockServiceTest() : clock_(kNow) {
    scope_ = UnlockScope{"deployment-1", "T-0001", std::string(32, '\x5a')};
    devices_ = {MakeDevice("1-1", 0x0781, 0x5581, "SER-A"), MakeDevice("1-2", 0x046d, 0xc52b, "")};
  }

  std::unique_ptr<UnlockService> NewService(std::optional<UnlockScope> scope) {
    store_ = std::make_unique<FileUnlockStateStore>(dir_.path());
    UnlockServiceDeps deps;
    deps.clock = &clock_;
    deps.outbox = &outbox_;
    deps.state = store_.get();
    deps.scope = std::move(scope);
    deps.devices = [this] { return devices_; };
    deps.grant = [this](DeviceException ex) -> Status {
      if (!grant_error_.empty()) return MakeError(ErrorCode::kIo, grant_error_);
      granted_.push_back(std::move(ex));
      return Status::Ok();
    };
    auto service = std::make_unique<UnlockService>(std::move(deps));
    EXPECT_TRUE(service->Start().ok());
    return service;
  }
  std::unique_ptr<UnlockService> NewService() { return NewService(scope_); }

  std::string Code(const UnlockDevice& device, int64_t expiry = kNow + 4 * kHour,
                   uint32_t nonce = 1) {
    return IssueUnlockCode(scope_, device, expiry, nonce).value();
  }
  std::string StickCode(uint32_t nonce = 1) {
    return Code({0x0781, 0x5581, "SER-A"}, kNow + 4 * kHour, nonce);
  }

  TempDir dir_;
  FakeClock clock_;
  RecordingOutbox outbox_;
  UnlockScope scope_;
  std::vector<Device> devices_;
  std::vector<DeviceException> granted_;
  std::string grant_error_;
  std::unique_ptr<FileUnlockStateStore> store_;
};

TEST_F(UnlockServiceTest, AcceptedCodeBecomesOneExceptionUntilItsExpiry) {
  auto service = NewService();
  const std::string code = StickCode();
  UnlockReply r = service->Submit(code, "uid 1000 (alice)");
  ASSERT_TRUE(r.accepted) << r.message;
  EXPECT_NE(r.message.find("0781:5581 serial 'SER-A'"), std::string::npos) << r.message;
  ASSERT_EQ(granted_.size(), 1u);
  const DeviceException& ex = granted_[0];
  EXPECT_EQ(ex.id, "unlock-" + code);
  EXPECT_EQ(ex.terminal_id, "T-0001");
  EXPECT_EQ(ex.vendor_id, 0x0781);
  EXPECT_EQ(ex.product_id, 0x5581);
  EXPECT_EQ(ex.serial, "SER-A");
  EXPECT_EQ(ex.not_before_ms, kNow);
  EXPECT_EQ(ex.not_after_ms, ParseUnlockCode(code).fields.expiry_ms);
  ASSERT_EQ(outbox_.events.size(), 1u);
  const Event& e = outbox_.events[0];
  EXPECT_EQ(e.kind, EventKind::kUnlockCodeAccepted);
  ASSERT_TRUE(e.device.has_value());
  EXPECT_EQ(e.device->identity.serial, "SER-A");
  EXPECT_NE(e.detail.find("uid 1000 (alice)"), std::string::npos);
  // The collector reads the code back from the detail to reconcile the use.
  std::optional<UnlockUseReport> use = ParseUnlockAcceptedDetail(e.detail);
  ASSERT_TRUE(use.has_value()) << e.detail;
  EXPECT_EQ(use->code, code);
  EXPECT_EQ(use->requester, "uid 1000 (alice)");
}

TEST_F(UnlockServiceTest, RefusesTheSameCodeTwiceAlsoAfterARestart) {
  auto service = NewService();
  const std::string code = StickCode();
  ASSERT_TRUE(service->Submit(code, "u").accepted);
  UnlockReply again = service->Submit(code, "u");
  EXPECT_FALSE(again.accepted);
  EXPECT_EQ(again.refusal, UnlockRefusal::kReused);
  EXPECT_NE(again.message.find("already been used"), std::string::npos);

  service.reset();
  auto restarted = NewService();
  std::string lower = code;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  UnlockReply after = restarted->Submit(lower, "u");
  EXPECT_EQ(after.refusal, UnlockRefusal::kReused);
  EXPECT_EQ(granted_.size(), 1u);
  ASSERT_FALSE(outbox_.events.empty());
  EXPECT_EQ(outbox_.events.back().kind, EventKind::kUnlockCodeRefused);
  EXPECT_NE(outbox_.events.back().detail.find("(reused)"), std::string::npos);
  // Another code for the same device (another nonce) still works.
  EXPECT_TRUE(restarted->Submit(StickCode(2), "u").accepted);
}

TEST_F(UnlockServiceTest, ForgetsUsedCodesOnlyAfterTheyExpire) {
  auto service = NewService();
  ASSERT_TRUE(service->Submit(StickCode(), "u").accepted);
  clock_.Advance(3 * kHour);
  ASSERT_TRUE(service->Submit(StickCode(2), "u").accepted);  // saves, pruning nothing yet
  EXPECT_NE(ReadFileToString(store_->path()).value().find(StickCode()), std::string::npos);
  clock_.Advance(2 * kHour);  // both codes have expired (plus skew)
  const std::string later = Code({0x0781, 0x5581, "SER-A"}, clock_.NowMs() + kHour, 3);
  ASSERT_TRUE(service->Submit(later, "u").accepted);
  const std::string state = ReadFileToString(store_->path()).value();
  EXPECT_EQ(state.find(StickCode()), std::string::npos);
  EXPECT_NE(state.find(later), std::string::npos);
}

TEST_F(UnlockServiceTest, RefusesACodeForAnotherDeviceOrTerminalWithClearMessages) {
  auto service = NewService();
  UnlockReply other_device = service->Submit(Code({0x0781, 0x5581, "SER-B"}), "u");
  EXPECT_EQ(other_device.refusal, UnlockRefusal::kOtherDevice);
  EXPECT_NE(other_device.message.find("0781:5581 serial 'SER-A'"), std::string::npos)
      << other_device.message;

  // A terminal whose public hint differs from T-0001's.
  for (int i = 0; i < 100; ++i) {
    UnlockScope other = scope_;
    other.terminal_id = "T-" + std::to_string(9000 + i);
    if (UnlockScopeTag(other.deployment_id, other.terminal_id) ==
        UnlockScopeTag(scope_.deployment_id, scope_.terminal_id)) {
      continue;
    }
    other.key = std::string(32, '\x11');
    UnlockReply r = service->Submit(
        IssueUnlockCode(other, {0x0781, 0x5581, "SER-A"}, kNow + kHour, 1).value(), "u");
    EXPECT_EQ(r.refusal, UnlockRefusal::kOtherTerminal) << r.message;
    break;
  }
  EXPECT_TRUE(granted_.empty());
}

TEST_F(UnlockServiceTest, RefusesExpiredAndTypoCodes) {
  auto service = NewService();
  const std::string expired = Code({0x0781, 0x5581, "SER-A"}, kNow + kHour);
  clock_.Advance(2 * kHour);
  UnlockReply r = service->Submit(expired, "u");
  EXPECT_EQ(r.refusal, UnlockRefusal::kExpired);
  EXPECT_NE(r.message.find("expired at"), std::string::npos);

  std::string typo = StickCode();
  typo[8] = typo[8] == 'Q' ? 'R' : 'Q';
  r = service->Submit(typo, "u");
  EXPECT_EQ(r.refusal, UnlockRefusal::kTypo);
  EXPECT_NE(r.message.find("typo at character 8"), std::string::npos) << r.message;
  EXPECT_TRUE(granted_.empty());
}

TEST_F(UnlockServiceTest, LocksOutAfterRepeatedWrongCodesAcrossRestarts) {
  auto service = NewService();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(service->Submit(Code({1, 2, "X" + std::to_string(i)}), "u").refusal,
              UnlockRefusal::kOtherDevice);
    clock_.Advance(60 * 1000);
  }
  service.reset();
  service = NewService();  // the count survives
  EXPECT_EQ(service->Submit(Code({1, 2, "Y"}), "u").refusal, UnlockRefusal::kOtherDevice);
  // Now even a valid code waits.
  UnlockReply locked = service->Submit(StickCode(), "u");
  EXPECT_EQ(locked.refusal, UnlockRefusal::kLockedOut);
  EXPECT_NE(locked.message.find("try again after"), std::string::npos);
  // Typos never count: they reveal nothing a guesser could use.
  clock_.Advance(kHour + 1);
  std::string typo = StickCode();
  typo[0] = typo[0] == '7' ? '8' : '7';
  for (int i = 0; i < 10; ++i) service->Submit(typo, "u");
  EXPECT_TRUE(service->Submit(StickCode(), "u").accepted);
}

TEST_F(UnlockServiceTest, UnconfiguredOrUnreadableStateRefusesEverything) {
  auto unconfigured = NewService(std::nullopt);
  UnlockReply r = unconfigured->Submit(StickCode(), "u");
  EXPECT_EQ(r.refusal, UnlockRefusal::kUnavailable);
  EXPECT_NE(r.message.find("not set up"), std::string::npos);

  ASSERT_TRUE(WriteFileAtomic(dir_.File("unlock.state"), "garbage\n").ok());
  FileUnlockStateStore store(dir_.path());
  UnlockServiceDeps deps;
  deps.clock = &clock_;
  deps.outbox = &outbox_;
  deps.state = &store;
  deps.scope = scope_;
  deps.devices = [this] { return devices_; };
  deps.grant = [](DeviceException) { return Status::Ok(); };
  UnlockService damaged(std::move(deps));
  EXPECT_FALSE(damaged.Start().ok());
  EXPECT_EQ(damaged.Submit(StickCode(), "u").refusal, UnlockRefusal::kUnavailable);
}

TEST_F(UnlockServiceTest, AFailedGrantLeavesTheCodeUnused) {
  auto service = NewService();
  grant_error_ = "exceptions unavailable";
  UnlockReply r = service->Submit(StickCode(), "u");
  EXPECT_FALSE(r.accepted);
  EXPECT_NE(r.message.find("exceptions unavailable"), std::string::npos);
  grant_error_.clear();
  EXPECT_TRUE(service->Submit(StickCode(), "u").accepted);
}

TEST(UnlockStateTest, RoundTripsAndRefusesDamage) {
  std::map<std::string, int64_t> used;
  std::vector<int64_t> failures;
  const std::string code =
      IssueUnlockCode({"d", "t", std::string(32, 'k')}, {1, 2, "s"}, kNow, 3).value();
  const std::string text = SerializeUnlockState({{code, kNow}}, {kNow - 5});
  ASSERT_TRUE(ParseUnlockState(text, used, failures).ok());
  EXPECT_EQ(used.at(code), kNow);
  EXPECT_EQ(failures, std::vector<int64_t>{kNow - 5});
  std::map<std::string, int64_t> u2;
  std::vector<int64_t> f2;
  EXPECT_FALSE(ParseUnlockState("mamori-unlock-state 1\nused XYZ 5\n", u2, f2).ok());
  EXPECT_FALSE(ParseUnlockState("mamori-unlock-state 1\nfail x\n", u2, f2).ok());
  EXPECT_FALSE(ParseUnlockState("", u2, f2).ok());
}

// The wire of the local channel, shared by the Linux socket and the Windows
// pipe: what one side writes the other reads back, and nothing else passes.
TEST(UnlockWireTest, RequestAndReplyRoundTrip) {
  Result<std::string> request = FormatUnlockRequest("7k3m9q 2xh8tb\t4wfr0c");
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(*request, "UNLOCK 7k3m9q 2xh8tb 4wfr0c\n");  // one line, whatever was typed
  const std::string_view line = std::string_view(*request).substr(0, request->size() - 1);
  ASSERT_TRUE(ParseUnlockRequest(line).has_value());
  EXPECT_EQ(*ParseUnlockRequest(line), "7k3m9q 2xh8tb 4wfr0c");
  EXPECT_FALSE(ParseUnlockRequest("HELLO").has_value());
  EXPECT_FALSE(ParseUnlockRequest("UNLOCK " + std::string(kMaxUnlockRequestBytes, 'A')));
  EXPECT_FALSE(FormatUnlockRequest(std::string(kMaxUnlockRequestBytes, 'A')).ok());

  const std::string accepted =
      FormatUnlockReply({true, UnlockRefusal::kNone, "allowed\nuntil 17:00"});
  EXPECT_EQ(accepted, "accepted\tallowed until 17:00\n");
  Result<UnlockReply> a =
      ParseUnlockReply(std::string_view(accepted).substr(0, accepted.size() - 1));
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->accepted);
  EXPECT_EQ(a->message, "allowed until 17:00");

  const std::string refused = FormatUnlockReply({false, UnlockRefusal::kReused, "used already"});
  Result<UnlockReply> r = ParseUnlockReply(std::string_view(refused).substr(0, refused.size() - 1));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->accepted);
  EXPECT_EQ(r->refusal, UnlockRefusal::kReused);
  EXPECT_EQ(r->message, "used already");

  // A reason this client does not know (bad_request, not_permitted) is
  // still a refusal with its message.
  Result<UnlockReply> bad = ParseUnlockReply("refused\tnot_permitted\tonly the console user");
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(bad->accepted);
  EXPECT_EQ(bad->refusal, UnlockRefusal::kUnavailable);
  EXPECT_EQ(bad->message, "only the console user");
  EXPECT_FALSE(ParseUnlockReply("garbage").ok());
  EXPECT_FALSE(ParseUnlockReply("refused\tno-message").ok());
}

}  // namespace
}  // namespace mamori
