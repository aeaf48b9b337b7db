#include <algorithm>
#include <cstring>
#include <string>

#include "agent/platform/windows/device/cm_notification.h"
#include "agent/platform/windows/device/device_manager.h"
#include "agent/platform/windows/device/function_class.h"
#include "agent/platform/windows/win32/handles.h"
#include "agent/platform/windows/win32/wide_string.h"
#include "agent/platform/windows/win32/win32_registry.h"

namespace mamori {
namespace {

// Multi-string registry properties (hardware and compatible ids) are read
// into a bounded buffer: a longer list is cut, never trusted to be short.
constexpr DWORD kPropertyBufferChars = 4096;

std::string DevInstId(DEVINST inst) {
  wchar_t id[MAX_DEVICE_ID_LEN + 1] = {};
  if (::CM_Get_Device_IDW(inst, id, MAX_DEVICE_ID_LEN + 1, 0) != CR_SUCCESS) return {};
  return Utf16ToUtf8(UntilNul(id, MAX_DEVICE_ID_LEN + 1));
}

std::vector<std::string> MultiSzProperty(HDEVINFO set, SP_DEVINFO_DATA* data, DWORD property) {
  std::wstring buffer(kPropertyBufferChars, L'\0');
  DWORD type = 0;
  DWORD bytes = 0;
  if (!::SetupDiGetDeviceRegistryPropertyW(set, data, property, &type,
                                           reinterpret_cast<BYTE*>(buffer.data()),
                                           kPropertyBufferChars * sizeof(wchar_t), &bytes) ||
      type != REG_MULTI_SZ) {
    return {};
  }
  const std::size_t chars = std::min<std::size_t>(bytes / sizeof(wchar_t), buffer.size());
  return SplitMultiSz(std::wstring_view(buffer.data(), chars));
}

// A REG_SZ property, lower-cased (setup class GUIDs and service names are
// compared without case); "" when absent or not a string.
std::string SzPropertyLower(HDEVINFO set, SP_DEVINFO_DATA* data, DWORD property) {
  constexpr DWORD kChars = 256;
  std::wstring buffer(kChars, L'\0');
  DWORD type = 0;
  if (!::SetupDiGetDeviceRegistryPropertyW(set, data, property, &type,
                                           reinterpret_cast<BYTE*>(buffer.data()),
                                           kChars * sizeof(wchar_t), nullptr) ||
      type != REG_SZ) {
    return {};
  }
  std::string out = Utf16ToUtf8(UntilNul(buffer.data(), kChars));
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// *IfType from a network adapter's driver key: NDIS INFs write it as a
// DWORD or as a decimal string. 0 when the node has no driver key or no
// such value.
uint32_t NetworkIfType(HDEVINFO set, SP_DEVINFO_DATA* data) {
  HKEY key = ::SetupDiOpenDevRegKey(set, data, DICS_FLAG_GLOBAL, 0, DIREG_DRV, KEY_READ);
  if (key == INVALID_HANDLE_VALUE) return 0;
  wchar_t buffer[16] = {};
  DWORD type = 0;
  DWORD bytes = sizeof(buffer) - sizeof(wchar_t);
  const LSTATUS rc =
      ::RegQueryValueExW(key, L"*IfType", nullptr, &type, reinterpret_cast<BYTE*>(buffer), &bytes);
  ::RegCloseKey(key);
  if (rc != ERROR_SUCCESS) return 0;
  if (type == REG_DWORD && bytes == sizeof(DWORD)) {
    DWORD v = 0;
    std::memcpy(&v, buffer, sizeof(v));
    return v;
  }
  if (type != REG_SZ) return 0;
  uint32_t v = 0;
  for (const wchar_t* c = buffer; *c != L'\0'; ++c) {
    if (*c < L'0' || *c > L'9' || v > 100000) return 0;
    v = v * 10 + static_cast<uint32_t>(*c - L'0');
  }
  return v;
}

bool DevInstDisabled(DEVINST inst) {
  ULONG status = 0;
  ULONG problem = 0;
  if (::CM_Get_DevNode_Status(&status, &problem, inst, 0) != CR_SUCCESS) return false;
  return (status & DN_HAS_PROBLEM) != 0 && problem == CM_PROB_DISABLED;
}

}  // namespace

Result<std::vector<DevNode>> SetupApiDeviceManager::ListPresent() {
  UniqueDevInfo set(
      ::SetupDiGetClassDevsW(nullptr, nullptr, nullptr, DIGCF_PRESENT | DIGCF_ALLCLASSES));
  if (!set) {
    return MakeError(ErrorCode::kIo, Win32ErrorText("SetupDiGetClassDevsW", ::GetLastError()));
  }
  std::vector<DevNode> nodes;
  for (DWORD i = 0;; ++i) {
    SP_DEVINFO_DATA data{};
    data.cbSize = sizeof(data);
    if (!::SetupDiEnumDeviceInfo(set.get(), i, &data)) {
      const DWORD err = ::GetLastError();
      if (err == ERROR_NO_MORE_ITEMS) break;
      return MakeError(ErrorCode::kIo, Win32ErrorText("SetupDiEnumDeviceInfo", err));
    }
    wchar_t id[MAX_DEVICE_ID_LEN + 1] = {};
    if (!::SetupDiGetDeviceInstanceIdW(set.get(), &data, id, MAX_DEVICE_ID_LEN + 1, nullptr)) {
      continue;  // vanished or oversized: skip rather than guess
    }
    DevNode node;
    node.instance_id = Utf16ToUtf8(UntilNul(id, MAX_DEVICE_ID_LEN + 1));
    DEVINST parent = 0;
    if (::CM_Get_Parent(&parent, data.DevInst, 0) == CR_SUCCESS) {
      node.parent_instance_id = DevInstId(parent);
    }
    node.hardware_ids = MultiSzProperty(set.get(), &data, SPDRP_HARDWAREID);
    node.compatible_ids = MultiSzProperty(set.get(), &data, SPDRP_COMPATIBLEIDS);
    node.disabled = DevInstDisabled(data.DevInst);
    node.driver.setup_class = SzPropertyLower(set.get(), &data, SPDRP_CLASSGUID);
    node.driver.service = SzPropertyLower(set.get(), &data, SPDRP_SERVICE);
    if (node.driver.setup_class == kNetSetupClass) {
      node.driver.if_type = NetworkIfType(set.get(), &data);
    }
    nodes.push_back(std::move(node));
  }
  return nodes;
}

Status SetupApiDeviceManager::SetEnabled(std::string_view instance_id, bool enabled) {
  UniqueDevInfo set(::SetupDiCreateDeviceInfoList(nullptr, nullptr));
  if (!set) {
    return MakeError(ErrorCode::kIo,
                     Win32ErrorText("SetupDiCreateDeviceInfoList", ::GetLastError()));
  }
  SP_DEVINFO_DATA data{};
  data.cbSize = sizeof(data);
  const std::wstring id = Utf8ToUtf16(instance_id);
  if (!::SetupDiOpenDeviceInfoW(set.get(), id.c_str(), nullptr, 0, &data)) {
    return MakeError(ErrorCode::kNotFound,
                     Win32ErrorText("SetupDiOpenDeviceInfoW", ::GetLastError()));
  }
  SP_PROPCHANGE_PARAMS params{};
  params.ClassInstallHeader.cbSize = sizeof(SP_CLASSINSTALL_HEADER);
  params.ClassInstallHeader.InstallFunction = DIF_PROPERTYCHANGE;
  params.StateChange = enabled ? DICS_ENABLE : DICS_DISABLE;
  params.Scope = DICS_FLAG_GLOBAL;
  params.HwProfile = 0;
  if (!::SetupDiSetClassInstallParamsW(set.get(), &data, &params.ClassInstallHeader,
                                       sizeof(params))) {
    return MakeError(ErrorCode::kIo,
                     Win32ErrorText("SetupDiSetClassInstallParamsW", ::GetLastError()));
  }
  if (!::SetupDiCallClassInstaller(DIF_PROPERTYCHANGE, set.get(), &data)) {
    return MakeError(ErrorCode::kIo, Win32ErrorText("SetupDiCallClassInstaller(DIF_PROPERTYCHANGE)",
                                                    ::GetLastError()));
  }
  return Status::Ok();
}

Result<bool> SetupApiDeviceManager::IsDisabled(std::string_view instance_id) {
  // Through SetupAPI rather than CM_Locate_DevNodeW: the same lookup
  // SetEnabled uses, and the one Wine implements.
  UniqueDevInfo set(::SetupDiCreateDeviceInfoList(nullptr, nullptr));
  if (!set) {
    return MakeError(ErrorCode::kIo,
                     Win32ErrorText("SetupDiCreateDeviceInfoList", ::GetLastError()));
  }
  SP_DEVINFO_DATA data{};
  data.cbSize = sizeof(data);
  const std::wstring id = Utf8ToUtf16(instance_id);
  if (!::SetupDiOpenDeviceInfoW(set.get(), id.c_str(), nullptr, 0, &data)) {
    return MakeError(ErrorCode::kNotFound,
                     Win32ErrorText("SetupDiOpenDeviceInfoW", ::GetLastError()));
  }
  ULONG status = 0;
  ULONG problem = 0;
  const CONFIGRET cr = ::CM_Get_DevNode_Status(&status, &problem, data.DevInst, 0);
  if (cr != CR_SUCCESS) {
    // Unknown is not "enabled": a confirmation must not pass on a guess.
    return MakeError(ErrorCode::kUnavailable, "CM_Get_DevNode_Status(" + std::string(instance_id) +
                                                  ") failed: CONFIGRET " + std::to_string(cr));
  }
  return (status & DN_HAS_PROBLEM) != 0 && problem == CM_PROB_DISABLED;
}

Result<std::vector<DeviceInterface>> SetupApiDeviceManager::ListInterfaces(InterfaceClass cls) {
  const GUID& guid = InterfaceClassGuid(cls);
  UniqueDevInfo set(
      ::SetupDiGetClassDevsW(&guid, nullptr, nullptr, DIGCF_PRESENT | DIGCF_DEVICEINTERFACE));
  if (!set) {
    return MakeError(ErrorCode::kIo,
                     Win32ErrorText("SetupDiGetClassDevsW(" + std::string(InterfaceClassName(cls)) +
                                        " interfaces)",
                                    ::GetLastError()));
  }
  std::vector<DeviceInterface> out;
  // Bounded like the paths from notifications; the detail structure is
  // cbSize followed by the path.
  constexpr DWORD kDetailBytes =
      static_cast<DWORD>(sizeof(DWORD) + (kMaxInterfacePathChars + 1) * sizeof(wchar_t));
  std::vector<DWORD> storage(kDetailBytes / sizeof(DWORD) + 1);
  for (DWORD i = 0;; ++i) {
    SP_DEVICE_INTERFACE_DATA iface{};
    iface.cbSize = sizeof(iface);
    if (!::SetupDiEnumDeviceInterfaces(set.get(), nullptr, &guid, i, &iface)) {
      const DWORD err = ::GetLastError();
      if (err == ERROR_NO_MORE_ITEMS) break;
      return MakeError(ErrorCode::kIo, Win32ErrorText("SetupDiEnumDeviceInterfaces", err));
    }
    auto* detail = reinterpret_cast<SP_DEVICE_INTERFACE_DETAIL_DATA_W*>(storage.data());
    detail->cbSize = sizeof(SP_DEVICE_INTERFACE_DETAIL_DATA_W);
    SP_DEVINFO_DATA data{};
    data.cbSize = sizeof(data);
    if (!::SetupDiGetDeviceInterfaceDetailW(set.get(), &iface, detail, kDetailBytes, nullptr,
                                            &data)) {
      continue;  // vanished or an oversized path: nothing to open by
    }
    const std::size_t chars =
        (kDetailBytes - offsetof(SP_DEVICE_INTERFACE_DETAIL_DATA_W, DevicePath)) / sizeof(wchar_t);
    DeviceInterface d;
    d.path = Utf16ToUtf8(UntilNul(detail->DevicePath, chars));
    d.instance_id = DevInstId(data.DevInst);
    if (d.path.empty() || d.instance_id.empty()) continue;
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace mamori
