#include "agent/platform/windows/device/device_id.h"

#include <algorithm>
#include <cctype>

#include "common/base/hex.h"
#include "common/device/usb_class.h"

namespace mamori {
namespace {

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(s[i])) !=
        std::toupper(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Splits at '&' into at most `max` fields; nullopt when there are more.
template <std::size_t N>
std::optional<std::size_t> SplitFields(std::string_view s, std::string_view (&fields)[N]) {
  std::size_t n = 0;
  while (true) {
    if (n == N) return std::nullopt;
    const std::size_t amp = s.find('&');
    fields[n++] = s.substr(0, amp);
    if (amp == std::string_view::npos) return n;
    s.remove_prefix(amp + 1);
  }
}

// "<prefix><hex digits>" with exactly `digits` hex digits.
std::optional<uint32_t> HexField(std::string_view field, std::string_view prefix,
                                 std::size_t digits) {
  if (!StartsWithNoCase(field, prefix) || field.size() != prefix.size() + digits) {
    return std::nullopt;
  }
  uint32_t v = 0;
  for (char c : field.substr(prefix.size())) {
    const int d = HexDigit(c);
    if (d < 0) return std::nullopt;
    v = v * 16 + static_cast<uint32_t>(d);
  }
  return v;
}

std::string Unescape(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '_') c = ' ';
  }
  // Windows pads the SCSI inquiry fields; the padding carries no meaning.
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace

std::optional<InstanceIdParts> SplitInstanceId(std::string_view id) {
  if (id.empty() || id.size() > kMaxDeviceIdChars) return std::nullopt;
  const std::size_t first = id.find('\\');
  if (first == std::string_view::npos) return std::nullopt;
  const std::size_t second = id.find('\\', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  if (id.find('\\', second + 1) != std::string_view::npos) return std::nullopt;
  InstanceIdParts parts{Upper(id.substr(0, first)),
                        std::string(id.substr(first + 1, second - first - 1)),
                        std::string(id.substr(second + 1))};
  if (parts.enumerator.empty() || parts.device.empty() || parts.instance.empty()) {
    return std::nullopt;
  }
  return parts;
}

std::optional<UsbDevicePart> ParseUsbDevicePart(std::string_view device_part) {
  if (device_part.size() > kMaxDeviceIdChars) return std::nullopt;
  std::string_view fields[4];
  const auto n = SplitFields(device_part, fields);
  if (!n || *n < 2) return std::nullopt;
  const auto vid = HexField(fields[0], "VID_", 4);
  const auto pid = HexField(fields[1], "PID_", 4);
  if (!vid || !pid) return std::nullopt;
  UsbDevicePart part{static_cast<uint16_t>(*vid), static_cast<uint16_t>(*pid), std::nullopt};
  for (std::size_t i = 2; i < *n; ++i) {
    if (HexField(fields[i], "REV_", 4)) continue;
    const auto mi = HexField(fields[i], "MI_", 2);
    if (!mi) return std::nullopt;
    part.interface_number = static_cast<uint8_t>(*mi);
  }
  return part;
}

std::string SerialFromInstancePart(std::string_view instance, bool usbstor) {
  if (instance.size() > kMaxDeviceIdChars) return {};
  if (usbstor) {
    const std::size_t amp = instance.rfind('&');
    if (amp == std::string_view::npos) return {};
    const std::string_view lun = instance.substr(amp + 1);
    if (lun.empty() || lun.find_first_not_of("0123456789") != std::string_view::npos) return {};
    instance = instance.substr(0, amp);
  }
  if (instance.empty() || instance.find('&') != std::string_view::npos) return {};
  return std::string(instance);
}

std::optional<UsbStorDevicePart> ParseUsbStorDevicePart(std::string_view device_part) {
  if (device_part.size() > kMaxDeviceIdChars) return std::nullopt;
  // The vendor and product fields may themselves contain '&' in theory;
  // Windows does not escape it, so parse by the known field prefixes.
  const std::size_t ven = device_part.find("&Ven_");
  const std::size_t prod = device_part.find("&Prod_");
  if (ven == std::string_view::npos || prod == std::string_view::npos || prod < ven) {
    return std::nullopt;
  }
  const std::size_t rev = device_part.find("&Rev_", prod);
  UsbStorDevicePart part;
  part.type = std::string(device_part.substr(0, ven));
  part.vendor = Unescape(device_part.substr(ven + 5, prod - ven - 5));
  if (rev == std::string_view::npos) {
    part.product = Unescape(device_part.substr(prod + 6));
  } else {
    part.product = Unescape(device_part.substr(prod + 6, rev - prod - 6));
    part.revision = Unescape(device_part.substr(rev + 5));
  }
  if (part.type.empty()) return std::nullopt;
  return part;
}

std::optional<UsbClassTriple> ParseUsbCompatibleId(std::string_view id) {
  if (id.size() > kMaxDeviceIdChars || !StartsWithNoCase(id, "USB\\")) return std::nullopt;
  std::string_view fields[4];
  const auto n = SplitFields(id.substr(4), fields);
  if (!n || *n > 3) return std::nullopt;
  const auto cls = HexField(fields[0], "Class_", 2);
  if (!cls) return std::nullopt;
  UsbClassTriple t{static_cast<uint8_t>(*cls), 0, 0};
  if (*n >= 2) {
    const auto sub = HexField(fields[1], "SubClass_", 2);
    if (!sub) return std::nullopt;
    t.subclass = static_cast<uint8_t>(*sub);
  }
  if (*n == 3) {
    const auto prot = HexField(fields[2], "Prot_", 2);
    if (!prot) return std::nullopt;
    t.protocol = static_cast<uint8_t>(*prot);
  }
  return t;
}

std::optional<UsbClassTriple> MostSpecificUsbClassTriple(std::span<const std::string> ids) {
  std::optional<UsbClassTriple> best;
  int best_fields = 0;
  for (const std::string& id : ids) {
    const auto t = ParseUsbCompatibleId(id);
    if (!t) continue;
    const std::size_t amps = std::count(id.begin(), id.end(), '&');
    const int fields = static_cast<int>(amps) + 1;
    if (fields > best_fields) {
      best = t;
      best_fields = fields;
    }
  }
  return best;
}

std::optional<DeviceClass> ClassFromCompatibleIds(std::span<const std::string> ids) {
  const auto best = MostSpecificUsbClassTriple(ids);
  if (!best) return std::nullopt;
  return ClassifyUsbInterface(best->cls, best->subclass, best->protocol);
}

}  // namespace mamori
