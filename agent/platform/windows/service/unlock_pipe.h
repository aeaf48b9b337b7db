#pragma once

// The local channel of `mamori-agent unlock CODE` on Windows: the named pipe
// \\.\pipe\MamoriAgentUnlock, carrying the same request and reply as the
// Unix socket on Linux (unlock_service.h). The code is the credential and
// the service limits guessing; the pipe only narrows who may try:
//   - its DACL (kUnlockPipeSddl) lets SYSTEM and Administrators in, and
//     interactive users with read and write of data only: not
//     FILE_CREATE_PIPE_INSTANCE, so no user can open a server end of the
//     name and answer in the service's place. Network logons have no ACE,
//     and PIPE_REJECT_REMOTE_CLIENTS refuses them anyway;
//   - every client is identified (it connects with SECURITY_IDENTIFICATION,
//     so the service learns who it is but cannot act as it) and served only
//     when it is SYSTEM, an Administrator (an elevated token), or runs in
//     the session attached to the console (as the user logged on there,
//     when the service can read that user: as LocalSystem it can). Another
//     user's remote desktop session, or a service account, is refused
//     before its code is read;
//   - FILE_FLAG_FIRST_PIPE_INSTANCE: when another process holds the name
//     already, listening fails (and says so) rather than sharing it.

#include <windows.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "agent/core/unlock_service.h"
#include "agent/platform/windows/win32/handles.h"
#include "common/base/result.h"

namespace mamori {

inline constexpr wchar_t kUnlockPipeName[] = L"\\\\.\\pipe\\MamoriAgentUnlock";

// Full control for SYSTEM and Administrators; for interactive users
// FILE_READ_DATA, FILE_WRITE_DATA, FILE_READ_ATTRIBUTES,
// FILE_WRITE_ATTRIBUTES, READ_CONTROL and SYNCHRONIZE (0x120183). Protected,
// so nothing is inherited.
inline constexpr wchar_t kUnlockPipeSddl[] = L"D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;0x120183;;;IU)";

// Who is at the other end of the pipe, as its token says.
struct PipeClient {
  bool is_system = false;
  bool is_admin = false;  // an enabled Administrators group (elevated)
  uint32_t session = 0;   // TokenSessionId
  std::string sid;        // "S-1-5-21-..."
  std::string name;       // "DOMAIN\user"
};

// The session attached to the console and the SID of the user logged on
// there; nullopt where not known (no one logged on, or the service cannot
// ask).
struct ConsoleUser {
  std::optional<uint32_t> session;
  std::optional<std::string> sid;
};

// Empty when `client` may hand in a code; else why not (for the log and
// the refusal it gets). Pure.
std::string PipeClientRefusal(const PipeClient& client, const ConsoleUser& console);

// "DOMAIN\user (session 1)" for the requester field of the unlock event.
std::string DescribePipeClient(const PipeClient& client);

using UnlockPipeHandler =
    std::function<UnlockReply(std::string_view code, std::string_view requester)>;

class UnlockPipeServer {
 public:
  // Creates the first instance of `name` with kUnlockPipeSddl and serves on
  // a thread, one client at a time, until destroyed. `console` is asked
  // for each client (the console user changes with logons).
  static Result<std::unique_ptr<UnlockPipeServer>> Listen(std::wstring name,
                                                          UnlockPipeHandler handler,
                                                          std::function<ConsoleUser()> console);
  ~UnlockPipeServer();
  UnlockPipeServer(const UnlockPipeServer&) = delete;
  UnlockPipeServer& operator=(const UnlockPipeServer&) = delete;

 private:
  UnlockPipeServer(std::wstring name, UniqueHandle first, UniqueHandle stop,
                   UnlockPipeHandler handler, std::function<ConsoleUser()> console);
  void Serve();
  void ServeOne(HANDLE pipe);

  const std::wstring name_;
  UniqueHandle first_;
  UniqueHandle stop_;
  UnlockPipeHandler handler_;
  std::function<ConsoleUser()> console_;
  std::thread thread_;
};

// The console session and its user as the service sees them
// (WTSGetActiveConsoleSessionId, WTSQueryUserToken; the latter needs
// LocalSystem).
ConsoleUser CurrentConsoleUser();

// Sends `code` to the service at `name` and returns its reply.
Result<UnlockReply> SendUnlockCodeOverPipe(const std::wstring& name, std::string_view code);

}  // namespace mamori
