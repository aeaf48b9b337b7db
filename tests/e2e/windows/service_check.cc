// Asks the service control manager about a service, for the MSI install
// test (WineMsiTest, tests/e2e/wine). `wine sc qc` prints nothing in Wine 8, so the
// configuration is read with QueryServiceConfigW here.
//
//   msi_service_check installed NAME DISPLAY_NAME EXE_PATH ARGUMENTS TIMEOUT_MS
//     The service exists as an auto-start own-process LocalSystem service
//     with that display name and the command line "EXE_PATH" ARGUMENTS (see
//     CheckCommandLine), and is RUNNING within
//     TIMEOUT_MS (it fails at once if it stops instead). Recovery actions
//     must restart it where the SCM can report them (Wine's cannot).
//   msi_service_check products UPGRADE_CODE VERSION|none
//     Exactly one installed product has that UpgradeCode, at VERSION (after
//     an upgrade: the old version is gone), or none does.
//   msi_service_check stop NAME TIMEOUT_MS
//     Stops the service and waits until it is STOPPED and its process has
//     exited, within TIMEOUT_MS.
//   msi_service_check event-source NAME present EXE_PATH | absent
//     The Event Log source NAME (HKLM\...\EventLog\Application\NAME) is
//     registered with EXE_PATH as its message file, or is not registered.
//   msi_service_check absent NAME TIMEOUT_MS
//     The service does not exist (ERROR_SERVICE_DOES_NOT_EXIST) within
//     TIMEOUT_MS: a service still open somewhere is only marked for deletion.
//
// Exit status 0 when every check holds, 1 otherwise (each failure printed),
// 2 on a usage error.
#include <windows.h>
// clang-format off
#include <msi.h>  // after windows.h
// clang-format on

#include <cstdio>
#include <cwchar>
#include <string>
#include <vector>

#include "agent/platform/windows/win32/handles.h"
#include "agent/platform/windows/win32/wide_string.h"

namespace mamori {
namespace {

constexpr DWORD kPollMs = 100;

std::string Narrow(std::wstring_view s) { return Utf16ToUtf8(s); }

std::string ErrorText(DWORD error) {
  wchar_t* text = nullptr;
  const DWORD n = ::FormatMessageW(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, error, 0, reinterpret_cast<wchar_t*>(&text), 0, nullptr);
  std::string out = "error " + std::to_string(error);
  if (n > 0 && text != nullptr) {
    std::wstring_view msg(text, n);
    while (!msg.empty() && (msg.back() == L'\n' || msg.back() == L'\r' || msg.back() == L' ')) {
      msg.remove_suffix(1);
    }
    out += " (" + Narrow(msg) + ")";
  }
  if (text != nullptr) ::LocalFree(text);
  return out;
}

const char* StateName(DWORD state) {
  switch (state) {
    case SERVICE_STOPPED:
      return "STOPPED";
    case SERVICE_START_PENDING:
      return "START_PENDING";
    case SERVICE_STOP_PENDING:
      return "STOP_PENDING";
    case SERVICE_RUNNING:
      return "RUNNING";
    case SERVICE_CONTINUE_PENDING:
      return "CONTINUE_PENDING";
    case SERVICE_PAUSE_PENDING:
      return "PAUSE_PENDING";
    case SERVICE_PAUSED:
      return "PAUSED";
    default:
      return "UNKNOWN";
  }
}

// Counts failed checks and says what each one was.
class Checks {
 public:
  explicit Checks(std::string service) : service_(std::move(service)) {}

  void Expect(bool ok, const std::string& what, const std::string& got) {
    if (ok) {
      std::printf("ok: %s: %s\n", service_.c_str(), what.c_str());
    } else {
      ++failures_;
      std::printf("FAIL: %s: %s; got %s\n", service_.c_str(), what.c_str(), got.c_str());
    }
  }
  void Fail(const std::string& what) {
    ++failures_;
    std::printf("FAIL: %s: %s\n", service_.c_str(), what.c_str());
  }
  int ExitCode() const { return failures_ == 0 ? 0 : 1; }

 private:
  std::string service_;
  int failures_ = 0;
};

// QueryServiceConfig2W / QueryServiceConfigW: size first, then the data.
template <typename Query>
bool QueryVariable(Query query, std::vector<BYTE>& buffer, DWORD& error) {
  DWORD needed = 0;
  if (!query(nullptr, 0, &needed)) {
    error = ::GetLastError();
    if (error != ERROR_INSUFFICIENT_BUFFER) return false;
  }
  buffer.assign(needed, 0);
  if (!query(buffer.data(), needed, &needed)) {
    error = ::GetLastError();
    return false;
  }
  return true;
}

bool WideEqualsNoCase(std::wstring_view a, std::wstring_view b) {
  return ::CompareStringOrdinal(a.data(), static_cast<int>(a.size()), b.data(),
                                static_cast<int>(b.size()), TRUE) == CSTR_EQUAL;
}

// The SCM command line must start the installed executable with
// `arguments`. Windows Installer writes "EXE" ARGS; Wine's msi (8.0) writes
// the path unquoted (EXE ARGS), which Windows would also resolve but which
// is open to C:\Program.exe planting on a real host: accepted, and said.
void CheckCommandLine(std::wstring_view command_line, std::wstring_view exe_path,
                      std::wstring_view arguments, Checks& checks) {
  const std::wstring quoted = L"\"" + std::wstring(exe_path) + L"\" " + std::wstring(arguments);
  const std::wstring unquoted = std::wstring(exe_path) + L" " + std::wstring(arguments);
  const std::string what = "command line \"" + Narrow(exe_path) + "\" " + Narrow(arguments);
  if (WideEqualsNoCase(command_line, quoted)) {
    checks.Expect(true, what, "");
  } else if (WideEqualsNoCase(command_line, unquoted)) {
    checks.Expect(true,
                  what + " (written unquoted by this installer: " + Narrow(command_line) + ")", "");
  } else {
    checks.Expect(false, what, Narrow(command_line));
  }
}

void CheckConfig(SC_HANDLE service, std::wstring_view display_name, std::wstring_view exe_path,
                 std::wstring_view arguments, Checks& checks) {
  std::vector<BYTE> buffer;
  DWORD error = 0;
  if (!QueryVariable(
          [&](BYTE* data, DWORD size, DWORD* needed) {
            return ::QueryServiceConfigW(service, reinterpret_cast<QUERY_SERVICE_CONFIGW*>(data),
                                         size, needed) != 0;
          },
          buffer, error)) {
    checks.Fail("QueryServiceConfigW failed: " + ErrorText(error));
    return;
  }
  const auto* config = reinterpret_cast<const QUERY_SERVICE_CONFIGW*>(buffer.data());
  auto str = [](const wchar_t* s) { return std::wstring_view(s != nullptr ? s : L""); };

  checks.Expect(config->dwServiceType == SERVICE_WIN32_OWN_PROCESS, "type WIN32_OWN_PROCESS",
                std::to_string(config->dwServiceType));
  checks.Expect(config->dwStartType == SERVICE_AUTO_START, "start type AUTO_START",
                std::to_string(config->dwStartType));
  checks.Expect(config->dwErrorControl == SERVICE_ERROR_NORMAL, "error control NORMAL",
                std::to_string(config->dwErrorControl));
  checks.Expect(WideEqualsNoCase(str(config->lpServiceStartName), L"LocalSystem"),
                "account LocalSystem", "\"" + Narrow(str(config->lpServiceStartName)) + "\"");
  checks.Expect(str(config->lpDisplayName) == display_name,
                "display name \"" + Narrow(display_name) + "\"",
                "\"" + Narrow(str(config->lpDisplayName)) + "\"");
  CheckCommandLine(str(config->lpBinaryPathName), exe_path, arguments, checks);
}

// Restart-on-failure is set by `mamori-agent.exe configure` through
// ChangeServiceConfig2W. An SCM that cannot report failure actions
// (ERROR_INVALID_LEVEL: Wine accepts and discards them) is said so
// explicitly; one that can must report a restart action.
void CheckRecovery(SC_HANDLE service, Checks& checks) {
  std::vector<BYTE> buffer;
  DWORD error = 0;
  if (!QueryVariable(
          [&](BYTE* data, DWORD size, DWORD* needed) {
            return ::QueryServiceConfig2W(service, SERVICE_CONFIG_FAILURE_ACTIONS, data, size,
                                          needed) != 0;
          },
          buffer, error)) {
    if (error == ERROR_INVALID_LEVEL) {
      std::printf(
          "not verifiable: recovery actions: this SCM does not report failure actions "
          "(QueryServiceConfig2W: %s)\n",
          ErrorText(error).c_str());
    } else {
      checks.Fail("QueryServiceConfig2W(FAILURE_ACTIONS) failed: " + ErrorText(error));
    }
    return;
  }
  const auto* actions = reinterpret_cast<const SERVICE_FAILURE_ACTIONSW*>(buffer.data());
  bool restarts = false;
  for (DWORD i = 0; i < actions->cActions; ++i) {
    restarts = restarts || actions->lpsaActions[i].Type == SC_ACTION_RESTART;
  }
  checks.Expect(restarts, "a recovery action restarts the service",
                std::to_string(actions->cActions) + " actions, none SC_ACTION_RESTART");
}

void WaitRunning(SC_HANDLE service, DWORD timeout_ms, Checks& checks) {
  const ULONGLONG deadline = ::GetTickCount64() + timeout_ms;
  SERVICE_STATUS_PROCESS status{};
  for (;;) {
    DWORD needed = 0;
    if (!::QueryServiceStatusEx(service, SC_STATUS_PROCESS_INFO, reinterpret_cast<BYTE*>(&status),
                                sizeof(status), &needed)) {
      checks.Fail("QueryServiceStatusEx failed: " + ErrorText(::GetLastError()));
      return;
    }
    if (status.dwCurrentState == SERVICE_RUNNING) {
      checks.Expect(true, "RUNNING (process " + std::to_string(status.dwProcessId) + ")", "");
      return;
    }
    if (status.dwCurrentState == SERVICE_STOPPED || ::GetTickCount64() >= deadline) {
      checks.Fail(std::string("not RUNNING: state ") + StateName(status.dwCurrentState) +
                  ", win32 exit code " + std::to_string(status.dwWin32ExitCode) +
                  ", service exit code " + std::to_string(status.dwServiceSpecificExitCode) +
                  " after waiting up to " + std::to_string(timeout_ms) + " ms");
      return;
    }
    ::Sleep(kPollMs);
  }
}

int Installed(std::wstring_view name, std::wstring_view display_name, std::wstring_view exe_path,
              std::wstring_view arguments, DWORD timeout_ms) {
  Checks checks(Narrow(name));
  UniqueScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm) {
    checks.Fail("OpenSCManagerW failed: " + ErrorText(::GetLastError()));
    return checks.ExitCode();
  }
  UniqueScHandle service(::OpenServiceW(scm.get(), std::wstring(name).c_str(),
                                        SERVICE_QUERY_CONFIG | SERVICE_QUERY_STATUS));
  if (!service) {
    checks.Fail("not registered: OpenServiceW failed: " + ErrorText(::GetLastError()));
    return checks.ExitCode();
  }
  CheckConfig(service.get(), display_name, exe_path, arguments, checks);
  CheckRecovery(service.get(), checks);
  WaitRunning(service.get(), timeout_ms, checks);
  return checks.ExitCode();
}

int Absent(std::wstring_view name, DWORD timeout_ms) {
  Checks checks(Narrow(name));
  UniqueScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm) {
    checks.Fail("OpenSCManagerW failed: " + ErrorText(::GetLastError()));
    return checks.ExitCode();
  }
  const ULONGLONG deadline = ::GetTickCount64() + timeout_ms;
  for (;;) {
    UniqueScHandle service(
        ::OpenServiceW(scm.get(), std::wstring(name).c_str(), SERVICE_QUERY_STATUS));
    const DWORD error = service ? ERROR_SUCCESS : ::GetLastError();
    if (error == ERROR_SERVICE_DOES_NOT_EXIST) {
      checks.Expect(true, "not registered (ERROR_SERVICE_DOES_NOT_EXIST)", "");
      return checks.ExitCode();
    }
    if (::GetTickCount64() >= deadline) {
      std::string state = ErrorText(error);
      SERVICE_STATUS status{};
      if (service && ::QueryServiceStatus(service.get(), &status)) {
        state = std::string("registered, state ") + StateName(status.dwCurrentState);
      }
      checks.Fail("still present after " + std::to_string(timeout_ms) + " ms: " + state);
      return checks.ExitCode();
    }
    service.reset();
    ::Sleep(kPollMs);
  }
}

int Stop(std::wstring_view name, DWORD timeout_ms) {
  Checks checks(Narrow(name));
  UniqueScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm) {
    checks.Fail("OpenSCManagerW failed: " + ErrorText(::GetLastError()));
    return checks.ExitCode();
  }
  UniqueScHandle service(
      ::OpenServiceW(scm.get(), std::wstring(name).c_str(), SERVICE_STOP | SERVICE_QUERY_STATUS));
  if (!service) {
    checks.Fail("OpenServiceW failed: " + ErrorText(::GetLastError()));
    return checks.ExitCode();
  }
  SERVICE_STATUS_PROCESS status{};
  DWORD needed = 0;
  if (!::QueryServiceStatusEx(service.get(), SC_STATUS_PROCESS_INFO,
                              reinterpret_cast<BYTE*>(&status), sizeof(status), &needed)) {
    checks.Fail("QueryServiceStatusEx failed: " + ErrorText(::GetLastError()));
    return checks.ExitCode();
  }
  // Opened before the stop, so the process cannot be gone and its id reused.
  UniqueHandle process(
      status.dwProcessId != 0 ? ::OpenProcess(SYNCHRONIZE, FALSE, status.dwProcessId) : nullptr);
  SERVICE_STATUS ignored{};
  if (!::ControlService(service.get(), SERVICE_CONTROL_STOP, &ignored) &&
      ::GetLastError() != ERROR_SERVICE_NOT_ACTIVE) {
    checks.Fail("ControlService(STOP) failed: " + ErrorText(::GetLastError()));
    return checks.ExitCode();
  }
  const ULONGLONG start = ::GetTickCount64();
  const ULONGLONG deadline = start + timeout_ms;
  for (;;) {
    if (!::QueryServiceStatusEx(service.get(), SC_STATUS_PROCESS_INFO,
                                reinterpret_cast<BYTE*>(&status), sizeof(status), &needed)) {
      checks.Fail("QueryServiceStatusEx failed: " + ErrorText(::GetLastError()));
      return checks.ExitCode();
    }
    if (status.dwCurrentState == SERVICE_STOPPED) break;
    if (::GetTickCount64() >= deadline) {
      checks.Fail(std::string("not STOPPED after ") + std::to_string(timeout_ms) + " ms: state " +
                  StateName(status.dwCurrentState));
      return checks.ExitCode();
    }
    ::Sleep(kPollMs);
  }
  const ULONGLONG stopped = ::GetTickCount64();
  if (process) {
    const ULONGLONG now = ::GetTickCount64();
    const DWORD left = now < deadline ? static_cast<DWORD>(deadline - now) : 0;
    if (::WaitForSingleObject(process.get(), left) != WAIT_OBJECT_0) {
      checks.Fail("STOPPED, but its process is still running after " + std::to_string(timeout_ms) +
                  " ms");
      return checks.ExitCode();
    }
  }
  checks.Expect(true,
                "STOPPED after " + std::to_string(stopped - start) +
                    " ms, process exited after another " +
                    std::to_string(::GetTickCount64() - stopped) + " ms",
                "");
  return checks.ExitCode();
}

// The Event Log source's registration (written by `mamori-agent.exe
// configure` and by the MSI's Registry table).
int EventSource(std::wstring_view name, bool present, std::wstring_view exe_path) {
  Checks checks("Event Log source " + Narrow(name));
  const std::wstring key =
      L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\" + std::wstring(name);
  wchar_t value[1024] = {};
  DWORD size = sizeof(value);
  const LSTATUS rc =
      ::RegGetValueW(HKEY_LOCAL_MACHINE, key.c_str(), L"EventMessageFile",
                     RRF_RT_REG_SZ | RRF_RT_REG_EXPAND_SZ | RRF_NOEXPAND, nullptr, value, &size);
  if (!present) {
    UniqueHkey opened;
    const LSTATUS open_rc = ::RegOpenKeyExW(HKEY_LOCAL_MACHINE, key.c_str(), 0,
                                            KEY_READ | KEY_WOW64_64KEY, opened.out());
    checks.Expect(
        open_rc == ERROR_FILE_NOT_FOUND, "not registered (no key HKLM\\" + Narrow(key) + ")",
        open_rc == ERROR_SUCCESS ? "the key exists" : ErrorText(static_cast<DWORD>(open_rc)));
    return checks.ExitCode();
  }
  if (rc != ERROR_SUCCESS) {
    checks.Fail("EventMessageFile of HKLM\\" + Narrow(key) + ": " +
                ErrorText(static_cast<DWORD>(rc)));
    return checks.ExitCode();
  }
  checks.Expect(WideEqualsNoCase(value, exe_path), "message file " + Narrow(exe_path),
                Narrow(value));
  DWORD types = 0;
  size = sizeof(types);
  const LSTATUS types_rc = ::RegGetValueW(HKEY_LOCAL_MACHINE, key.c_str(), L"TypesSupported",
                                          RRF_RT_REG_DWORD, nullptr, &types, &size);
  checks.Expect(
      types_rc == ERROR_SUCCESS && types == 7, "TypesSupported 7 (error, warning, information)",
      types_rc == ERROR_SUCCESS ? std::to_string(types) : ErrorText(static_cast<DWORD>(types_rc)));
  return checks.ExitCode();
}

// MsiEnumRelatedProductsW: which products of the family are installed.
int Products(std::wstring_view upgrade_code, std::wstring_view version) {
  Checks checks("UpgradeCode " + Narrow(upgrade_code));
  std::vector<std::wstring> products;
  for (DWORD i = 0;; ++i) {
    wchar_t code[39] = {};
    const UINT rc = ::MsiEnumRelatedProductsW(std::wstring(upgrade_code).c_str(), 0, i, code);
    if (rc == ERROR_NO_MORE_ITEMS) break;
    if (rc != ERROR_SUCCESS) {
      checks.Fail("MsiEnumRelatedProductsW failed: " + ErrorText(rc));
      return checks.ExitCode();
    }
    products.emplace_back(code);
  }
  std::string found;
  std::vector<std::wstring> versions;
  for (const std::wstring& code : products) {
    wchar_t buffer[64] = {};
    DWORD size = ARRAYSIZE(buffer);
    const UINT rc =
        ::MsiGetProductInfoW(code.c_str(), INSTALLPROPERTY_VERSIONSTRING, buffer, &size);
    versions.emplace_back(rc == ERROR_SUCCESS ? buffer : L"?");
    found += (found.empty() ? "" : ", ") + Narrow(code) + " " + Narrow(versions.back());
  }
  if (found.empty()) found = "none";
  if (version == L"none") {
    checks.Expect(products.empty(), "no product installed", found);
  } else {
    checks.Expect(products.size() == 1 && versions[0] == version,
                  "exactly one product installed, version " + Narrow(version), found);
  }
  return checks.ExitCode();
}

bool ParseMs(const wchar_t* text, DWORD& out) {
  wchar_t* end = nullptr;
  const unsigned long v = std::wcstoul(text, &end, 10);
  if (end == text || *end != L'\0' || v == 0 || v > 600000) return false;
  out = static_cast<DWORD>(v);
  return true;
}

int Usage() {
  std::fprintf(
      stderr,
      "usage: msi_service_check installed NAME DISPLAY_NAME EXE_PATH ARGUMENTS TIMEOUT_MS\n"
      "       msi_service_check absent NAME TIMEOUT_MS\n"
      "TIMEOUT_MS: 1..600000\n");
  return 2;
}

}  // namespace
}  // namespace mamori

int wmain(int argc, wchar_t** argv) {
  using namespace mamori;
  const std::wstring_view command = argc > 1 ? argv[1] : L"";
  DWORD timeout_ms = 0;
  if (command == L"installed" && argc == 7 && ParseMs(argv[6], timeout_ms)) {
    return Installed(argv[2], argv[3], argv[4], argv[5], timeout_ms);
  }
  if (command == L"products" && argc == 4) return Products(argv[2], argv[3]);
  if (command == L"stop" && argc == 4 && ParseMs(argv[3], timeout_ms)) {
    return Stop(argv[2], timeout_ms);
  }
  const std::wstring_view mode = argc > 3 ? argv[3] : L"";
  if (command == L"event-source" && argc == 5 && mode == L"present") {
    return EventSource(argv[2], true, argv[4]);
  }
  if (command == L"event-source" && argc == 4 && mode == L"absent") {
    return EventSource(argv[2], false, L"");
  }
  if (command == L"absent" && argc == 4 && ParseMs(argv[3], timeout_ms)) {
    return Absent(argv[2], timeout_ms);
  }
  return Usage();
}
