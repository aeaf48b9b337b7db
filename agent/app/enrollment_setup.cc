#include "agent/app/enrollment_setup.h"

#include <cctype>
#include <filesystem>
#include <system_error>

#include "agent/app/agent_config.h"
#include "common/base/file_io.h"
#include "common/crypto/ca_pin.h"
#include "common/crypto/identity.h"
#include "common/policy/policy_signing.h"

namespace mamori {
namespace {

namespace fs = std::filesystem;

// YAML double-quoted scalar: the values are checked to be plain already, so
// this only guards against a stray quote or backslash.
std::string Quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

bool IsBase64(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/' && c != '=') {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<std::string> PolicyKeyPem(const std::string& text) {
  std::string pem = text;
  if (text.find("-----BEGIN") == std::string::npos) {
    if (!IsBase64(text)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "the policy key is neither a PEM public key nor its base64 body");
    }
    pem = "-----BEGIN PUBLIC KEY-----\n" + text + "\n-----END PUBLIC KEY-----\n";
  }
  Result<PolicyPublicKey> key = PolicyPublicKey::FromPem(pem);
  if (!key.ok()) {
    return MakeError(ErrorCode::kInvalidArgument, "the policy key: " + key.error().message);
  }
  return pem;
}

Result<std::string> RenderEnrollmentConfig(const EnrollmentSetup& setup) {
  Result<std::string> pin = ParseCaFingerprint(setup.ca_fingerprint);
  if (!pin.ok()) return MakeError(pin.error().code, "CA_FINGERPRINT: " + pin.error().message);
  if (!setup.terminal_id.empty() && !IsValidId(setup.terminal_id)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "terminal id '" + setup.terminal_id +
                         "': expected 1 to 128 characters of A-Z a-z 0-9 . _ -");
  }
  std::string yaml =
      "# Written by `mamori-agent configure` from the installer's COLLECTOR,\n"
      "# CA_FINGERPRINT and ENROLL_TOKEN. The agent enrolls with the token on its\n"
      "# first start, deletes the token file, and keeps its key and certificate\n"
      "# in state_dir/identity (renewed automatically).\n"
      "collector:\n"
      "  address: " +
      Quoted(setup.collector) +
      "\n"
      "enrollment:\n"
      "  ca_fingerprint: " +
      Quoted(FormatFingerprint(*pin)) + "\n  token_file: " + kSetupTokenFile + "\n";
  if (!setup.enroll_address.empty()) yaml += "  address: " + Quoted(setup.enroll_address) + "\n";
  if (!setup.terminal_id.empty()) yaml += "  terminal_id: " + Quoted(setup.terminal_id) + "\n";
  yaml += std::string("policy:\n  public_key_file: ") + kSetupPolicyKeyFile +
          "\nstate_dir: " + Quoted(setup.state_dir) + "\n";
  // The agent's own parser has the last word (collector address and all).
  Result<AgentConfig> parsed = ParseAgentConfig(yaml, "COLLECTOR/CA_FINGERPRINT", "/");
  if (!parsed.ok()) return parsed.error();
  return yaml;
}

Result<std::vector<std::string>> WriteEnrollmentSetup(const EnrollmentSetup& setup,
                                                      const std::string& config_dir) {
  Result<std::string> yaml = RenderEnrollmentConfig(setup);
  if (!yaml.ok()) return yaml.error();
  const fs::path dir(config_dir);
  std::string policy_pem;
  if (!setup.policy_key.empty()) {
    Result<std::string> pem = PolicyKeyPem(setup.policy_key);
    if (!pem.ok()) return MakeError(pem.error().code, "POLICY_KEY: " + pem.error().message);
    policy_pem = std::move(*pem);
  } else {
    std::error_code ec;
    if (!fs::exists(dir / kSetupPolicyKeyFile, ec)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "no policy key: give POLICY_KEY (the collector's policy-signing.pub, or "
                       "its base64 line), or put " +
                           std::string(kSetupPolicyKeyFile) + " in " + config_dir);
    }
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return MakeError(ErrorCode::kIo, config_dir + ": cannot create: " + ec.message());
  std::vector<std::string> written;
  // The token first: a configuration that names a token file never exists
  // without it.
  if (!setup.token.empty()) {
    if (setup.token.size() > 512) {
      return MakeError(ErrorCode::kInvalidArgument, "ENROLL_TOKEN: longer than 512 characters");
    }
    if (Status s = WriteFileAtomic((dir / kSetupTokenFile).string(), setup.token + "\n", 0600);
        !s.ok()) {
      return s.error();
    }
    written.push_back(kSetupTokenFile);
  }
  if (!policy_pem.empty()) {
    if (Status s = WriteFileAtomic((dir / kSetupPolicyKeyFile).string(), policy_pem, 0644);
        !s.ok()) {
      return s.error();
    }
    written.push_back(kSetupPolicyKeyFile);
  }
  if (Status s = WriteFileAtomic((dir / kSetupConfigFile).string(), *yaml, 0644); !s.ok()) {
    return s.error();
  }
  written.push_back(kSetupConfigFile);
  return written;
}

}  // namespace mamori
