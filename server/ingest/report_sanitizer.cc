#include "server/ingest/report_sanitizer.h"

#include "common/base/sanitize.h"

namespace mamori {
namespace {

void Clean(std::string& s, std::size_t max) {
  if (NeedsSanitizing(s, max)) s = SanitizeDeviceString(s, max);
}

}  // namespace

void SanitizeDevice(Device& d) {
  Clean(d.device_id, 256);
  Clean(d.identity.serial, kMaxDeviceStringBytes);
  Clean(d.identity.manufacturer, kMaxDeviceStringBytes);
  Clean(d.identity.product, kMaxDeviceStringBytes);
  Clean(d.identity.bus_path, 128);
  Clean(d.identity.descriptor_hash, 64);
  if (d.identity.interface_classes.size() > 32) d.identity.interface_classes.resize(32);
  Clean(d.decision.matched_rule, 128);
  Clean(d.decision.enforcement_error, 1024);
  // There are ten classes; anything longer is junk that would only bloat
  // every stored row.
  if (d.decision.allowed_interface_classes.size() > 32) {
    d.decision.allowed_interface_classes.resize(32);
  }
}

void SanitizeState(TerminalState& s) {
  Clean(s.hostname, 255);
  Clean(s.os, 255);
  Clean(s.agent_version, 64);
  Clean(s.enforcement.detail, 1024);
  Clean(s.enforcement.backend, 64);
  for (auto& d : s.devices) SanitizeDevice(d);
}

void SanitizeEvent(Event& e) {
  Clean(e.detail, 1024);
  Clean(e.user, 256);
  if (e.device) SanitizeDevice(*e.device);
}

}  // namespace mamori
