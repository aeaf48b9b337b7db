#include "server/store/sqlite/sqlite_rows.h"

#include <cstdint>

namespace mamori::sqlite {

std::string_view EnforcementModeName(EnforcementMode mode) {
  switch (mode) {
    case EnforcementMode::kEnforce:
      return "enforce";
    case EnforcementMode::kAuditOnly:
      return "audit_only";
    case EnforcementMode::kUnspecified:
      break;
  }
  return "unspecified";
}

EnforcementMode ParseEnforcementMode(std::string_view name) {
  if (name == "enforce") return EnforcementMode::kEnforce;
  if (name == "audit_only") return EnforcementMode::kAuditOnly;
  return EnforcementMode::kUnspecified;
}

Severity ParseSeverity(std::string_view name) {
  for (Severity s : {Severity::kInfo, Severity::kWarning, Severity::kAlert}) {
    if (SeverityName(s) == name) return s;
  }
  return Severity::kUnspecified;
}

EventKind KindFromName(std::string_view name) {
  return ParseEventKind(name).value_or(EventKind::kUnspecified);
}

// A name written by a later release (a class this build does not know) reads
// as "other" rather than disappearing.
DeviceClass ClassFromName(std::string_view name) {
  if (name.empty() || name == DeviceClassName(DeviceClass::kUnspecified)) {
    return DeviceClass::kUnspecified;
  }
  return ParseDeviceClass(name).value_or(DeviceClass::kOther);
}

Action ActionFromName(std::string_view name) {
  return ParseAction(name).value_or(Action::kUnspecified);
}

// Class names never contain a comma, so a comma-separated list is unambiguous
// and stays readable in the sqlite3 shell.
std::string JoinClasses(const std::vector<DeviceClass>& classes) {
  std::string out;
  for (DeviceClass c : classes) {
    if (!out.empty()) out.push_back(',');
    out.append(DeviceClassName(c));
  }
  return out;
}

std::vector<DeviceClass> SplitClasses(std::string_view text) {
  std::vector<DeviceClass> out;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    out.push_back(ClassFromName(text.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

void BindDevice(Binder& bind, const Device& device) {
  const DeviceIdentity& id = device.identity;
  bind.Text(device.device_id)
      .Int(id.vendor_id)
      .Int(id.product_id)
      .Text(id.serial)
      .Text(id.manufacturer)
      .Text(id.product)
      .Text(id.bus_path)
      .Text(DeviceClassName(id.device_class))
      .Text(JoinClasses(id.interface_classes))
      .Text(id.descriptor_hash)
      .Text(ActionName(device.decision.action))
      .Text(device.decision.matched_rule)
      .Text(JoinClasses(device.decision.allowed_interface_classes))
      .Int(device.decision.enforced ? 1 : 0)
      .Text(device.decision.enforcement_error)
      .Int(device.first_seen_ms);
}

void BindNoDevice(Binder& bind) {
  for (int i = 0; i < kDeviceColumnCount; ++i) bind.Null();
}

Device ReadDevice(sqlite3_stmt* stmt, int first) {
  Device d;
  int c = first;
  d.device_id = ColumnText(stmt, c++);
  d.identity.vendor_id = static_cast<uint16_t>(ColumnInt64(stmt, c++));
  d.identity.product_id = static_cast<uint16_t>(ColumnInt64(stmt, c++));
  d.identity.serial = ColumnText(stmt, c++);
  d.identity.manufacturer = ColumnText(stmt, c++);
  d.identity.product = ColumnText(stmt, c++);
  d.identity.bus_path = ColumnText(stmt, c++);
  d.identity.device_class = ClassFromName(ColumnText(stmt, c++));
  d.identity.interface_classes = SplitClasses(ColumnText(stmt, c++));
  d.identity.descriptor_hash = ColumnText(stmt, c++);
  d.decision.action = ActionFromName(ColumnText(stmt, c++));
  d.decision.matched_rule = ColumnText(stmt, c++);
  d.decision.allowed_interface_classes = SplitClasses(ColumnText(stmt, c++));
  d.decision.enforced = ColumnInt64(stmt, c++) != 0;
  d.decision.enforcement_error = ColumnText(stmt, c++);
  d.first_seen_ms = ColumnInt64(stmt, c++);
  return d;
}

void BindGroup(Binder& bind, std::string_view group) {
  std::string lower(group);
  lower.push_back('/');
  std::string upper(group);
  upper.push_back('0');
  bind.Text(group).Text(lower).Text(upper);
}

}  // namespace mamori::sqlite
