#include "tests/e2e/windows/file_devices.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

namespace mamori::testing {
namespace {

constexpr std::string_view kNodeSuffix = ".node";
constexpr std::string_view kDisabledSuffix = ".disabled";

Error NoDisk(std::string_view path) {
  return MakeError(ErrorCode::kNotFound, "no such disk in the test seam: " + std::string(path));
}

}  // namespace

Result<DevNode> ParseNodeFile(std::string_view text, std::string_view source) {
  DevNode node;
  std::istringstream in{std::string(text)};
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const std::size_t space = line.find(' ');
    const std::string key = line.substr(0, space);
    const std::string value = space == std::string::npos ? "" : line.substr(space + 1);
    if (key == "instance_id") {
      node.instance_id = value;
    } else if (key == "parent") {
      node.parent_instance_id = value;
    } else if (key == "hardware_id") {
      node.hardware_ids.push_back(value);
    } else if (key == "compatible_id") {
      node.compatible_ids.push_back(value);
    } else if (key == "setup_class") {
      node.driver.setup_class = value;
    } else if (key == "service") {
      node.driver.service = value;
    } else if (key == "if_type") {
      char* end = nullptr;
      const unsigned long v = std::strtoul(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || v > 0xFFFFFFFFul) {
        return MakeError(
            ErrorCode::kInvalidArgument,
            std::string(source) + ":" + std::to_string(line_no) + ": if_type is not a number");
      }
      node.driver.if_type = static_cast<uint32_t>(v);
    } else {
      return MakeError(
          ErrorCode::kInvalidArgument,
          std::string(source) + ":" + std::to_string(line_no) + ": unknown key '" + key + "'");
    }
  }
  if (node.instance_id.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, std::string(source) + ": no instance_id");
  }
  return node;
}

Result<std::vector<std::pair<std::filesystem::path, DevNode>>> FileDeviceManager::ReadNodes() {
  std::vector<std::pair<std::filesystem::path, DevNode>> nodes;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::filesystem::path& p = entry.path();
    if (p.extension() != kNodeSuffix) continue;
    std::ifstream in(p, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    // A file being written is skipped this time and read at the next scan.
    Result<DevNode> node = ParseNodeFile(text.str(), p.filename().string());
    if (!node.ok()) continue;
    node->disabled = std::filesystem::exists(p.string() + std::string(kDisabledSuffix), ec);
    nodes.emplace_back(p, std::move(*node));
  }
  if (ec) return MakeError(ErrorCode::kIo, "reading " + dir_.string() + ": " + ec.message());
  return nodes;
}

Result<std::vector<DevNode>> FileDeviceManager::ListPresent() {
  auto nodes = ReadNodes();
  if (!nodes.ok()) return nodes.error();
  std::vector<DevNode> out;
  for (auto& [file, node] : *nodes) out.push_back(std::move(node));
  return out;
}

Result<std::filesystem::path> FileDeviceManager::FileOf(std::string_view instance_id) {
  auto nodes = ReadNodes();
  if (!nodes.ok()) return nodes.error();
  for (const auto& [file, node] : *nodes) {
    if (node.instance_id == instance_id) return file;
  }
  return MakeError(ErrorCode::kNotFound, "no such device node: " + std::string(instance_id));
}

Status FileDeviceManager::SetEnabled(std::string_view instance_id, bool enabled) {
  Result<std::filesystem::path> file = FileOf(instance_id);
  if (!file.ok()) return file.error();
  const std::string marker = file->string() + std::string(kDisabledSuffix);
  std::error_code ec;
  if (enabled) {
    std::filesystem::remove(marker, ec);
  } else {
    std::ofstream(marker, std::ios::binary) << "disabled by the agent\n";
  }
  if (ec) return MakeError(ErrorCode::kIo, marker + ": " + ec.message());
  return Status::Ok();
}

Result<bool> FileDeviceManager::IsDisabled(std::string_view instance_id) {
  auto nodes = ReadNodes();
  if (!nodes.ok()) return nodes.error();
  for (const auto& [file, node] : *nodes) {
    if (node.instance_id == instance_id) return node.disabled;
  }
  return MakeError(ErrorCode::kNotFound, "no such device node: " + std::string(instance_id));
}

Result<std::vector<DeviceInterface>> FileDeviceManager::ListInterfaces(InterfaceClass) {
  return std::vector<DeviceInterface>{};
}

Status NoDiskControl::SetReadOnly(std::string_view path) { return NoDisk(path); }
Result<bool> NoDiskControl::IsReadOnly(std::string_view path) { return NoDisk(path); }
Result<StorageProperties> NoDiskControl::QueryStorage(std::string_view path) {
  return NoDisk(path);
}
Result<uint32_t> NoDiskControl::DiskNumber(std::string_view path) { return NoDisk(path); }

}  // namespace mamori::testing
