#include "agent/platform/windows/service/unlock_pipe.h"

// clang-format off
#include <windows.h>
// clang-format on
#include <sddl.h>
#include <wtsapi32.h>

#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "agent/platform/windows/win32/security.h"
#include "agent/platform/windows/win32/session_user.h"
#include "agent/platform/windows/win32/wide_string.h"
#include "agent/platform/windows/win32/win32_registry.h"
#include "common/base/sanitize.h"

namespace mamori {
namespace {

// A client that stops sending or reading is dropped after this.
constexpr DWORD kIoTimeoutMs = 5000;
constexpr DWORD kPipeBufferBytes = 4096;

Error Win32Failure(std::string_view what, DWORD code, ErrorCode category = ErrorCode::kIo) {
  return MakeError(category, Win32ErrorText(what, code));
}

std::string SidText(PSID sid) {
  LPWSTR text = nullptr;
  if (!::ConvertSidToStringSidW(sid, &text)) return "";
  std::string out = Utf16ToUtf8(text);
  ::LocalFree(text);
  return out;
}

std::string AccountName(PSID sid) {
  wchar_t name[256];
  wchar_t domain[256];
  DWORD name_len = 256;
  DWORD domain_len = 256;
  SID_NAME_USE use{};
  if (!::LookupAccountSidW(nullptr, sid, name, &name_len, domain, &domain_len, &use)) return "";
  return FormatSessionUser(Utf16ToUtf8(domain), Utf16ToUtf8(name));
}

// The TOKEN_USER of `token`, in a buffer of the size the system asks for.
Result<std::vector<BYTE>> TokenUserOf(HANDLE token) {
  DWORD size = 0;
  ::GetTokenInformation(token, TokenUser, nullptr, 0, &size);
  if (size == 0 || size > 4096)
    return Win32Failure("GetTokenInformation(TokenUser)", ::GetLastError());
  std::vector<BYTE> buf(size);
  if (!::GetTokenInformation(token, TokenUser, buf.data(), size, &size)) {
    return Win32Failure("GetTokenInformation(TokenUser)", ::GetLastError());
  }
  return buf;
}

Result<PipeClient> ClientOf(HANDLE token) {
  PipeClient c;
  Result<std::vector<BYTE>> user = TokenUserOf(token);
  if (!user.ok()) return user.error();
  PSID sid = reinterpret_cast<TOKEN_USER*>(user->data())->User.Sid;
  c.sid = SidText(sid);
  c.name = AccountName(sid);
  c.is_system = ::IsWellKnownSid(sid, WinLocalSystemSid) != FALSE;
  DWORD session = 0;
  DWORD size = 0;
  if (!::GetTokenInformation(token, TokenSessionId, &session, sizeof(session), &size)) {
    return Win32Failure("GetTokenInformation(TokenSessionId)", ::GetLastError());
  }
  c.session = session;
  BYTE admins[SECURITY_MAX_SID_SIZE];
  DWORD admins_size = sizeof(admins);
  BOOL member = FALSE;
  if (::CreateWellKnownSid(WinBuiltinAdministratorsSid, nullptr, admins, &admins_size) &&
      ::CheckTokenMembership(token, admins, &member)) {
    c.is_admin = member != FALSE;
  }
  return c;
}

// Who the client of a connected pipe is, from its (identification-level)
// token.
Result<PipeClient> IdentifyClient(HANDLE pipe) {
  if (!::ImpersonateNamedPipeClient(pipe)) {
    return Win32Failure("ImpersonateNamedPipeClient", ::GetLastError());
  }
  HANDLE raw = nullptr;
  const BOOL opened = ::OpenThreadToken(::GetCurrentThread(), TOKEN_QUERY, TRUE, &raw);
  const DWORD error = ::GetLastError();
  // A thread left in the client's identity must not go on serving.
  if (!::RevertToSelf()) std::terminate();
  if (!opened) return Win32Failure("OpenThreadToken", error);
  UniqueHandle token(raw);
  return ClientOf(token.get());
}

enum class Wait { kDone, kStopped, kFailed };

// Waits for the overlapped operation `ov` on `h`; a stop, a timeout or a
// failure cancels it (and waits for the cancellation, so `ov` and its
// buffer may go).
Wait Finish(HANDLE h, OVERLAPPED& ov, HANDLE stop, DWORD timeout_ms, DWORD& bytes) {
  HANDLE events[2] = {ov.hEvent, stop};
  const DWORD r = ::WaitForMultipleObjects(2, events, FALSE, timeout_ms);
  if (r == WAIT_OBJECT_0) {
    return ::GetOverlappedResult(h, &ov, &bytes, FALSE) ? Wait::kDone : Wait::kFailed;
  }
  ::CancelIoEx(h, &ov);
  ::GetOverlappedResult(h, &ov, &bytes, TRUE);
  return r == WAIT_OBJECT_0 + 1 ? Wait::kStopped : Wait::kFailed;
}

// Starts an overlapped read or write and waits for it.
template <typename Op>
Wait Overlapped(HANDLE h, HANDLE stop, DWORD timeout_ms, DWORD& bytes, Op op) {
  UniqueHandle event(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
  if (!event) return Wait::kFailed;
  OVERLAPPED ov{};
  ov.hEvent = event.get();
  if (op(&ov)) return ::GetOverlappedResult(h, &ov, &bytes, TRUE) ? Wait::kDone : Wait::kFailed;
  if (::GetLastError() != ERROR_IO_PENDING) return Wait::kFailed;
  return Finish(h, ov, stop, timeout_ms, bytes);
}

// One request line, at most kMaxUnlockRequestBytes; nullopt on timeout,
// stop, a closed pipe or an over-long line.
std::optional<std::string> ReadRequest(HANDLE pipe, HANDLE stop) {
  std::string line;
  char buf[256];
  while (line.size() <= kMaxUnlockRequestBytes) {
    DWORD n = 0;
    const Wait w = Overlapped(pipe, stop, kIoTimeoutMs, n, [&](OVERLAPPED* ov) {
      return ::ReadFile(pipe, buf, sizeof(buf), nullptr, ov);
    });
    if (w != Wait::kDone || n == 0) break;
    line.append(buf, n);
    if (const auto nl = line.find('\n'); nl != std::string::npos) {
      line.resize(nl);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
  }
  if (line.empty() || line.size() > kMaxUnlockRequestBytes) return std::nullopt;
  return line;  // closed without a newline
}

bool WriteReply(HANDLE pipe, HANDLE stop, std::string_view data) {
  while (!data.empty()) {
    DWORD n = 0;
    const Wait w = Overlapped(pipe, stop, kIoTimeoutMs, n, [&](OVERLAPPED* ov) {
      return ::WriteFile(pipe, data.data(), static_cast<DWORD>(data.size()), nullptr, ov);
    });
    if (w != Wait::kDone || n == 0) return false;
    data.remove_prefix(n);
  }
  return true;
}

// DisconnectNamedPipe throws away what the client has not read yet: wait
// (bounded) until the client has read the reply and closed its end.
void AwaitClientClose(HANDLE pipe, HANDLE stop) {
  char buf[64];
  for (int i = 0; i < 4; ++i) {
    DWORD n = 0;
    const Wait w = Overlapped(pipe, stop, kIoTimeoutMs, n, [&](OVERLAPPED* ov) {
      return ::ReadFile(pipe, buf, sizeof(buf), nullptr, ov);
    });
    if (w != Wait::kDone || n == 0) return;  // closed (broken pipe), stop or timeout
  }
}

Result<UniqueHandle> CreateFirstInstance(const std::wstring& name) {
  Result<UniqueSecurityDescriptor> sd = SecurityDescriptorFromSddl(kUnlockPipeSddl);
  if (!sd.ok()) return sd.error();
  SECURITY_ATTRIBUTES sa{};
  sa.nLength = sizeof(sa);
  sa.lpSecurityDescriptor = sd->get();
  sa.bInheritHandle = FALSE;
  UniqueHandle pipe(::CreateNamedPipeW(
      name.c_str(), PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
      PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1,
      kPipeBufferBytes, kPipeBufferBytes, 0, &sa));
  if (!pipe) {
    const DWORD error = ::GetLastError();
    const std::string where = "unlock pipe " + Utf16ToUtf8(name);
    if (error == ERROR_ACCESS_DENIED || error == ERROR_PIPE_BUSY) {
      return Win32Failure(where +
                              " is held by another process (is a second agent running, or "
                              "is something posing as the agent?)",
                          error, ErrorCode::kAlreadyExists);
    }
    return Win32Failure("CreateNamedPipeW " + where, error);
  }
  return pipe;
}

}  // namespace

std::string PipeClientRefusal(const PipeClient& client, const ConsoleUser& console) {
  if (client.is_system || client.is_admin) return "";
  const std::string who = client.name.empty() ? "user " + client.sid : client.name;
  if (!console.session) {
    return who + " may not hand in an unlock code: no one is logged on at the console";
  }
  if (client.session != *console.session) {
    return who + " may not hand in an unlock code: only the user logged on at the console " +
           "(session " + std::to_string(*console.session) + ") and administrators may, and " +
           "this request comes from session " + std::to_string(client.session);
  }
  if (console.sid && client.sid != *console.sid) {
    return who + " may not hand in an unlock code: it is not the user logged on at the console";
  }
  return "";
}

std::string DescribePipeClient(const PipeClient& client) {
  std::string out = client.name.empty() ? SanitizeDeviceString(client.sid, 200) : client.name;
  if (client.is_system) out += " (SYSTEM)";
  out += " (session " + std::to_string(client.session) + ")";
  return out;
}

ConsoleUser CurrentConsoleUser() {
  ConsoleUser c;
  const DWORD session = ::WTSGetActiveConsoleSessionId();
  if (session == 0xFFFFFFFF) return c;
  c.session = session;
  HANDLE raw = nullptr;
  if (::WTSQueryUserToken(session, &raw)) {
    UniqueHandle token(raw);
    if (Result<std::vector<BYTE>> user = TokenUserOf(token.get()); user.ok()) {
      c.sid = SidText(reinterpret_cast<TOKEN_USER*>(user->data())->User.Sid);
    }
  }
  return c;
}

Result<std::unique_ptr<UnlockPipeServer>> UnlockPipeServer::Listen(
    std::wstring name, UnlockPipeHandler handler, std::function<ConsoleUser()> console) {
  Result<UniqueHandle> first = CreateFirstInstance(name);
  if (!first.ok()) return first.error();
  UniqueHandle stop(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
  if (!stop) return Win32Failure("CreateEventW", ::GetLastError());
  return std::unique_ptr<UnlockPipeServer>(new UnlockPipeServer(
      std::move(name), std::move(*first), std::move(stop), std::move(handler), std::move(console)));
}

UnlockPipeServer::UnlockPipeServer(std::wstring name, UniqueHandle first, UniqueHandle stop,
                                   UnlockPipeHandler handler, std::function<ConsoleUser()> console)
    : name_(std::move(name)),
      first_(std::move(first)),
      stop_(std::move(stop)),
      handler_(std::move(handler)),
      console_(std::move(console)) {
  thread_ = std::thread([this] { Serve(); });
}

UnlockPipeServer::~UnlockPipeServer() {
  ::SetEvent(stop_.get());
  if (thread_.joinable()) thread_.join();
}

void UnlockPipeServer::Serve() {
  // One instance, connected, served and disconnected again and again: the
  // name is never free for another process to take while the agent runs.
  HANDLE pipe = first_.get();
  for (;;) {
    if (::WaitForSingleObject(stop_.get(), 0) == WAIT_OBJECT_0) return;
    UniqueHandle event(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
    if (!event) return;
    OVERLAPPED ov{};
    ov.hEvent = event.get();
    Wait w = Wait::kFailed;
    if (::ConnectNamedPipe(pipe, &ov)) {
      w = Wait::kDone;
    } else if (const DWORD e = ::GetLastError(); e == ERROR_PIPE_CONNECTED) {
      w = Wait::kDone;  // connected between two waits
    } else if (e == ERROR_IO_PENDING) {
      DWORD unused = 0;
      w = Finish(pipe, ov, stop_.get(), INFINITE, unused);
    }
    if (w == Wait::kStopped) return;
    if (w == Wait::kDone) ServeOne(pipe);
    ::DisconnectNamedPipe(pipe);
    // A failed connect (a client gone at once) must not spin.
    if (w == Wait::kFailed && ::WaitForSingleObject(stop_.get(), 50) == WAIT_OBJECT_0) return;
  }
}

void UnlockPipeServer::ServeOne(HANDLE pipe) {
  const HANDLE stop = stop_.get();
  Result<PipeClient> client = IdentifyClient(pipe);
  if (!client.ok()) {
    (void)WriteReply(
        pipe, stop,
        FormatUnlockReply({false, UnlockRefusal::kUnavailable,
                           "the agent could not tell who is asking: " + client.error().message}));
    AwaitClientClose(pipe, stop);
    return;
  }
  // Who may ask is settled before the code is read.
  if (const std::string why = PipeClientRefusal(*client, console_ ? console_() : ConsoleUser{});
      !why.empty()) {
    (void)WriteReply(pipe, stop,
                     "refused\tnot_permitted\t" + SanitizeDeviceString(why, 1000) + "\n");
    AwaitClientClose(pipe, stop);
    return;
  }
  const std::optional<std::string> line = ReadRequest(pipe, stop);
  const std::optional<std::string_view> code = line ? ParseUnlockRequest(*line) : std::nullopt;
  if (!code) {
    (void)WriteReply(pipe, stop, kBadUnlockRequestReply);
  } else {
    (void)WriteReply(pipe, stop, FormatUnlockReply(handler_(*code, DescribePipeClient(*client))));
  }
  AwaitClientClose(pipe, stop);
}

Result<UnlockReply> SendUnlockCodeOverPipe(const std::wstring& name, std::string_view code) {
  Result<std::string> request = FormatUnlockRequest(code);
  if (!request.ok()) return request.error();
  const std::string where = Utf16ToUtf8(name);
  UniqueHandle pipe;
  DWORD error = 0;
  for (int attempt = 0; attempt < 3 && !pipe; ++attempt) {
    // Identification only: the service learns who asks, and cannot act as
    // them.
    pipe.reset(::CreateFileW(
        name.c_str(), FILE_READ_DATA | FILE_WRITE_DATA | FILE_READ_ATTRIBUTES | SYNCHRONIZE, 0,
        nullptr, OPEN_EXISTING, SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, nullptr));
    if (pipe) break;
    error = ::GetLastError();
    if (error != ERROR_PIPE_BUSY || !::WaitNamedPipeW(name.c_str(), kIoTimeoutMs)) break;
  }
  if (!pipe) {
    if (error == ERROR_FILE_NOT_FOUND) {
      return MakeError(ErrorCode::kUnavailable, "cannot reach the mamori-agent service at " +
                                                    where + ": is the service running?");
    }
    if (error == ERROR_ACCESS_DENIED) {
      return MakeError(ErrorCode::kPermissionDenied,
                       "the mamori-agent service at " + where +
                           " refused the connection: only the user logged on at the console "
                           "and administrators may hand in an unlock code");
    }
    return Win32Failure("connecting to the mamori-agent service at " + where, error,
                        ErrorCode::kUnavailable);
  }
  std::string_view out = *request;
  while (!out.empty()) {
    DWORD n = 0;
    if (!::WriteFile(pipe.get(), out.data(), static_cast<DWORD>(out.size()), &n, nullptr) ||
        n == 0) {
      return Win32Failure("sending to " + where, ::GetLastError());
    }
    out.remove_prefix(n);
  }
  std::string line;
  char buf[512];
  while (line.size() <= kMaxUnlockReplyBytes) {
    DWORD n = 0;
    if (!::ReadFile(pipe.get(), buf, sizeof(buf), &n, nullptr) || n == 0) break;
    line.append(buf, n);
    if (const auto nl = line.find('\n'); nl != std::string::npos) {
      line.resize(nl);
      return ParseUnlockReply(line);
    }
  }
  return MakeError(ErrorCode::kUnavailable, "no answer from the mamori-agent service at " + where);
}

}  // namespace mamori
