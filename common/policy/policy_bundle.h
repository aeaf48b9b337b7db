#pragma once

#include <cstdint>
#include <string>

namespace mamori {

// A policy as the collector signs it, stores it and sends it, and as the
// agent verifies it and keeps it in its cache: one record from the store
// to the terminal (mamori.v1.PolicyBundle on the wire).
struct PolicyBundle {
  uint64_t version = 0;  // per group, from 1; 0 = no policy
  std::string group;     // the group it was applied to; descendants inherit it
  std::string policy_yaml;
  // Ed25519 signature over version, group and policy_yaml (see
  // policy_signing.h), raw bytes, and the id of the key that made it;
  // empty until signed.
  std::string signature;
  std::string key_id;
  // Who applied it (admin identity URI, or "ledger.add by web:NAME") and
  // when, by the collector's clock. Informational: not signed.
  std::string applied_by;
  int64_t applied_at_ms = 0;
};

}  // namespace mamori
