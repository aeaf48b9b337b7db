// libFuzzer target: ParsePolicy returns a policy or an error for any bytes,
// never crashes, throws or leaks; a policy it accepts evaluates without
// crashing for an arbitrary device.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/policy/policy.h"
#include "common/policy/policy_parser.h"
#include "common/policy/rule_engine.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  mamori::Result<mamori::Policy> policy = mamori::ParsePolicy(text, "fuzz.yaml");
  if (!policy.ok()) {
    if (policy.error().message.empty()) __builtin_trap();  // errors must say what is wrong
    return 0;
  }
  mamori::DeviceIdentity device;
  device.vendor_id = 0x0781;
  device.product_id = 0x5581;
  device.serial = std::string(text.substr(0, 32));
  device.device_class = mamori::DeviceClass::kUnspecified;
  device.interface_classes = {mamori::DeviceClass::kHid, mamori::DeviceClass::kMassStorage};
  const mamori::Decision d = mamori::Evaluate(*policy, device, 0);
  if (d.matched_rule.empty()) __builtin_trap();  // every decision names its rule
  return 0;
}
