#pragma once

#include <string>

#include "agent/app/agent_config.h"
#include "common/base/result.h"

namespace mamori {

// The enrollment token from enrollment.token or enrollment.token_file
// (surrounding white space trimmed). The error says what is missing, e.g.
// that the token file is gone because it was used already.
Result<std::string> ReadEnrollmentToken(const EnrollmentConfig& config);

// After a successful enrollment: deletes enrollment.token_file, or, where
// the file cannot be deleted, overwrites it with nothing, so the token does
// not stay readable on the terminal. An inline token stays in the config
// file; the returned note says so. Returns what was done, for the log.
std::string ConsumeEnrollmentToken(const EnrollmentConfig& config);

}  // namespace mamori
