#pragma once

#include <string>
#include <vector>

#include "agent/platform/windows/service/service_state.h"
#include "common/base/result.h"

namespace mamori {

// Names, places and settings of the installed agent, shared by the
// installer subcommands and the service itself.

inline constexpr wchar_t kServiceName[] = L"MamoriAgent";
inline constexpr wchar_t kServiceDisplayName[] = L"Mamori Agent";
inline constexpr wchar_t kServiceDescription[] =
    L"Blocks removable media that the Mamori device policy does not allow.";
// Event Log source (Application log); its message file is mamori-agent.exe,
// which carries a message table whose message 1000 is the text itself.
inline constexpr wchar_t kEventLogSource[] = L"MamoriAgent";
inline constexpr unsigned kEventLogMessageId = 1000;
inline constexpr wchar_t kEventLogSourceKey[] =
    L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\MamoriAgent";
// Settings `install` records for the service (the usual place for a
// service's own parameters).
inline constexpr wchar_t kParametersKey[] =
    L"SYSTEM\\CurrentControlSet\\Services\\MamoriAgent\\Parameters";

// Pending states are reported with these hints; the SCM's preshutdown
// timeout is the stop hint, so the agent gets as long at shutdown as at a
// stop.
inline constexpr ServiceTimings kServiceTimings{.start_wait_hint_ms = 30'000,
                                                .stop_wait_hint_ms = 15'000};

// Where the agent keeps its files. All under %ProgramData%\Mamori, which
// gets a protected ACL (security.h: SYSTEM and Administrators only).
struct AgentPaths {
  std::wstring data_dir;    // %ProgramData%\Mamori
  std::wstring logs_dir;    // <data_dir>\logs: mamori-agent.log, rotated
  std::wstring state_dir;   // <data_dir>\state: what the agent core keeps
  std::wstring config_dir;  // <data_dir>\config unless installed with --config-dir
};

// The paths under %ProgramData% (SHGetKnownFolderPath), with `config_dir`
// when not empty.
Result<AgentPaths> ResolveAgentPaths(const std::wstring& config_dir = {});

// Creates the directories and applies kDataDirSddl to the data directory
// (inherited by the rest), then reads the DACL back: an error names the
// directory and the step that failed, or what was found instead. Under
// Wine, which keeps no DACLs on directories (it maps them to Unix mode
// bits), a read back that differs is a warning appended to `warnings`.
Status PrepareAgentDirectories(const AgentPaths& paths, std::vector<std::string>* warnings);

// True under Wine (ntdll exports wine_get_version). Wine's service control
// manager accepts failure actions and service security descriptors without
// keeping them, and its files and directories keep no DACLs. Known
// precisely, so that the installer runs under Wine (where CI tests it) with
// warnings saying what is not in effect, while on Windows each of these is
// an error.
bool RunningUnderWine();

struct ServiceParameters {
  std::wstring config_dir;  // empty: the default under the data directory
  bool audit_only = false;
};

// HKLM\<kParametersKey>: ConfigDir (REG_SZ), AuditOnly (REG_DWORD).
Status WriteServiceParameters(const ServiceParameters& parameters);
// Missing key or values read as the defaults.
Result<ServiceParameters> ReadServiceParameters();

// The full path of the running executable (GetModuleFileNameW).
Result<std::wstring> OwnExecutablePath();

}  // namespace mamori
