#include "common/device.h"

#include <array>
#include <cstdio>
#include <utility>

namespace mamori {
namespace {

constexpr std::array<std::pair<DeviceClass, std::string_view>, 10> kClassNames = {{
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

std::string DeviceIdentity::VidPid() const {
  char buf[10];
  std::snprintf(buf, sizeof buf, "%04x:%04x", vendor_id, product_id);
  return buf;
}

}  // namespace mamori
