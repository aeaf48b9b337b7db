#include "agent/app/enrollment_token.h"

#include <filesystem>
#include <system_error>

#include "common/base/file_io.h"

namespace mamori {
namespace {

// A token is one short line; a file far larger is not one.
constexpr std::size_t kMaxTokenFileBytes = 4096;

std::string Trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  const auto end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

}  // namespace

Result<std::string> ReadEnrollmentToken(const EnrollmentConfig& config) {
  if (!config.token.empty()) return config.token;
  if (config.token_file.empty()) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "the terminal has no certificate and no enrollment token is configured "
                     "(enrollment.token or enrollment.token_file)");
  }
  std::error_code ec;
  if (!std::filesystem::exists(config.token_file, ec)) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "enrollment.token_file " + config.token_file +
                         " does not exist (a token is deleted once used): put a new token "
                         "from `mamorictl enroll token create` there");
  }
  const auto size = std::filesystem::file_size(config.token_file, ec);
  if (!ec && size > kMaxTokenFileBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "enrollment.token_file " + config.token_file +
                                                      " holds " + std::to_string(size) +
                                                      " bytes: not a token");
  }
  Result<std::string> text = ReadFileToString(config.token_file);
  if (!text.ok()) {
    return MakeError(text.error().code, "enrollment.token_file: " + text.error().message);
  }
  std::string token = Trim(*text);
  if (token.empty()) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "enrollment.token_file " + config.token_file +
                         " is empty (a token is blanked once used): put a new token there");
  }
  return token;
}

std::string ConsumeEnrollmentToken(const EnrollmentConfig& config) {
  if (config.token_file.empty()) {
    return "the inline enrollment.token is no longer needed and may be removed from the "
           "configuration";
  }
  std::error_code ec;
  if (std::filesystem::remove(config.token_file, ec) && !ec) {
    return "enrollment token file " + config.token_file + " deleted";
  }
  const std::string why = ec ? ec.message() : "not found";
  if (Status s = WriteFileAtomic(config.token_file, "", 0600); s.ok()) {
    return "enrollment token file " + config.token_file + " blanked (cannot delete it: " + why +
           ")";
  }
  return "enrollment token file " + config.token_file + " could be neither deleted nor blanked (" +
         why + "): remove it by hand";
}

}  // namespace mamori
