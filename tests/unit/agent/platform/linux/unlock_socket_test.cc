#include "agent/platform/linux/unlock_socket.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>

#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using testing::TempDir;

TEST(UnlockSocketTest, CarriesTheCodeAndThePeerAndTheAnswer) {
  TempDir dir;
  const std::string path = dir.File("run/mamori/unlock.sock");
  std::string seen_code, seen_requester;
  auto server = UnlockSocketServer::Listen(path, [&](std::string_view code, std::string_view who) {
    seen_code = std::string(code);
    seen_requester = std::string(who);
    if (code == "GOOD") return UnlockReply{true, UnlockRefusal::kNone, "allowed\nuntil later"};
    return UnlockReply{false, UnlockRefusal::kTypo, "typo at character 3"};
  });
  ASSERT_TRUE(server.ok()) << server.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0666u);  // any local user may type a code

  Result<UnlockReply> ok = SendUnlockCode(path, "GOOD");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_TRUE(ok->accepted);
  EXPECT_EQ(ok->message, "allowed until later");  // one line on the wire
  EXPECT_EQ(seen_code, "GOOD");
  EXPECT_EQ(seen_requester.rfind("uid " + std::to_string(::getuid()), 0), 0u) << seen_requester;

  Result<UnlockReply> bad = SendUnlockCode(path, "BAD");
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(bad->accepted);
  EXPECT_EQ(bad->refusal, UnlockRefusal::kTypo);
  EXPECT_EQ(bad->message, "typo at character 3");

  EXPECT_FALSE(SendUnlockCode(path, std::string(1000, 'A')).ok());
  server->reset();
  EXPECT_NE(::access(path.c_str(), F_OK), 0);  // removed when the service stops
  Result<UnlockReply> gone = SendUnlockCode(path, "GOOD");
  ASSERT_FALSE(gone.ok());
  EXPECT_NE(gone.error().message.find("is the service running?"), std::string::npos);
}

TEST(UnlockSocketTest, RefusesGarbageAndOverlongRequests) {
  TempDir dir;
  const std::string path = dir.File("unlock.sock");
  std::atomic<int> calls{0};
  auto server = UnlockSocketServer::Listen(path, [&](std::string_view, std::string_view) {
    ++calls;
    return UnlockReply{};
  });
  ASSERT_TRUE(server.ok());
  for (const std::string& request : {std::string("HELLO\n"), std::string(4000, 'U') + "\n"}) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    ASSERT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
    (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buf[256] = {0};
    const ssize_t n = ::recv(fd, buf, sizeof(buf) - 1, 0);
    ::close(fd);
    if (n > 0) {
      EXPECT_EQ(std::string(buf).rfind("refused\tbad_request", 0), 0u);
    }
  }
  EXPECT_EQ(calls.load(), 0);
}

TEST(UnlockSocketTest, NeverReplacesSomethingThatIsNotASocket) {
  TempDir dir;
  const std::string path = dir.Write("unlock.sock", "precious");
  auto server = UnlockSocketServer::Listen(
      path, [](std::string_view, std::string_view) { return UnlockReply{}; });
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.error().message.find("is not a socket"), std::string::npos);
}

}  // namespace
}  // namespace mamori
