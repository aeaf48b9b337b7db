#pragma once

// What the SqliteStore's files share: how devices, enums and group filters
// are written to and read from rows. Internal to server/store/sqlite/.

#include <sqlite3.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/device/device.h"
#include "common/device/event.h"
#include "common/device/terminal_state.h"
#include "server/store/sqlite/sqlite_handle.h"

// The sixteen device columns, in the order BindDevice and ReadDevice use;
// shared by the devices and events tables.
#define MAMORI_DEVICE_COLUMNS                                                                 \
  "device_id, vendor_id, product_id, serial, manufacturer, product, bus_path, device_class, " \
  "interface_classes, descriptor_hash, action, matched_rule, allowed_interface_classes, "     \
  "enforced, enforcement_error, first_seen_ms"
#define MAMORI_DEVICE_PARAMS "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
constexpr int kDeviceColumnCount = 16;

namespace mamori::sqlite {

std::string_view EnforcementModeName(EnforcementMode mode);
EnforcementMode ParseEnforcementMode(std::string_view name);
Severity ParseSeverity(std::string_view name);
EventKind KindFromName(std::string_view name);
// A name written by a later release (a class this build does not know) reads
// as "other" rather than disappearing.
DeviceClass ClassFromName(std::string_view name);
Action ActionFromName(std::string_view name);
// Class names never contain a comma, so a comma-separated list is unambiguous
// and stays readable in the sqlite3 shell.
std::string JoinClasses(const std::vector<DeviceClass>& classes);
std::vector<DeviceClass> SplitClasses(std::string_view text);

// The device columns of MAMORI_DEVICE_COLUMNS, bound or read from `first` on.
void BindDevice(Binder& bind, const Device& device);
void BindNoDevice(Binder& bind);
Device ReadDevice(sqlite3_stmt* stmt, int first);

// Group `g` and its descendants: group_name = g, or within [g + "/", g + "0").
// '0' is the byte after '/', so the range holds exactly the names starting
// with "g/" under SQLite's bytewise BINARY collation. Unlike LIKE, nothing in
// `g` acts as a wildcard, and the range can use the group index.
inline constexpr std::string_view kGroupFilter =
    "(group_name = ? OR (group_name >= ? AND group_name < ?))";
// Binds the three parameters of kGroupFilter.
void BindGroup(Binder& bind, std::string_view group);

}  // namespace mamori::sqlite
