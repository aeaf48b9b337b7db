// mamori-agent.exe: the Windows agent (agent/app/windows_agent.h).
#include <exception>
#include <iostream>

#include "agent/app/windows_agent.h"

int main() {
  try {
    return mamori::WindowsAgentMain(mamori::SystemWindowsPlatform());
  } catch (const std::exception& e) {
    std::cerr << "mamori-agent: unexpected error: " << e.what() << "\n";
    return 1;
  }
}
