#include "agent/storage/file_exception_store.h"

#include <charconv>
#include <cstdio>
#include <vector>

#include "agent/storage/durable_file.h"
#include "common/base/hex.h"

namespace mamori {
namespace {

constexpr std::string_view kHeader = "mamori-exceptions 1";
// 1000 local exceptions of a few hundred bytes each fit many times over.
constexpr std::size_t kMaxFileBytes = 4 * 1024 * 1024;
constexpr std::size_t kMaxLocal = 10'000;

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= line.size()) {
    const std::size_t sp = line.find(' ', start);
    const std::size_t end = sp == std::string_view::npos ? line.size() : sp;
    out.push_back(line.substr(start, end - start));
    if (sp == std::string_view::npos) break;
    start = sp + 1;
  }
  return out;
}

std::optional<int64_t> Int(std::string_view s) {
  int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string Hex4(uint16_t v) {
  char buf[5];
  std::snprintf(buf, sizeof buf, "%04x", v);
  return buf;
}

}  // namespace

std::string EncodeExceptionState(const ExceptionState& state) {
  std::string out(kHeader);
  out += '\n';
  if (state.skew) {
    out += "skew " + std::to_string(state.skew->skew_ms) + " " +
           std::to_string(state.skew->measured_at_ms) + "\n";
  }
  for (const DeviceException& e : state.local) {
    out += "local " + HexEncode(e.id) + " " + HexEncode(e.terminal_id) + " " + Hex4(e.vendor_id) +
           " " + Hex4(e.product_id) + " " + HexEncode(e.serial) + " " +
           std::to_string(e.not_before_ms) + " " + std::to_string(e.not_after_ms) + " " +
           HexEncode(e.reason) + "\n";
  }
  return out;
}

Result<ExceptionState> DecodeExceptionState(std::string_view text) {
  if (text.size() > kMaxFileBytes) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "is " + std::to_string(text.size()) + " bytes; not a state this agent wrote");
  }
  ExceptionState state;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "line " + std::to_string(line_no + 1) + " is cut short");
    }
    const std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    const auto bad = [&](std::string_view why) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "line " + std::to_string(line_no) + ": " + std::string(why));
    };
    if (line_no == 1) {
      if (line != kHeader) return bad("not an exception state file (unknown header)");
      continue;
    }
    const std::vector<std::string_view> f = Fields(line);
    if (f[0] == "skew") {
      if (f.size() != 3 || state.skew) return bad("malformed skew record");
      const auto skew = Int(f[1]);
      const auto at = Int(f[2]);
      if (!skew || !at) return bad("malformed skew record");
      state.skew = ClockSkew{*skew, *at};
    } else if (f[0] == "local") {
      if (f.size() != 9) return bad("malformed local exception record");
      if (state.local.size() >= kMaxLocal) return bad("too many local exceptions");
      DeviceException e;
      auto id = HexDecode(f[1]);
      auto terminal = HexDecode(f[2]);
      auto vid = f[3].size() == 4 ? ParseUsbId(f[3]) : std::nullopt;
      auto pid = f[4].size() == 4 ? ParseUsbId(f[4]) : std::nullopt;
      auto serial = HexDecode(f[5]);
      auto from = Int(f[6]);
      auto until = Int(f[7]);
      auto reason = HexDecode(f[8]);
      if (!id || id->empty() || !terminal || !vid || !pid || !serial || serial->empty() || !from ||
          !until || *until <= *from || !reason) {
        return bad("malformed local exception record");
      }
      e.id = std::move(*id);
      e.terminal_id = std::move(*terminal);
      e.vendor_id = *vid;
      e.product_id = *pid;
      e.serial = std::move(*serial);
      e.not_before_ms = *from;
      e.not_after_ms = *until;
      e.reason = std::move(*reason);
      state.local.push_back(std::move(e));
    } else {
      return bad("unknown record");
    }
  }
  if (line_no == 0) return MakeError(ErrorCode::kFailedPrecondition, "empty file");
  return state;
}

FileExceptionStore::FileExceptionStore(std::string state_dir)
    : path_(PathToUtf8(PathFromUtf8(state_dir) / "exceptions.state")) {}

Result<ExceptionState> FileExceptionStore::Load() {
  Result<std::optional<std::string>> bytes = ReadFileIfExists(PathFromUtf8(path_));
  if (!bytes.ok()) return bytes.error();
  if (!bytes->has_value()) return ExceptionState{};
  Result<ExceptionState> state = DecodeExceptionState(**bytes);
  if (!state.ok()) return MakeError(state.error().code, path_ + ": " + state.error().message);
  return state;
}

Status FileExceptionStore::Save(const ExceptionState& state) {
  return WriteFileAtomically(PathFromUtf8(path_), EncodeExceptionState(state));
}

}  // namespace mamori
