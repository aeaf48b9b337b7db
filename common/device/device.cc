#include "common/device/device.h"

#include <array>
#include <cstdio>
#include <utility>

#include "common/base/hex.h"

namespace mamori {
namespace {

constexpr std::array<std::pair<DeviceClass, std::string_view>, 16> kClassNames = {{
    {DeviceClass::kUnspecified, "unspecified"},
    {DeviceClass::kMassStorage, "mass_storage"},
    {DeviceClass::kStillImage, "still_image"},
    {DeviceClass::kOptical, "optical"},
    {DeviceClass::kCardReader, "card_reader"},
    {DeviceClass::kPrinter, "printer"},
    {DeviceClass::kWireless, "wireless"},
    {DeviceClass::kHid, "hid"},
    {DeviceClass::kHub, "hub"},
    {DeviceClass::kOther, "other"},
    {DeviceClass::kNetwork, "network"},
    {DeviceClass::kSerial, "serial"},
    {DeviceClass::kBluetooth, "bluetooth"},
    {DeviceClass::kWifi, "wifi"},
    {DeviceClass::kSmartCard, "smart_card"},
    {DeviceClass::kBiometric, "biometric"},
}};

constexpr std::array<std::pair<Action, std::string_view>, 4> kActionNames = {{
    {Action::kUnspecified, "unspecified"},
    {Action::kAllow, "allow"},
    {Action::kReadOnly, "read_only"},
    {Action::kBlock, "block"},
}};

}  // namespace

std::string_view DeviceClassName(DeviceClass c) {
  for (const auto& [cls, name] : kClassNames) {
    if (cls == c) return name;
  }
  return "unspecified";
}

std::optional<DeviceClass> ParseDeviceClass(std::string_view name) {
  for (const auto& [cls, n] : kClassNames) {
    if (n == name && cls != DeviceClass::kUnspecified) return cls;
  }
  return std::nullopt;
}

bool IsRemovableStorage(DeviceClass c) {
  return c == DeviceClass::kMassStorage || c == DeviceClass::kOptical ||
         c == DeviceClass::kCardReader || c == DeviceClass::kStillImage;
}

std::string_view ActionName(Action a) {
  for (const auto& [act, name] : kActionNames) {
    if (act == a) return name;
  }
  return "unspecified";
}

std::optional<Action> ParseAction(std::string_view name) {
  for (const auto& [act, n] : kActionNames) {
    if (n == name && act != Action::kUnspecified) return act;
  }
  return std::nullopt;
}

bool DeviceIdentity::HasStorage() const {
  if (IsRemovableStorage(device_class)) return true;
  for (DeviceClass c : interface_classes) {
    if (IsRemovableStorage(c)) return true;
  }
  return false;
}

std::string DeviceIdentity::VidPid() const { return FormatVidPid(vendor_id, product_id); }

std::string FormatVidPid(uint16_t vendor_id, uint16_t product_id) {
  char buf[10];
  std::snprintf(buf, sizeof buf, "%04x:%04x", vendor_id, product_id);
  return buf;
}

std::optional<std::pair<uint16_t, uint16_t>> ParseVidPid(std::string_view text) {
  if (text.size() != 9 || text[4] != ':') return std::nullopt;
  const auto vid = ParseUsbId(text.substr(0, 4));
  const auto pid = ParseUsbId(text.substr(5));
  if (!vid || !pid) return std::nullopt;
  return std::pair{*vid, *pid};
}

}  // namespace mamori
