#include "server/ingest/report_sanitizer.h"

#include "common/base/sanitize.h"
#include "server/ingest/ingest_limits.h"

namespace mamori {
namespace {

void Clean(std::string& s, std::size_t max) {
  if (NeedsSanitizing(s, max)) s = SanitizeDeviceString(s, max);
}

}  // namespace

void SanitizeDevice(Device& d) {
  Clean(d.device_id, kMaxDeviceIdBytes);
  Clean(d.identity.serial, kMaxDeviceStringBytes);
  Clean(d.identity.manufacturer, kMaxDeviceStringBytes);
  Clean(d.identity.product, kMaxDeviceStringBytes);
  Clean(d.identity.bus_path, kMaxBusPathBytes);
  Clean(d.identity.descriptor_hash, kMaxDescriptorHashBytes);
  Clean(d.decision.matched_rule, kMaxRuleNameBytes);
  Clean(d.decision.enforcement_error, kMaxDetailBytes);
  // The interface lists were bounded at the boundary (ValidateDevice);
  // this keeps the sanitizer safe on its own.
  constexpr auto kMaxInterfaces = static_cast<std::size_t>(kMaxInterfacesPerDevice);
  if (d.identity.interface_classes.size() > kMaxInterfaces) {
    d.identity.interface_classes.resize(kMaxInterfaces);
  }
  if (d.decision.allowed_interface_classes.size() > kMaxInterfaces) {
    d.decision.allowed_interface_classes.resize(kMaxInterfaces);
  }
}

void SanitizeState(TerminalState& s) {
  Clean(s.hostname, kMaxHostnameBytes);
  Clean(s.os, kMaxOsBytes);
  Clean(s.agent_version, kMaxAgentVersionBytes);
  Clean(s.enforcement.detail, kMaxDetailBytes);
  Clean(s.enforcement.backend, kMaxBackendNameBytes);
  for (auto& d : s.devices) SanitizeDevice(d);
}

void SanitizeEvent(Event& e) {
  Clean(e.detail, kMaxDetailBytes);
  Clean(e.user, kMaxUserBytes);
  if (e.device) SanitizeDevice(*e.device);
}

}  // namespace mamori
