#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "agent/platform/windows/device/device_manager.h"
#include "agent/platform/windows/device/device_notification.h"
#include "agent/platform/windows/device/disk_attributes.h"
#include "agent/platform/windows/service/unlock_pipe.h"

namespace mamori {

// What mamori-agent.exe runs over below its device backend. The shipped
// agent uses SetupAPI, the disk IOCTLs and Windows' arrival notifications;
// the build the Wine tests run (Wine has no USB stack) injects devices from
// files through the same interfaces and is otherwise the same program.
struct WindowsPlatform {
  std::function<std::unique_ptr<DeviceManager>()> device_manager;
  std::function<std::unique_ptr<DiskControl>()> disk_control;
  // Arrival notifications; when unset, the agent picks Windows' own
  // (CM_Register_Notification, else the service's device events, else a
  // message-only window in a console).
  std::function<std::unique_ptr<DeviceNotificationSource>()> notifications;
  // How often devices are re-read without a notification (Wine sends
  // none).
  std::chrono::milliseconds rescan_interval{std::chrono::seconds(30)};
  // The pipe of `mamori-agent unlock` (kUnlockPipeName; tests use their
  // own).
  std::wstring unlock_pipe = kUnlockPipeName;
  // Shown by --version after the version number.
  std::string_view build_name;
};

// SetupAPI, the disk IOCTLs and Windows' notifications.
WindowsPlatform SystemWindowsPlatform();

// The whole program: parses the command line (install, configure,
// uninstall, run, service, unlock) and runs it. Returns the exit status.
int WindowsAgentMain(const WindowsPlatform& platform);

}  // namespace mamori
