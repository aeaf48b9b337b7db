// The unlock channel of the Windows agent: who may hand in a code (pure),
// and the named pipe itself against Wine (a real pipe, a real client
// token, the same wire as the Linux socket).
#include "agent/platform/windows/service/unlock_pipe.h"

#include <gtest/gtest.h>

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "agent/platform/windows/win32/security.h"

namespace mamori {
namespace {

PipeClient User(uint32_t session, std::string sid = "S-1-5-21-1-2-3-1001") {
  PipeClient c;
  c.session = session;
  c.sid = std::move(sid);
  c.name = "TERM01\\tanaka";
  return c;
}

TEST(PipeClientRefusalTest, ConsoleUserSystemAndAdministratorsMayAsk) {
  const ConsoleUser console{1u, std::string("S-1-5-21-1-2-3-1001")};
  EXPECT_EQ(PipeClientRefusal(User(1), console), "");
  PipeClient system = User(0, "S-1-5-18");
  system.is_system = true;
  EXPECT_EQ(PipeClientRefusal(system, console), "");
  PipeClient admin = User(2, "S-1-5-21-1-2-3-500");
  admin.is_admin = true;
  EXPECT_EQ(PipeClientRefusal(admin, ConsoleUser{}), "");
}

TEST(PipeClientRefusalTest, OtherSessionsAndUsersAreRefusedWithAReason) {
  const ConsoleUser console{1u, std::string("S-1-5-21-1-2-3-1001")};
  // Another user's remote desktop session.
  const std::string rdp = PipeClientRefusal(User(3, "S-1-5-21-1-2-3-1002"), console);
  EXPECT_NE(rdp.find("session 3"), std::string::npos) << rdp;
  EXPECT_NE(rdp.find("TERM01\\tanaka"), std::string::npos) << rdp;
  // Another account started in the console session (runas).
  const std::string runas = PipeClientRefusal(User(1, "S-1-5-21-1-2-3-1002"), console);
  EXPECT_NE(runas.find("not the user logged on at the console"), std::string::npos) << runas;
  // No one at the console.
  EXPECT_NE(PipeClientRefusal(User(1), ConsoleUser{}).find("no one is logged on"),
            std::string::npos);
  // The console user unknown (the service cannot read it): the session decides.
  EXPECT_EQ(PipeClientRefusal(User(1), ConsoleUser{1u, std::nullopt}), "");
}

TEST(PipeClientRefusalTest, DescribeNamesUserAndSession) {
  EXPECT_EQ(DescribePipeClient(User(1)), "TERM01\\tanaka (session 1)");
  PipeClient nameless = User(4);
  nameless.name.clear();
  EXPECT_EQ(DescribePipeClient(nameless), "S-1-5-21-1-2-3-1001 (session 4)");
}

// The DACL gives interactive users data access only: never
// FILE_CREATE_PIPE_INSTANCE (0x4), which would let a user serve the name.
TEST(UnlockPipeSddlTest, InteractiveUsersCannotCreateInstances) {
  const std::wstring sddl = kUnlockPipeSddl;
  EXPECT_NE(sddl.find(L"(A;;0x120183;;;IU)"), std::wstring::npos);
  EXPECT_EQ(0x120183u & 0x4u, 0u);                      // FILE_CREATE_PIPE_INSTANCE
  EXPECT_EQ(sddl.find(L";;;WD)"), std::wstring::npos);  // no Everyone
  EXPECT_EQ(sddl.find(L";;;NU)"), std::wstring::npos);  // no network logons
  EXPECT_EQ(sddl.find(L";;;AU)"), std::wstring::npos);  // no Authenticated Users
  EXPECT_TRUE(SecurityDescriptorFromSddl(kUnlockPipeSddl).ok());
}

// A pipe name of this test run's own, so a running agent is never touched.
std::wstring TestPipe(const char* tag) {
  return L"\\\\.\\pipe\\MamoriUnlockTest-" + std::to_wstring(::GetCurrentProcessId()) + L"-" +
         std::wstring(tag, tag + std::strlen(tag));
}

class UnlockPipeTest : public ::testing::Test {
 protected:
  UnlockReply Handle(std::string_view code, std::string_view requester) {
    std::lock_guard lock(mu_);
    codes_.emplace_back(code);
    requesters_.emplace_back(requester);
    if (code == "GOOD-CODE")
      return {true, UnlockRefusal::kNone, "USB メモリを 17:00 まで許可しました"};
    return {false, UnlockRefusal::kTypo, "the code has a typo"};
  }
  UnlockPipeHandler Handler() {
    return [this](std::string_view c, std::string_view r) { return Handle(c, r); };
  }
  std::mutex mu_;
  std::vector<std::string> codes_;
  std::vector<std::string> requesters_;
};

TEST_F(UnlockPipeTest, CodeGoesThroughAndTheReplyComesBack) {
  const std::wstring name = TestPipe("roundtrip");
  // Under Wine the test runs as an administrator; who else may ask is
  // PipeClientRefusal's (tested above).
  auto server = UnlockPipeServer::Listen(name, Handler(), [] { return ConsoleUser{}; });
  ASSERT_TRUE(server.ok()) << server.error().message;

  auto accepted = SendUnlockCodeOverPipe(name, "GOOD-CODE");
  ASSERT_TRUE(accepted.ok()) << accepted.error().message;
  EXPECT_TRUE(accepted->accepted);
  EXPECT_EQ(accepted->message, "USB メモリを 17:00 まで許可しました");

  // The same instance serves the next client.
  auto refused = SendUnlockCodeOverPipe(name, "BAD-CODE");
  ASSERT_TRUE(refused.ok()) << refused.error().message;
  EXPECT_FALSE(refused->accepted);
  EXPECT_EQ(refused->refusal, UnlockRefusal::kTypo);
  EXPECT_EQ(refused->message, "the code has a typo");

  std::lock_guard lock(mu_);
  ASSERT_EQ(codes_, (std::vector<std::string>{"GOOD-CODE", "BAD-CODE"}));
  // The requester comes from the client's token: a session, and a name or
  // a SID.
  ASSERT_EQ(requesters_.size(), 2u);
  EXPECT_NE(requesters_[0].find("(session "), std::string::npos) << requesters_[0];
  EXPECT_GT(requesters_[0].size(), std::string(" (session 0)").size()) << requesters_[0];
}

TEST_F(UnlockPipeTest, TheNameCannotBeSharedWithAnotherServer) {
  const std::wstring name = TestPipe("squat");
  auto first = UnlockPipeServer::Listen(name, Handler(), [] { return ConsoleUser{}; });
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = UnlockPipeServer::Listen(name, Handler(), [] { return ConsoleUser{}; });
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("held by another process"), std::string::npos)
      << second.error().message;
}

TEST_F(UnlockPipeTest, NoServiceIsAClearError) {
  auto reply = SendUnlockCodeOverPipe(TestPipe("nobody"), "GOOD-CODE");
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(reply.error().message.find("is the service running?"), std::string::npos)
      << reply.error().message;
}

TEST_F(UnlockPipeTest, OverLongCodeIsRefusedBeforeSending) {
  auto reply = SendUnlockCodeOverPipe(TestPipe("long"), std::string(400, 'A'));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, ErrorCode::kInvalidArgument);
}

// A client that is not speaking the protocol (or sends an endless line)
// gets bad_request, and the handler never sees it.
TEST_F(UnlockPipeTest, GarbageIsRefusedAsABadRequest) {
  const std::wstring name = TestPipe("garbage");
  auto server = UnlockPipeServer::Listen(name, Handler(), [] { return ConsoleUser{}; });
  ASSERT_TRUE(server.ok()) << server.error().message;
  for (const std::string& request : {std::string("HELLO\n"), std::string(1000, 'U') + "\n"}) {
    UniqueHandle pipe(::CreateFileW(name.c_str(), FILE_READ_DATA | FILE_WRITE_DATA, 0, nullptr,
                                    OPEN_EXISTING, SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION,
                                    nullptr));
    if (!pipe && ::GetLastError() == ERROR_PIPE_BUSY) {
      ASSERT_TRUE(::WaitNamedPipeW(name.c_str(), 5000));
      pipe.reset(::CreateFileW(name.c_str(), FILE_READ_DATA | FILE_WRITE_DATA, 0, nullptr,
                               OPEN_EXISTING, SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION,
                               nullptr));
    }
    ASSERT_TRUE(pipe);
    DWORD n = 0;
    ASSERT_TRUE(
        ::WriteFile(pipe.get(), request.data(), static_cast<DWORD>(request.size()), &n, nullptr));
    char buf[512];
    std::string reply;
    while (reply.find('\n') == std::string::npos &&
           ::ReadFile(pipe.get(), buf, sizeof(buf), &n, nullptr) && n > 0) {
      reply.append(buf, n);
    }
    EXPECT_EQ(reply, std::string(kBadUnlockRequestReply));
  }
  std::lock_guard lock(mu_);
  EXPECT_TRUE(codes_.empty());
}

}  // namespace
}  // namespace mamori
