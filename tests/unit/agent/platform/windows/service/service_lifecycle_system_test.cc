// The real mamori-agent.exe against the real service control manager (Wine's
// services.exe in CI): install, start, RUNNING, stop within the declared
// wait hint, uninstall; `configure` on a service registered by someone else
// (as the MSI does); usage errors. Where Wine's SCM does less than Windows
// (failure actions, service security descriptors, directory DACLs), the
// test asserts exactly what Wine does and that the agent says so.
//
// Arguments: the path of mamori-agent.exe and of a configuration folder
// (agent.yaml with a test PKI, tests/unit/agent/platform/windows/make_agent_config.sh), as
// ctest passes them (Unix paths, reached through Wine's Z: drive) or Windows
// paths. The configuration names a collector on 127.0.0.1 where none
// listens: the service runs and retries, which is all these tests need.
// clang-format off
#include <windows.h>
// clang-format on
#include <gtest/gtest.h>
#include <winsvc.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/platform/windows/service/config_import.h"
#include "agent/platform/windows/service/service_install.h"
#include "agent/platform/windows/service/service_settings.h"
#include "agent/platform/windows/win32/handles.h"
#include "agent/platform/windows/win32/security.h"
#include "agent/platform/windows/win32/wide_string.h"

namespace mamori {
namespace {

std::wstring g_agent;          // Windows path of mamori-agent.exe
std::wstring g_config_source;  // Windows path of the configuration folder

struct ProcessResult {
  DWORD exit_code = 0;
  std::string output;  // stdout and stderr
};

// Runs mamori-agent.exe with `args` and waits (at most two minutes).
ProcessResult RunAgent(const std::wstring& args) {
  ProcessResult result;
  SECURITY_ATTRIBUTES inherit{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  HANDLE read_raw = nullptr;
  HANDLE write_raw = nullptr;
  if (!::CreatePipe(&read_raw, &write_raw, &inherit, 0)) {
    ADD_FAILURE() << "CreatePipe failed: " << ::GetLastError();
    return result;
  }
  UniqueHandle read(read_raw);
  UniqueHandle write(write_raw);
  ::SetHandleInformation(read.get(), HANDLE_FLAG_INHERIT, 0);
  STARTUPINFOW si{};
  si.cb = sizeof(si);
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdOutput = write.get();
  si.hStdError = write.get();
  si.hStdInput = nullptr;
  PROCESS_INFORMATION pi{};
  std::wstring command = L"\"" + g_agent + L"\" " + args;
  if (!::CreateProcessW(g_agent.c_str(), command.data(), nullptr, nullptr, TRUE, 0, nullptr,
                        nullptr, &si, &pi)) {
    ADD_FAILURE() << "CreateProcessW(" << Utf16ToUtf8(g_agent) << ") failed: " << ::GetLastError();
    return result;
  }
  UniqueHandle process(pi.hProcess);
  UniqueHandle thread(pi.hThread);
  write.reset();  // the child holds the only write end: EOF when it exits
  char buffer[4096];
  DWORD n = 0;
  while (::ReadFile(read.get(), buffer, sizeof buffer, &n, nullptr) && n > 0) {
    result.output.append(buffer, n);
  }
  EXPECT_EQ(::WaitForSingleObject(process.get(), 120'000), WAIT_OBJECT_0)
      << "mamori-agent " << Utf16ToUtf8(args) << " did not exit";
  ::GetExitCodeProcess(process.get(), &result.exit_code);
  return result;
}

SERVICE_STATUS_PROCESS QueryStatus(SC_HANDLE service) {
  SERVICE_STATUS_PROCESS status{};
  DWORD needed = 0;
  EXPECT_TRUE(::QueryServiceStatusEx(service, SC_STATUS_PROCESS_INFO,
                                     reinterpret_cast<BYTE*>(&status), sizeof(status), &needed))
      << ::GetLastError();
  return status;
}

std::string Describe(const SERVICE_STATUS_PROCESS& s) {
  return "state " + std::to_string(s.dwCurrentState) + ", checkpoint " +
         std::to_string(s.dwCheckPoint) + ", wait hint " + std::to_string(s.dwWaitHint) +
         " ms, exit " + std::to_string(s.dwWin32ExitCode) + "/" +
         std::to_string(s.dwServiceSpecificExitCode);
}

// Polls while the service is in `pending` and keeps making progress within
// its wait hint. Returns the first other status.
SERVICE_STATUS_PROCESS WaitWhilePending(SC_HANDLE service, DWORD pending) {
  using Clock = std::chrono::steady_clock;
  SERVICE_STATUS_PROCESS s = QueryStatus(service);
  DWORD checkpoint = s.dwCheckPoint;
  auto deadline = Clock::now() + std::chrono::milliseconds(std::max<DWORD>(s.dwWaitHint, 1000));
  while (s.dwCurrentState == pending && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    s = QueryStatus(service);
    if (s.dwCheckPoint != checkpoint) {
      checkpoint = s.dwCheckPoint;
      deadline = Clock::now() + std::chrono::milliseconds(std::max<DWORD>(s.dwWaitHint, 1000));
    }
  }
  return s;
}

std::string ReadFile(const std::wstring& path) {
  std::ifstream in(Utf16ToUtf8(path), std::ios::binary);  // ASCII paths only (ProgramData)
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool ServiceExists() {
  UniqueScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  UniqueScHandle service(::OpenServiceW(scm.get(), kServiceName, SERVICE_QUERY_STATUS));
  return service.valid();
}

class ServiceLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(g_agent.empty()) << "usage: service_windows <path of mamori-agent.exe>";
    ASSERT_FALSE(ServiceExists()) << "MamoriAgent is already installed in this Wine prefix";
    // What the MSI's CONFIG_SOURCE imports.
    ASSERT_FALSE(g_config_source.empty()) << "usage: service_windows AGENT CONFIG_SOURCE";
    auto paths = ResolveAgentPaths();
    ASSERT_TRUE(paths.ok());
    auto imported = ImportConfig(g_config_source, paths->config_dir);
    ASSERT_TRUE(imported.ok()) << imported.error().message;
  }
  void TearDown() override {
    // Whatever failed above, leave no service behind for the next test.
    if (ServiceExists()) (void)RunAgent(L"uninstall");
  }
};

TEST_F(ServiceLifecycleTest, InstallStartStopUninstall) {
  const ProcessResult installed = RunAgent(L"install");
  ASSERT_EQ(installed.exit_code, 0u) << installed.output;
  EXPECT_NE(installed.output.find("installed service MamoriAgent"), std::string::npos)
      << installed.output;

  UniqueScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  ASSERT_TRUE(scm) << ::GetLastError();
  UniqueScHandle service(::OpenServiceW(scm.get(), kServiceName, SERVICE_ALL_ACCESS));
  ASSERT_TRUE(service) << ::GetLastError();

  // Registration as CreateService was asked.
  std::vector<BYTE> buffer(16384);
  DWORD needed = 0;
  ASSERT_TRUE(::QueryServiceConfigW(service.get(),
                                    reinterpret_cast<QUERY_SERVICE_CONFIGW*>(buffer.data()),
                                    static_cast<DWORD>(buffer.size()), &needed))
      << ::GetLastError();
  const auto* config = reinterpret_cast<const QUERY_SERVICE_CONFIGW*>(buffer.data());
  EXPECT_EQ(config->dwServiceType, static_cast<DWORD>(SERVICE_WIN32_OWN_PROCESS));
  EXPECT_EQ(config->dwStartType, static_cast<DWORD>(SERVICE_AUTO_START));
  EXPECT_EQ(std::wstring(config->lpBinaryPathName), L"\"" + g_agent + L"\" service");
  EXPECT_EQ(std::wstring(config->lpServiceStartName), L"LocalSystem");
  EXPECT_EQ(std::wstring(config->lpDisplayName), L"Mamori Agent");

  SERVICE_PRESHUTDOWN_INFO preshutdown{};
  ASSERT_TRUE(::QueryServiceConfig2W(service.get(), SERVICE_CONFIG_PRESHUTDOWN_INFO,
                                     reinterpret_cast<BYTE*>(&preshutdown), sizeof(preshutdown),
                                     &needed))
      << ::GetLastError();
  EXPECT_EQ(preshutdown.dwPreshutdownTimeout, kServiceTimings.stop_wait_hint_ms);

  const bool wine = RunningUnderWine();
  std::cout << "[ info ] " << (wine ? "Wine" : "Windows") << " service control manager\n";
  // Recovery actions and the service DACL, read back.
  const BOOL got_actions =
      ::QueryServiceConfig2W(service.get(), SERVICE_CONFIG_FAILURE_ACTIONS, buffer.data(),
                             static_cast<DWORD>(buffer.size()), &needed);
  const DWORD actions_error = got_actions ? 0 : ::GetLastError();
  auto dacl = ServiceDacl(service.get());
  ASSERT_TRUE(dacl.ok()) << dacl.error().message;
  if (wine) {
    // services.exe: "SERVICE_CONFIG_FAILURE_ACTIONS not implemented", no
    // query level; sechost: SetServiceObjectSecurity is a stub and
    // QueryServiceObjectSecurity returns an empty DACL.
    EXPECT_FALSE(got_actions);
    EXPECT_EQ(actions_error, static_cast<DWORD>(ERROR_INVALID_LEVEL));
    EXPECT_EQ(*dacl, L"D:");
    for (const char* warning :
         {"does not support SERVICE_CONFIG_FAILURE_ACTIONS_FLAG", "does not keep failure actions",
          "does not keep service security descriptors", "Wine keeps no DACL on directories"}) {
      EXPECT_NE(installed.output.find(warning), std::string::npos)
          << "install does not warn '" << warning << "':\n"
          << installed.output;
    }
  } else {
    ASSERT_TRUE(got_actions) << actions_error;
    const auto* actions = reinterpret_cast<const SERVICE_FAILURE_ACTIONSW*>(buffer.data());
    EXPECT_EQ(actions->dwResetPeriod, kFailureResetPeriodS);
    ASSERT_EQ(actions->cActions, std::size(kRestartDelaysMs));
    for (DWORD i = 0; i < actions->cActions; ++i) {
      EXPECT_EQ(actions->lpsaActions[i].Type, SC_ACTION_RESTART);
      EXPECT_EQ(actions->lpsaActions[i].Delay, kRestartDelaysMs[i]);
    }
    SERVICE_FAILURE_ACTIONS_FLAG flag{};
    ASSERT_TRUE(::QueryServiceConfig2W(service.get(), SERVICE_CONFIG_FAILURE_ACTIONS_FLAG,
                                       reinterpret_cast<BYTE*>(&flag), sizeof(flag), &needed));
    EXPECT_TRUE(flag.fFailureActionsOnNonCrashFailures);
    auto expected = CanonicalDaclSddl(kServiceSddl);
    ASSERT_TRUE(expected.ok());
    EXPECT_EQ(*dacl, *expected);
  }

  // Start: START_PENDING with progress, then RUNNING.
  ASSERT_TRUE(::StartServiceW(service.get(), 0, nullptr)) << ::GetLastError();
  SERVICE_STATUS_PROCESS s = WaitWhilePending(service.get(), SERVICE_START_PENDING);
  ASSERT_EQ(s.dwCurrentState, static_cast<DWORD>(SERVICE_RUNNING)) << Describe(s);
  EXPECT_EQ(s.dwControlsAccepted & (SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_PRESHUTDOWN),
            static_cast<DWORD>(SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_PRESHUTDOWN));
  EXPECT_NE(s.dwProcessId, 0u);

  // INTERROGATE is answered with the current status.
  SERVICE_STATUS interrogated{};
  ASSERT_TRUE(::ControlService(service.get(), SERVICE_CONTROL_INTERROGATE, &interrogated))
      << ::GetLastError();
  EXPECT_EQ(interrogated.dwCurrentState, static_cast<DWORD>(SERVICE_RUNNING));

  // `unlock` reaches the running service through its pipe and gets its
  // answer: this configuration has no unlock key, so every code is refused
  // as unavailable (the service read it; the pipe let this user in).
  const ProcessResult unlock = RunAgent(L"unlock 7K3M9Q-2XH8TB-4WFR0C");
  EXPECT_EQ(unlock.exit_code, 1u) << unlock.output;
  EXPECT_NE(unlock.output.find("refused (unavailable)"), std::string::npos) << unlock.output;
  EXPECT_NE(unlock.output.find("offline unlock is not set up"), std::string::npos) << unlock.output;

  // Stop: STOPPED within the wait hint the service declared for it.
  SERVICE_STATUS stopping{};
  ASSERT_TRUE(::ControlService(service.get(), SERVICE_CONTROL_STOP, &stopping)) << ::GetLastError();
  const auto stop_deadline =
      std::chrono::steady_clock::now() +
      std::chrono::milliseconds(stopping.dwCurrentState == SERVICE_STOP_PENDING
                                    ? stopping.dwWaitHint
                                    : kServiceTimings.stop_wait_hint_ms);
  if (stopping.dwCurrentState == SERVICE_STOP_PENDING) {
    EXPECT_EQ(stopping.dwWaitHint, kServiceTimings.stop_wait_hint_ms);
  }
  do {
    s = QueryStatus(service.get());
    if (s.dwCurrentState == SERVICE_STOPPED) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < stop_deadline);
  ASSERT_EQ(s.dwCurrentState, static_cast<DWORD>(SERVICE_STOPPED))
      << "not stopped within the declared wait hint: " << Describe(s);
  EXPECT_EQ(s.dwWin32ExitCode, static_cast<DWORD>(NO_ERROR)) << Describe(s);

  // What the service logged, in its own file under the data directory.
  auto paths = ResolveAgentPaths();
  ASSERT_TRUE(paths.ok());
  const std::string log = ReadFile(paths->logs_dir + L"\\mamori-agent.log");
  for (const char* line :
       {"mamori-agent " MAMORI_VERSION " starting, enforce mode", "pinned policy key",
        "service running", "service stopping: service stop", "stopped (service stop)"}) {
    EXPECT_NE(log.find(line), std::string::npos) << "log lacks '" << line << "':\n" << log;
  }

  service.reset();
  const ProcessResult uninstalled = RunAgent(L"uninstall");
  ASSERT_EQ(uninstalled.exit_code, 0u) << uninstalled.output;
  UniqueScHandle gone(::OpenServiceW(scm.get(), kServiceName, SERVICE_QUERY_STATUS));
  EXPECT_FALSE(gone);
  EXPECT_EQ(::GetLastError(), static_cast<DWORD>(ERROR_SERVICE_DOES_NOT_EXIST));
  // The logs stay: they are evidence.
  EXPECT_NE(::GetFileAttributesW((paths->logs_dir + L"\\mamori-agent.log").c_str()),
            INVALID_FILE_ATTRIBUTES);
}

// An installer that registers the service itself (the MSI's ServiceInstall
// table) runs `configure` afterwards.
TEST_F(ServiceLifecycleTest, ConfigureCompletesAServiceRegisteredElsewhere) {
  const ProcessResult missing = RunAgent(L"configure");
  EXPECT_EQ(missing.exit_code, 1u) << missing.output;
  EXPECT_NE(missing.output.find("configure: service: OpenServiceW(MamoriAgent)"), std::string::npos)
      << missing.output;

  UniqueScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CREATE_SERVICE));
  ASSERT_TRUE(scm) << ::GetLastError();
  const std::wstring command = L"\"" + g_agent + L"\" service";
  UniqueScHandle service(::CreateServiceW(scm.get(), kServiceName, kServiceDisplayName,
                                          SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS,
                                          SERVICE_AUTO_START, SERVICE_ERROR_NORMAL, command.c_str(),
                                          nullptr, nullptr, nullptr, nullptr, nullptr));
  ASSERT_TRUE(service) << ::GetLastError();

  SERVICE_PRESHUTDOWN_INFO preshutdown{};
  DWORD needed = 0;
  ASSERT_TRUE(::QueryServiceConfig2W(service.get(), SERVICE_CONFIG_PRESHUTDOWN_INFO,
                                     reinterpret_cast<BYTE*>(&preshutdown), sizeof(preshutdown),
                                     &needed));
  EXPECT_NE(preshutdown.dwPreshutdownTimeout, kServiceTimings.stop_wait_hint_ms);

  // A configuration source that does not exist fails the installer's
  // custom action, naming it.
  const ProcessResult bad_source = RunAgent(L"configure --import-config C:\\no\\such\\dir");
  EXPECT_EQ(bad_source.exit_code, 1u) << bad_source.output;
  EXPECT_NE(bad_source.output.find("C:\\no\\such\\dir is not a directory"), std::string::npos)
      << bad_source.output;

  const ProcessResult configured =
      RunAgent(L"configure --import-config \"" + g_config_source + L"\"");
  ASSERT_EQ(configured.exit_code, 0u) << configured.output;
  EXPECT_NE(configured.output.find("configuration "), std::string::npos) << configured.output;
  EXPECT_NE(configured.output.find("loads: collector 127.0.0.1:"), std::string::npos)
      << configured.output;
  ASSERT_TRUE(::QueryServiceConfig2W(service.get(), SERVICE_CONFIG_PRESHUTDOWN_INFO,
                                     reinterpret_cast<BYTE*>(&preshutdown), sizeof(preshutdown),
                                     &needed));
  EXPECT_EQ(preshutdown.dwPreshutdownTimeout, kServiceTimings.stop_wait_hint_ms);

  // The Event Log source points at the executable's message table.
  wchar_t file[MAX_PATH * 2] = {};
  DWORD bytes = sizeof(file);
  ASSERT_EQ(::RegGetValueW(HKEY_LOCAL_MACHINE, kEventLogSourceKey, L"EventMessageFile",
                           RRF_RT_REG_EXPAND_SZ | RRF_NOEXPAND, nullptr, file, &bytes),
            ERROR_SUCCESS);
  EXPECT_EQ(std::wstring(file), g_agent);
  HMODULE module = ::LoadLibraryExW(g_agent.c_str(), nullptr, LOAD_LIBRARY_AS_DATAFILE);
  ASSERT_NE(module, nullptr) << ::GetLastError();
  wchar_t* text = nullptr;
  const wchar_t* insert = L"a log line";
  DWORD_PTR inserts[] = {reinterpret_cast<DWORD_PTR>(insert)};
  const DWORD n = ::FormatMessageW(
      FORMAT_MESSAGE_FROM_HMODULE | FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_ARGUMENT_ARRAY,
      module, kEventLogMessageId, 0, reinterpret_cast<wchar_t*>(&text), 0,
      reinterpret_cast<va_list*>(inserts));
  ::FreeLibrary(module);
  ASSERT_GT(n, 0u) << "message " << kEventLogMessageId << " missing: " << ::GetLastError();
  EXPECT_EQ(std::wstring(text).substr(0, 10), L"a log line");
  ::LocalFree(text);

  service.reset();
  const ProcessResult uninstalled = RunAgent(L"uninstall");
  EXPECT_EQ(uninstalled.exit_code, 0u) << uninstalled.output;
  EXPECT_NE(::RegGetValueW(HKEY_LOCAL_MACHINE, kEventLogSourceKey, L"EventMessageFile", RRF_RT_ANY,
                           nullptr, nullptr, nullptr),
            ERROR_SUCCESS);
}

TEST(AgentCommandLineTest, ExitCodes) {
  ASSERT_FALSE(g_agent.empty());
  EXPECT_EQ(RunAgent(L"--version").exit_code, 0u);
  const ProcessResult help = RunAgent(L"--help");
  EXPECT_EQ(help.exit_code, 0u);
  EXPECT_NE(help.output.find("configure"), std::string::npos) << help.output;
  EXPECT_EQ(RunAgent(L"").exit_code, 2u);
  const ProcessResult unknown = RunAgent(L"frobnicate");
  EXPECT_EQ(unknown.exit_code, 2u);
  EXPECT_NE(unknown.output.find("unknown command 'frobnicate'"), std::string::npos)
      << unknown.output;
  EXPECT_EQ(RunAgent(L"install --no-such-option").exit_code, 2u);
  EXPECT_EQ(RunAgent(L"configure --audit-only").exit_code, 2u);
  EXPECT_EQ(RunAgent(L"run --log-level loud").exit_code, 2u);
  EXPECT_EQ(RunAgent(L"install --config-dir").exit_code, 2u);
  EXPECT_EQ(RunAgent(L"unlock").exit_code, 2u);
  EXPECT_EQ(RunAgent(L"unlock A B").exit_code, 2u);
  // No service running: a clear failure, not a hang.
  const ProcessResult no_service = RunAgent(L"unlock 7K3M9Q-2XH8TB-4WFR0C");
  EXPECT_EQ(no_service.exit_code, 1u);
  EXPECT_NE(no_service.output.find("is the service running?"), std::string::npos)
      << no_service.output;
  // `service` outside the SCM is a failure, not a hang.
  const ProcessResult outside = RunAgent(L"service");
  EXPECT_EQ(outside.exit_code, 1u);
  EXPECT_NE(outside.output.find("not started by the service control manager"), std::string::npos)
      << outside.output;
}

}  // namespace
}  // namespace mamori

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // ctest passes the build tree's Unix paths; Wine maps / to Z:.
  auto windows_path = [](std::string path) {
    if (!path.empty() && path[0] == '/') {
      for (char& c : path) {
        if (c == '/') c = '\\';
      }
      path = "Z:" + path;
    }
    return mamori::Utf8ToUtf16(path);
  };
  if (argc > 1) mamori::g_agent = windows_path(argv[1]);
  if (argc > 2) mamori::g_config_source = windows_path(argv[2]);
  return RUN_ALL_TESTS();
}
