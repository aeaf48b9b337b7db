#include "agent/platform/windows/service/service_install.h"

// clang-format off
#include <windows.h>
// clang-format on
#include <winsvc.h>

#include <algorithm>
#include <chrono>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/platform/windows/win32/handles.h"
#include "agent/platform/windows/win32/security.h"
#include "agent/platform/windows/win32/wide_string.h"
#include "agent/platform/windows/win32/win32_registry.h"

namespace mamori {
namespace {

Error ScFailure(std::string_view what, DWORD code) {
  ErrorCode category = ErrorCode::kIo;
  if (code == ERROR_ACCESS_DENIED) category = ErrorCode::kPermissionDenied;
  if (code == ERROR_SERVICE_DOES_NOT_EXIST) category = ErrorCode::kNotFound;
  if (code == ERROR_SERVICE_EXISTS) category = ErrorCode::kAlreadyExists;
  return MakeError(category, Win32ErrorText(what, code));
}

Status WithContext(std::string_view step, Status s) {
  if (s.ok()) return s;
  return MakeError(s.error().code, std::string(step) + ": " + s.error().message);
}

Result<UniqueScHandle> OpenScm(DWORD access) {
  UniqueScHandle scm(::OpenSCManagerW(nullptr, nullptr, access));
  if (!scm) return ScFailure("OpenSCManagerW", ::GetLastError());
  return scm;
}

Result<UniqueScHandle> OpenAgentService(SC_HANDLE scm, DWORD access) {
  UniqueScHandle service(::OpenServiceW(scm, kServiceName, access));
  if (!service) return ScFailure("OpenServiceW(MamoriAgent)", ::GetLastError());
  return service;
}

Status SetFailureActions(SC_HANDLE service, std::vector<std::string>& warnings) {
  std::vector<SC_ACTION> actions;
  for (unsigned delay : kRestartDelaysMs) actions.push_back(SC_ACTION{SC_ACTION_RESTART, delay});
  SERVICE_FAILURE_ACTIONSW fa{};
  fa.dwResetPeriod = kFailureResetPeriodS;
  fa.cActions = static_cast<DWORD>(actions.size());
  fa.lpsaActions = actions.data();
  if (!::ChangeServiceConfig2W(service, SERVICE_CONFIG_FAILURE_ACTIONS, &fa)) {
    return ScFailure("ChangeServiceConfig2W(SERVICE_CONFIG_FAILURE_ACTIONS)", ::GetLastError());
  }
  SERVICE_FAILURE_ACTIONS_FLAG flag{};
  flag.fFailureActionsOnNonCrashFailures = TRUE;
  if (!::ChangeServiceConfig2W(service, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag)) {
    const DWORD err = ::GetLastError();
    // Windows has had this level since Vista; an SCM without it (Wine 8)
    // still restarts after crashes, so the rest of the configuration goes on.
    if (err != ERROR_INVALID_LEVEL || !RunningUnderWine()) {
      return ScFailure("ChangeServiceConfig2W(SERVICE_CONFIG_FAILURE_ACTIONS_FLAG)", err);
    }
    warnings.push_back(
        "Wine's service control manager does not support SERVICE_CONFIG_FAILURE_ACTIONS_FLAG "
        "(ERROR_INVALID_LEVEL)");
  }
  // Read back: a configuration the SCM did not keep is a failure.
  std::vector<BYTE> buffer(8192);
  DWORD needed = 0;
  if (!::QueryServiceConfig2W(service, SERVICE_CONFIG_FAILURE_ACTIONS, buffer.data(),
                              static_cast<DWORD>(buffer.size()), &needed)) {
    const DWORD err = ::GetLastError();
    if (err != ERROR_INVALID_LEVEL || !RunningUnderWine()) {
      return ScFailure("QueryServiceConfig2W(SERVICE_CONFIG_FAILURE_ACTIONS)", err);
    }
    warnings.push_back(
        "Wine's service control manager does not keep failure actions "
        "(QueryServiceConfig2W(SERVICE_CONFIG_FAILURE_ACTIONS): ERROR_INVALID_LEVEL): no "
        "restart on failure");
    return Status::Ok();
  }
  const auto* read = reinterpret_cast<const SERVICE_FAILURE_ACTIONSW*>(buffer.data());
  bool same = read->cActions == actions.size() && read->dwResetPeriod == kFailureResetPeriodS;
  for (DWORD i = 0; same && i < read->cActions; ++i) {
    same = read->lpsaActions[i].Type == actions[i].Type &&
           read->lpsaActions[i].Delay == actions[i].Delay;
  }
  if (!same) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "failure actions read back differ from those written (" +
                         std::to_string(read->cActions) + " actions, reset period " +
                         std::to_string(read->dwResetPeriod) + " s)");
  }
  return Status::Ok();
}

Status SetPreshutdownTimeout(SC_HANDLE service) {
  SERVICE_PRESHUTDOWN_INFO info{};
  info.dwPreshutdownTimeout = kServiceTimings.stop_wait_hint_ms;
  if (!::ChangeServiceConfig2W(service, SERVICE_CONFIG_PRESHUTDOWN_INFO, &info)) {
    return ScFailure("ChangeServiceConfig2W(SERVICE_CONFIG_PRESHUTDOWN_INFO)", ::GetLastError());
  }
  SERVICE_PRESHUTDOWN_INFO read{};
  DWORD needed = 0;
  if (!::QueryServiceConfig2W(service, SERVICE_CONFIG_PRESHUTDOWN_INFO,
                              reinterpret_cast<BYTE*>(&read), sizeof(read), &needed)) {
    return ScFailure("QueryServiceConfig2W(SERVICE_CONFIG_PRESHUTDOWN_INFO)", ::GetLastError());
  }
  if (read.dwPreshutdownTimeout != info.dwPreshutdownTimeout) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "preshutdown timeout reads back as " +
                         std::to_string(read.dwPreshutdownTimeout) + " ms, expected " +
                         std::to_string(info.dwPreshutdownTimeout) + " ms");
  }
  return Status::Ok();
}

Status ApplyServiceDacl(SC_HANDLE service, std::vector<std::string>& warnings) {
  if (Status s = SetServiceDacl(service, kServiceSddl); !s.ok()) return s;
  auto expected = CanonicalDaclSddl(kServiceSddl);
  if (!expected.ok()) return expected.error();
  auto actual = ServiceDacl(service);
  if (!actual.ok()) return actual.error();
  if (*actual != *expected && RunningUnderWine()) {
    warnings.push_back(
        "Wine's service control manager does not keep service security "
        "descriptors (QueryServiceObjectSecurity returns '" +
        Utf16ToUtf8(*actual) + "'): the service DACL is not in effect");
    return Status::Ok();
  }
  if (*actual != *expected) {
    return MakeError(ErrorCode::kFailedPrecondition, "service DACL reads back as '" +
                                                         Utf16ToUtf8(*actual) + "', expected '" +
                                                         Utf16ToUtf8(*expected) + "'");
  }
  return Status::Ok();
}

Status RegisterEventSource(const std::wstring& executable) {
  UniqueHkey key;
  LSTATUS rc =
      ::RegCreateKeyExW(HKEY_LOCAL_MACHINE, kEventLogSourceKey, 0, nullptr, REG_OPTION_NON_VOLATILE,
                        KEY_SET_VALUE | KEY_WOW64_64KEY, nullptr, key.out(), nullptr);
  if (rc != ERROR_SUCCESS) {
    return MakeError(ErrorCode::kIo, Win32ErrorText("RegCreateKeyExW(HKLM\\" +
                                                        Utf16ToUtf8(kEventLogSourceKey) + ")",
                                                    static_cast<DWORD>(rc)));
  }
  rc = ::RegSetValueExW(key.get(), L"EventMessageFile", 0, REG_EXPAND_SZ,
                        reinterpret_cast<const BYTE*>(executable.c_str()),
                        static_cast<DWORD>((executable.size() + 1) * sizeof(wchar_t)));
  if (rc != ERROR_SUCCESS) {
    return MakeError(ErrorCode::kIo,
                     Win32ErrorText("RegSetValueExW(EventMessageFile)", static_cast<DWORD>(rc)));
  }
  const DWORD types = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE | EVENTLOG_INFORMATION_TYPE;
  rc = ::RegSetValueExW(key.get(), L"TypesSupported", 0, REG_DWORD,
                        reinterpret_cast<const BYTE*>(&types), sizeof(types));
  if (rc != ERROR_SUCCESS) {
    return MakeError(ErrorCode::kIo,
                     Win32ErrorText("RegSetValueExW(TypesSupported)", static_cast<DWORD>(rc)));
  }
  return Status::Ok();
}

// Waits for STOPPED as long as the service keeps making progress within
// the wait hints it declares, and at most a minute in all.
Status WaitForStopped(SC_HANDLE service) {
  using Clock = std::chrono::steady_clock;
  const auto give_up = Clock::now() + std::chrono::minutes(1);
  SERVICE_STATUS_PROCESS status{};
  DWORD needed = 0;
  DWORD last_checkpoint = 0;
  auto progress_deadline =
      Clock::now() + std::chrono::milliseconds(kServiceTimings.stop_wait_hint_ms);
  for (;;) {
    if (!::QueryServiceStatusEx(service, SC_STATUS_PROCESS_INFO, reinterpret_cast<BYTE*>(&status),
                                sizeof(status), &needed)) {
      return ScFailure("QueryServiceStatusEx", ::GetLastError());
    }
    if (status.dwCurrentState == SERVICE_STOPPED) return Status::Ok();
    const auto now = Clock::now();
    if (status.dwCheckPoint != last_checkpoint) {
      last_checkpoint = status.dwCheckPoint;
      progress_deadline = now + std::chrono::milliseconds(std::max<DWORD>(status.dwWaitHint, 1000));
    }
    if (now > progress_deadline || now > give_up) {
      return MakeError(ErrorCode::kUnavailable,
                       "service did not stop: state " + std::to_string(status.dwCurrentState) +
                           ", checkpoint " + std::to_string(status.dwCheckPoint) + ", wait hint " +
                           std::to_string(status.dwWaitHint) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace

Result<std::vector<std::string>> InstallService(const InstallOptions& options) {
  std::vector<std::string> warnings;
  auto scm = OpenScm(SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE);
  if (!scm.ok()) return scm.error();
  const std::wstring command = L"\"" + options.executable + L"\" service";
  UniqueScHandle service(::CreateServiceW(
      scm->get(), kServiceName, kServiceDisplayName, SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS,
      SERVICE_AUTO_START, SERVICE_ERROR_NORMAL, command.c_str(), /*load order group=*/nullptr,
      /*tag=*/nullptr, /*dependencies=*/nullptr, /*account: LocalSystem=*/nullptr,
      /*password=*/nullptr));
  if (!service) {
    const DWORD err = ::GetLastError();
    Error e = ScFailure("CreateServiceW(MamoriAgent)", err);
    if (err == ERROR_SERVICE_EXISTS) {
      e.message += "; run `mamori-agent uninstall` first, or `mamori-agent configure`";
    }
    return e;
  }
  auto rest = [&]() -> Status {
    SERVICE_DESCRIPTIONW description{};
    std::wstring text = kServiceDescription;
    description.lpDescription = text.data();
    if (!::ChangeServiceConfig2W(service.get(), SERVICE_CONFIG_DESCRIPTION, &description)) {
      return ScFailure("ChangeServiceConfig2W(SERVICE_CONFIG_DESCRIPTION)", ::GetLastError());
    }
    if (Status s = WithContext("service parameters", WriteServiceParameters(options.parameters));
        !s.ok()) {
      return s;
    }
    auto configured = ConfigureService(options.executable);
    if (!configured.ok()) return configured.error();
    warnings = std::move(*configured);
    return Status::Ok();
  }();
  if (!rest.ok()) {
    // Leave nothing half-installed behind.
    ::DeleteService(service.get());
    return rest.error();
  }
  return warnings;
}

Result<std::vector<std::string>> ConfigureService(const std::wstring& executable) {
  std::vector<std::string> warnings;
  auto scm = OpenScm(SC_MANAGER_CONNECT);
  if (!scm.ok()) return WithContext("service control manager", scm.error()).error();
  // SERVICE_START: the SCM refuses restart actions without it.
  auto service = OpenAgentService(scm->get(), SERVICE_CHANGE_CONFIG | SERVICE_QUERY_CONFIG |
                                                  SERVICE_START | READ_CONTROL | WRITE_DAC);
  if (!service.ok()) return WithContext("service", service.error()).error();
  if (Status s = WithContext("recovery actions", SetFailureActions(service->get(), warnings));
      !s.ok()) {
    return s.error();
  }
  if (Status s = WithContext("preshutdown timeout", SetPreshutdownTimeout(service->get()));
      !s.ok()) {
    return s.error();
  }
  if (Status s = WithContext("service DACL", ApplyServiceDacl(service->get(), warnings)); !s.ok()) {
    return s.error();
  }
  auto params = ReadServiceParameters();
  if (!params.ok()) return WithContext("service parameters", params.error()).error();
  auto paths = ResolveAgentPaths(params->config_dir);
  if (!paths.ok()) return WithContext("data directory", paths.error()).error();
  if (Status s = PrepareAgentDirectories(*paths, &warnings); !s.ok()) return s.error();
  if (Status s = WithContext("Event Log source", RegisterEventSource(executable)); !s.ok()) {
    return s.error();
  }
  return warnings;
}

Status UninstallService() {
  auto scm = OpenScm(SC_MANAGER_CONNECT);
  if (!scm.ok()) return scm.error();
  auto service = OpenAgentService(scm->get(), SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE);
  if (!service.ok()) {
    Error e = service.error();
    if (e.code == ErrorCode::kNotFound)
      e.message = "service MamoriAgent is not installed (" + e.message + ")";
    return e;
  }
  SERVICE_STATUS status{};
  if (!::ControlService(service->get(), SERVICE_CONTROL_STOP, &status)) {
    const DWORD err = ::GetLastError();
    if (err != ERROR_SERVICE_NOT_ACTIVE)
      return ScFailure("ControlService(SERVICE_CONTROL_STOP)", err);
  }
  if (Status s = WaitForStopped(service->get()); !s.ok()) return WithContext("stop", s);
  if (!::DeleteService(service->get())) {
    const DWORD err = ::GetLastError();
    if (err != ERROR_SERVICE_MARKED_FOR_DELETE) return ScFailure("DeleteService", err);
  }
  const LSTATUS rc = ::RegDeleteTreeW(HKEY_LOCAL_MACHINE, kEventLogSourceKey);
  if (rc != ERROR_SUCCESS && rc != ERROR_FILE_NOT_FOUND) {
    return MakeError(ErrorCode::kIo,
                     Win32ErrorText("RegDeleteTreeW(HKLM\\" + Utf16ToUtf8(kEventLogSourceKey) + ")",
                                    static_cast<DWORD>(rc)));
  }
  return Status::Ok();
}

}  // namespace mamori
