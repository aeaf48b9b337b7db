#include "agent/storage/file_policy_cache.h"

#include <algorithm>

#include "agent/storage/durable_file.h"
#include "agent/storage/seq_file.h"
#include "mamori/v1/types.pb.h"
#include "proto/wire/convert.h"

namespace mamori {
namespace {

// A policy is a few kilobytes; anything near this is not a bundle we wrote.
constexpr std::size_t kMaxBundleBytes = 16 * 1024 * 1024;

}  // namespace

std::string EncodePolicyBundle(const PolicyBundle& bundle) {
  v1::PolicyBundle pb;
  ToProto(bundle, &pb);
  return pb.SerializeAsString();
}

Result<PolicyBundle> DecodePolicyBundle(std::string_view bytes) {
  v1::PolicyBundle pb;
  if (bytes.size() > kMaxBundleBytes ||
      !pb.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return MakeError(ErrorCode::kFailedPrecondition, "not a policy bundle (cannot be decoded)");
  }
  return FromProto(pb);
}

FilePolicyCache::FilePolicyCache(std::string state_dir)
    : bundle_path_(PathToUtf8(PathFromUtf8(state_dir) / "policy.bundle")),
      highest_path_(PathToUtf8(PathFromUtf8(state_dir) / "policy.highest")) {}

Result<std::optional<PolicyBundle>> FilePolicyCache::Load() {
  Result<std::optional<std::string>> bytes = ReadFileIfExists(PathFromUtf8(bundle_path_));
  if (!bytes.ok()) return bytes.error();
  if (!bytes->has_value()) return std::optional<PolicyBundle>();
  Result<PolicyBundle> bundle = DecodePolicyBundle(**bytes);
  if (!bundle.ok()) {
    return MakeError(bundle.error().code, bundle_path_ + ": " + bundle.error().message);
  }
  return std::optional<PolicyBundle>(std::move(*bundle));
}

Result<uint64_t> FilePolicyCache::HighestAccepted() {
  Result<std::optional<uint64_t>> v = ReadSeqFile(highest_path_);
  if (!v.ok()) return v.error();
  return v->value_or(0);
}

Status FilePolicyCache::Save(const PolicyBundle& bundle) {
  if (Status s = WriteFileAtomically(PathFromUtf8(bundle_path_), EncodePolicyBundle(bundle));
      !s.ok()) {
    return s;
  }
  Result<uint64_t> highest = HighestAccepted();
  // An unreadable mark is replaced: the bundle just written is the truth.
  const uint64_t mark = std::max(highest.ok() ? *highest : 0, bundle.version);
  return WriteSeqFile(highest_path_, mark);
}

}  // namespace mamori
