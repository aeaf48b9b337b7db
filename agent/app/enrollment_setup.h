#pragma once

#include <string>
#include <vector>

#include "common/base/result.h"

namespace mamori {

// What an installer knows about a deployment (the MSI's COLLECTOR,
// CA_FINGERPRINT, ENROLL_TOKEN and POLICY_KEY properties): enough for an
// agent that enrolls itself.
struct EnrollmentSetup {
  std::string collector;       // host:port of the agent API
  std::string ca_fingerprint;  // SHA-256 of the root CA certificate, as operators write it
  std::string token;           // "" = keep the token file as it is
  // The collector's policy-signing.pub: the PEM, or its one-line base64
  // body ("MCowBQYDK2VwAyEA..."). "" = keep the file in the folder.
  std::string policy_key;
  std::string terminal_id;     // optional
  std::string enroll_address;  // optional; default: the collector's host, port 7444
  std::string state_dir = "../state";
};

// File names in the configuration folder.
inline constexpr char kSetupConfigFile[] = "agent.yaml";
inline constexpr char kSetupTokenFile[] = "enroll-token";
inline constexpr char kSetupPolicyKeyFile[] = "policy-signing.pub";

// agent.yaml for `setup`: collector.address, an enrollment section with the
// pin and token_file: enroll-token, policy.public_key_file, state_dir. The
// values are checked (address, fingerprint, terminal id) the way the agent
// will check them, so a typo fails the installation, not the service.
Result<std::string> RenderEnrollmentConfig(const EnrollmentSetup& setup);

// The PEM of a policy public key given as PEM or as its base64 body.
Result<std::string> PolicyKeyPem(const std::string& text);

// Writes agent.yaml, the token file (owner only where the OS has mode bits;
// the folder's ACL otherwise) and the policy key into `config_dir`;
// returns the names written. The existing policy key is kept when none is
// given; without either it is an error that names the property.
Result<std::vector<std::string>> WriteEnrollmentSetup(const EnrollmentSetup& setup,
                                                      const std::string& config_dir);

}  // namespace mamori
