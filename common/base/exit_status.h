#pragma once

#include <string_view>

namespace mamori {

// The exit status of every Mamori program (mamori-agent on Linux and
// Windows, mamori-collector, mamorictl), as their --help says.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // network, refused, file or configuration error
inline constexpr int kExitUsage = 2;    // unknown command or flag, missing argument

// Writes "<who>: <message>" to stderr and returns kExitFailure, for mains
// failing before logging is set up.
int Fail(std::string_view who, std::string_view message);

}  // namespace mamori
