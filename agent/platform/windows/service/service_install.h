#pragma once

#include <string>
#include <vector>

#include "agent/platform/windows/service/service_settings.h"
#include "common/base/result.h"

namespace mamori {

// Registration of mamori-agent.exe as the MamoriAgent service with the
// service control manager. Every step's error names the step and the API.

// Recovery actions: restart after 5 s, 10 s and 30 s; the failure count is
// reset after a day without failure. Also applied to stops with a nonzero
// exit code (the agent reports a failed start that way), not only crashes.
inline constexpr unsigned kRestartDelaysMs[] = {5'000, 10'000, 30'000};
inline constexpr unsigned kFailureResetPeriodS = 24 * 60 * 60;

struct InstallOptions {
  std::wstring executable;  // full path of mamori-agent.exe
  ServiceParameters parameters;
};

// CreateService (own process, auto start, LocalSystem, command line
// `"<executable>" service`), the description, the parameters, then
// ConfigureService. An existing service is an error (kAlreadyExists); when
// a later step fails the service just created is deleted again. Returns
// ConfigureService's warnings.
Result<std::vector<std::string>> InstallService(const InstallOptions& options);

// What an installer that registered the service itself (the MSI's
// ServiceInstall table) runs afterwards: recovery actions, preshutdown
// timeout, the service DACL (kServiceSddl), the data directory and its
// ACL, the Event Log source. Each is read back after it is written.
// `executable` becomes the Event Log message file. Returns warnings: what
// this service control manager cannot do (Wine 8 has no
// SERVICE_CONFIG_FAILURE_ACTIONS_FLAG) but does not make the service
// unprotected.
Result<std::vector<std::string>> ConfigureService(const std::wstring& executable);

// Stops the service if it runs (waiting at most its own wait hints), deletes
// it and removes the Event Log source. The data directory stays: its logs
// are evidence. A service that is not installed is kNotFound.
Status UninstallService();

}  // namespace mamori
