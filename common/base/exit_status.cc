#include "common/base/exit_status.h"

#include <iostream>

namespace mamori {

int Fail(std::string_view who, std::string_view message) {
  std::cerr << who << ": " << message << "\n";
  return kExitFailure;
}

}  // namespace mamori
