#include "agent/platform/windows/windows_device_backend.h"

#include <algorithm>
#include <utility>

#include "agent/platform/windows/device_id.h"
#include "common/usb_class.h"

namespace mamori {
namespace {

// A USB device node (not an interface node, not a root hub).
std::optional<UsbDevicePart> UsbDeviceNode(const DevNode& node) {
  const auto parts = SplitInstanceId(node.instance_id);
  if (!parts || parts->enumerator != "USB") return std::nullopt;
  auto usb = ParseUsbDevicePart(parts->device);
  if (!usb || usb->interface_number) return std::nullopt;
  return usb;
}

std::vector<const DevNode*> ChildrenOf(const std::string& id, std::span<const DevNode> nodes) {
  std::vector<const DevNode*> out;
  for (const DevNode& n : nodes) {
    if (n.parent_instance_id == id && !id.empty()) out.push_back(&n);
  }
  return out;
}

void TakeUsbStorNames(const DevNode& node, DeviceIdentity& identity) {
  const auto parts = SplitInstanceId(node.instance_id);
  if (!parts || parts->enumerator != "USBSTOR") return;
  const auto stor = ParseUsbStorDevicePart(parts->device);
  if (!stor) return;
  if (identity.manufacturer.empty()) identity.manufacturer = stor->vendor;
  if (identity.product.empty()) identity.product = stor->product;
}

void AddClass(std::vector<DeviceClass>& classes, std::optional<DeviceClass> c) {
  if (c && std::find(classes.begin(), classes.end(), *c) == classes.end()) classes.push_back(*c);
}

}  // namespace

DeviceIdentity IdentityFromDevNodes(const DevNode& usb, std::span<const DevNode> nodes) {
  DeviceIdentity identity;
  const auto parts = SplitInstanceId(usb.instance_id);
  if (!parts) return identity;
  if (const auto ids = ParseUsbDevicePart(parts->device)) {
    identity.vendor_id = ids->vendor_id;
    identity.product_id = ids->product_id;
  }
  identity.serial = SerialFromInstancePart(parts->instance, /*usbstor=*/false);

  const auto children = ChildrenOf(usb.instance_id, nodes);
  bool composite = false;
  for (const DevNode* child : children) {
    const auto child_parts = SplitInstanceId(child->instance_id);
    if (!child_parts) continue;
    const auto child_usb =
        child_parts->enumerator == "USB" ? ParseUsbDevicePart(child_parts->device) : std::nullopt;
    if (child_usb && child_usb->interface_number) {
      composite = true;
      AddClass(identity.interface_classes, ClassFromCompatibleIds(child->compatible_ids));
      for (const DevNode* grandchild : ChildrenOf(child->instance_id, nodes)) {
        TakeUsbStorNames(*grandchild, identity);
      }
    } else {
      TakeUsbStorNames(*child, identity);
    }
  }
  // A single-function device has no interface nodes: Windows gives the
  // device node itself the interface's class as compatible ids.
  if (!composite) AddClass(identity.interface_classes, ClassFromCompatibleIds(usb.compatible_ids));
  // Hubs say so in their device class; everything else is judged by its
  // most sensitive interface (common/usb_class.h).
  const auto own = ClassFromCompatibleIds(usb.compatible_ids);
  const uint8_t device_class = own == DeviceClass::kHub ? kUsbClassHub : kUsbClassPerInterface;
  identity.device_class = ClassifyUsbDevice(device_class, 0, 0, identity.interface_classes);
  return identity;
}

WindowsDeviceBackend::WindowsDeviceBackend(DeviceManager& devices) : devices_(devices) {}

Status WindowsDeviceBackend::Start(std::function<void()> on_change) {
  on_change_ = std::move(on_change);
  return Status::Ok();
}

void WindowsDeviceBackend::Stop() { on_change_ = nullptr; }

std::vector<ObservedDevice> WindowsDeviceBackend::Enumerate() {
  std::vector<ObservedDevice> out;
  auto nodes = devices_.ListPresent();
  if (!nodes.ok()) return out;
  for (const DevNode& node : *nodes) {
    if (!UsbDeviceNode(node)) continue;
    ObservedDevice d;
    d.device_id = node.instance_id;
    d.identity = IdentityFromDevNodes(node, *nodes);
    out.push_back(std::move(d));
  }
  return out;
}

Status WindowsDeviceBackend::SetAndConfirm(const std::string& instance_id, bool enabled) {
  if (Status s = devices_.SetEnabled(instance_id, enabled); !s) {
    return MakeError(s.error().code, std::string(enabled ? "enable " : "disable ") + instance_id +
                                         ": " + s.error().message);
  }
  auto disabled = devices_.IsDisabled(instance_id);
  if (!disabled.ok()) {
    return MakeError(disabled.error().code,
                     "re-reading " + instance_id + ": " + disabled.error().message);
  }
  if (*disabled == enabled) {
    return MakeError(ErrorCode::kInternal, instance_id + " is still " +
                                               (enabled ? "disabled" : "enabled") +
                                               " after the state change");
  }
  return Status::Ok();
}

Status WindowsDeviceBackend::Apply(const ObservedDevice& device, const Decision& decision) {
  auto nodes = devices_.ListPresent();
  if (!nodes.ok()) return nodes.error();
  const auto self = std::find_if(nodes->begin(), nodes->end(), [&](const DevNode& n) {
    return n.instance_id == device.device_id;
  });
  if (self == nodes->end()) {
    return MakeError(ErrorCode::kNotFound, device.device_id + " is no longer present");
  }
  switch (decision.action) {
    case Action::kAllow:
      return self->disabled ? SetAndConfirm(self->instance_id, true) : Status::Ok();
    case Action::kBlock: {
      if (decision.allowed_interface_classes.empty()) {
        return self->disabled ? Status::Ok() : SetAndConfirm(self->instance_id, false);
      }
      // A composite device with some classes allowed (a keyboard with a
      // storage interface): keep the device, disable the other interfaces.
      const auto& allowed = decision.allowed_interface_classes;
      for (const DevNode* child : ChildrenOf(self->instance_id, *nodes)) {
        const auto cls = ClassFromCompatibleIds(child->compatible_ids);
        const bool keep = cls && std::find(allowed.begin(), allowed.end(), *cls) != allowed.end();
        if (child->disabled == !keep) continue;
        if (Status s = SetAndConfirm(child->instance_id, keep); !s) return s;
      }
      return self->disabled ? SetAndConfirm(self->instance_id, true) : Status::Ok();
    }
    case Action::kReadOnly:
      // IOCTL_DISK_SET_DISK_ATTRIBUTES on the disk below the device is the
      // plan; until it exists, say so instead of silently allowing writes.
      return MakeError(ErrorCode::kFailedPrecondition,
                       "read_only is not implemented by the Windows backend yet");
    case Action::kUnspecified:
      break;
  }
  return MakeError(ErrorCode::kInvalidArgument, "decision has no action");
}

}  // namespace mamori
