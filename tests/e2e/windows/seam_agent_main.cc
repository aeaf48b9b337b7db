// mamori-agent-seam.exe: mamori-agent.exe with its devices read from the
// directory named by MAMORI_TEST_DEVICE_DIR (file_devices.h) and re-read
// every 500 ms, for the Wine tests; everything else is the shipped agent.
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>

#include "agent/app/windows_agent.h"
#include "tests/e2e/windows/file_devices.h"

int main() {
  const char* dir = std::getenv("MAMORI_TEST_DEVICE_DIR");
  if (dir == nullptr || *dir == '\0') {
    std::cerr << "mamori-agent-seam: MAMORI_TEST_DEVICE_DIR must name the device directory\n";
    return 2;
  }
  try {
    mamori::WindowsPlatform platform;
    platform.device_manager = [d = std::string(dir)] {
      return std::make_unique<mamori::testing::FileDeviceManager>(d);
    };
    platform.disk_control = [] { return std::make_unique<mamori::testing::NoDiskControl>(); };
    platform.rescan_interval = std::chrono::milliseconds(500);
    platform.build_name = "test seam: devices from files";
    return mamori::WindowsAgentMain(platform);
  } catch (const std::exception& e) {
    std::cerr << "mamori-agent-seam: unexpected error: " << e.what() << "\n";
    return 1;
  }
}
