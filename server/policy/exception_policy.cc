#include "server/policy/exception_policy.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "common/base/jst_time.h"
#include "common/crypto/identity.h"
#include "common/device/device.h"
#include "common/policy/policy_parser.h"
#include "server/policy/policy_sections.h"

namespace mamori {
namespace {

bool IsCollectorId(std::string_view id) {
  if (!id.starts_with("EX-") || id.size() == 3) return false;
  return std::all_of(id.begin() + 3, id.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool InScope(const ExceptionRequest& r, std::string_view group) {
  if (!r.terminal_id.empty()) return GroupContains(group, r.group);
  return GroupContains(r.group, group);
}

bool SameException(const DeviceException& a, const DeviceException& b) {
  return a.id == b.id && a.terminal_id == b.terminal_id && a.vendor_id == b.vendor_id &&
         a.product_id == b.product_id && a.serial == b.serial &&
         a.not_before_ms == b.not_before_ms && a.not_after_ms == b.not_after_ms &&
         a.reason == b.reason;
}

bool SameExceptions(const std::vector<DeviceException>& a, const std::vector<DeviceException>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), SameException);
}

std::string ExceptionLine(const DeviceException& x) {
  YAML::Emitter e;
  e << YAML::Flow << YAML::BeginMap;
  e << YAML::Key << "id" << YAML::Value << YAML::DoubleQuoted << x.id;
  if (!x.terminal_id.empty()) {
    e << YAML::Key << "terminal" << YAML::Value << YAML::DoubleQuoted << x.terminal_id;
  }
  e << YAML::Key << "vid_pid" << YAML::Value << YAML::DoubleQuoted
    << FormatVidPid(x.vendor_id, x.product_id);
  e << YAML::Key << "serial" << YAML::Value << YAML::DoubleQuoted << x.serial;
  e << YAML::Key << "from" << YAML::Value << YAML::DoubleQuoted << JstIso8601(x.not_before_ms);
  e << YAML::Key << "until" << YAML::Value << YAML::DoubleQuoted << JstIso8601(x.not_after_ms);
  if (!x.reason.empty())
    e << YAML::Key << "reason" << YAML::Value << YAML::DoubleQuoted << x.reason;
  e << YAML::EndMap;
  return e.c_str();
}

std::string ExceptionsBlock(const std::vector<DeviceException>& exceptions) {
  std::string out =
      "# exceptions is kept by the collector: the approved, not yet ended requests for\n"
      "# time-limited exceptions that reach this group. Decide requests, not this list.\n";
  if (exceptions.empty()) return out + "exceptions: []\n";
  out += "exceptions:\n";
  for (const DeviceException& x : exceptions) out += "  - " + ExceptionLine(x) + "\n";
  return out;
}

}  // namespace

std::string ExceptionPolicyId(int64_t request_id) { return "EX-" + std::to_string(request_id); }

std::vector<DeviceException> MergedExceptions(const std::vector<DeviceException>& document,
                                              std::string_view group,
                                              const std::vector<ExceptionRequest>& approved) {
  std::vector<DeviceException> out;
  for (const DeviceException& x : document) {
    if (!IsCollectorId(x.id)) out.push_back(x);
  }
  for (const ExceptionRequest& r : approved) {
    if (r.state != ExceptionRequestState::kApproved || !InScope(r, group)) continue;
    DeviceException x;
    x.id = ExceptionPolicyId(r.id);
    x.terminal_id = r.terminal_id;
    x.vendor_id = r.vendor_id;
    x.product_id = r.product_id;
    x.serial = r.serial;
    x.not_before_ms = r.from_ms;
    x.not_after_ms = r.until_ms;
    x.reason = r.reason;
    out.push_back(std::move(x));
  }
  return out;
}

Result<std::string> MergeExceptionsIntoPolicy(std::string_view yaml, std::string_view group,
                                              const std::vector<ExceptionRequest>& approved,
                                              std::string_view source_name) {
  auto original = ParsePolicy(yaml, source_name);
  if (!original.ok()) return original.error();
  const std::vector<DeviceException> merged =
      MergedExceptions(original->exceptions, group, approved);
  if (SameExceptions(merged, original->exceptions)) return std::string(yaml);

  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return MakeError(ErrorCode::kInvalidArgument, std::string(source_name) + ": " + e.what());
  }
  const std::string block = ExceptionsBlock(merged);
  std::string text;
  if (auto spliced = SpliceTopLevelSection(yaml, root, "exceptions", block)) {
    text = std::move(*spliced);
  } else {
    try {
      YAML::Node copy = YAML::Clone(root);
      copy.remove("exceptions");
      copy.SetStyle(YAML::EmitterStyle::Block);
      YAML::Emitter e;
      e << copy;
      text = e.c_str();
      if (!text.empty() && text.back() != '\n') text.push_back('\n');
      text += block;
    } catch (const YAML::Exception& e) {
      return MakeError(ErrorCode::kInternal, "cannot rewrite the exceptions of " +
                                                 std::string(source_name) + ": " + e.what());
    }
  }
  auto parsed = ParsePolicy(text, std::string(source_name) + " with the approved exceptions");
  if (!parsed.ok()) return parsed.error();
  if (!SameExceptions(parsed->exceptions, merged) || parsed->name != original->name ||
      parsed->rules.size() != original->rules.size() ||
      parsed->registered_media.size() != original->registered_media.size()) {
    return MakeError(ErrorCode::kInternal, "rewriting the exceptions of " +
                                               std::string(source_name) +
                                               " changed the rest of the document; nothing stored");
  }
  return text;
}

}  // namespace mamori
