// The durable file layer against real files. One source for both
// implementations: unit_agent runs it on Linux (durable_file_posix.cc),
// files_windows under Wine (durable_file_win32.cc).

#include "agent/storage/durable_file.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "agent/storage/seq_file.h"

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#endif
#ifdef __linux__
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace mamori {
namespace {

namespace fs = std::filesystem;

#ifdef _WIN32
constexpr const char* kNoSuchDirectory = "(Win32 error 3)";  // ERROR_PATH_NOT_FOUND
constexpr const char* kNoSuchFile = "(Win32 error 2)";       // ERROR_FILE_NOT_FOUND
constexpr const char* kAccessDenied = "(Win32 error 5)";     // ERROR_ACCESS_DENIED
#else
constexpr const char* kNoSuchDirectory = "No such file or directory";
constexpr const char* kNoSuchFile = "No such file or directory";
constexpr const char* kAccessDenied = "Permission denied";
#endif

// "状態" (state) and "イベント" (event), as UTF-8.
constexpr const char* kJapaneseDir = "\xe7\x8a\xb6\xe6\x85\x8b";
constexpr const char* kJapaneseFile = "\xe3\x82\xa4\xe3\x83\x99\xe3\x83\xb3\xe3\x83\x88.journal";

class DurableFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("mamori-durable-file-" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    // A read-only file cannot be deleted on Windows.
    for (const auto& e : fs::recursive_directory_iterator(dir_, ec)) {
      fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add, ec);
    }
    fs::remove_all(dir_, ec);
  }

  std::vector<std::string> Names() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_))
      out.push_back(PathToUtf8(e.path().filename()));
    std::sort(out.begin(), out.end());
    return out;
  }

  fs::path dir_;
};

std::string Read(const fs::path& p) {
  Result<std::string> r = ReadFileBytes(p);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : std::string();
}

// Wine, like Windows before 10 1709 and file systems without POSIX rename
// semantics, refuses to replace a file that is open.
bool ReplacesOpenFiles() {
#ifdef _WIN32
  HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
  return ntdll == nullptr || ::GetProcAddress(ntdll, "wine_get_version") == nullptr;
#else
  return true;
#endif
}

#ifdef __linux__
// Root passes permission checks, which would hide the read-only error;
// without CAP_DAC_OVERRIDE the file's mode applies as to anyone else.
// Capabilities are per thread: the test's own thread is the one affected.
class ScopedNoDacOverride {
 public:
  ScopedNoDacOverride() {
    header_.version = _LINUX_CAPABILITY_VERSION_3;
    EXPECT_EQ(::syscall(SYS_capget, &header_, saved_), 0);
    __user_cap_data_struct reduced[2] = {saved_[0], saved_[1]};
    reduced[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
    EXPECT_EQ(::syscall(SYS_capset, &header_, reduced), 0);
  }
  ~ScopedNoDacOverride() { EXPECT_EQ(::syscall(SYS_capset, &header_, saved_), 0); }
  ScopedNoDacOverride(const ScopedNoDacOverride&) = delete;
  ScopedNoDacOverride& operator=(const ScopedNoDacOverride&) = delete;

 private:
  __user_cap_header_struct header_{};
  __user_cap_data_struct saved_[2]{};
};
#else
struct ScopedNoDacOverride {};
#endif

TEST_F(DurableFileTest, CreatesAppendsSyncsAndReadsBackAfterReopening) {
  const fs::path p = dir_ / "events.journal";
  {
    Result<DurableFile> f = DurableFile::Open(p, DurableFile::Disposition::kOpenOrCreate);
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_TRUE(f->is_open());
    EXPECT_EQ(*f->Size(), 0u);
    ASSERT_TRUE(f->Append("header|").ok());
    ASSERT_TRUE(f->Append("record 1|").ok());
    ASSERT_TRUE(f->SyncData().ok());
    ASSERT_TRUE(f->Append("record 2").ok());
    ASSERT_TRUE(f->Sync().ok());
    EXPECT_EQ(*f->Size(), 24u);
    ASSERT_TRUE(f->Close().ok());
    EXPECT_FALSE(f->is_open());
  }
  Result<DurableFile> f = DurableFile::Open(p, DurableFile::Disposition::kOpenExisting);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(*f->ReadAll(), "header|record 1|record 2");
  // Opening again does not truncate.
  Result<DurableFile> again = DurableFile::Open(p, DurableFile::Disposition::kOpenOrCreate);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again->Size(), 24u);
}

TEST_F(DurableFileTest, WritesAtOffsetsAndTruncates) {
  const fs::path p = dir_ / "f";
  Result<DurableFile> f = DurableFile::Open(p, DurableFile::Disposition::kOpenOrCreate);
  ASSERT_TRUE(f.ok()) << f.error().message;
  ASSERT_TRUE(f->WriteAt(0, "0123456789").ok());
  ASSERT_TRUE(f->WriteAt(2, "ab").ok());
  EXPECT_EQ(*f->ReadAll(), "01ab456789");
  ASSERT_TRUE(f->Truncate(4).ok());
  EXPECT_EQ(*f->Size(), 4u);
  ASSERT_TRUE(f->Append("xy").ok());
  ASSERT_TRUE(f->SyncData().ok());
  EXPECT_EQ(*f->ReadAll(), "01abxy");
  // Past the end: the gap reads as zeros.
  ASSERT_TRUE(f->WriteAt(8, "z").ok());
  EXPECT_EQ(*f->ReadAll(), std::string("01abxy\0\0z", 9));
  ASSERT_TRUE(f->Truncate(0).ok());
  ASSERT_TRUE(f->Close().ok());
  EXPECT_EQ(Read(p), "");
}

TEST_F(DurableFileTest, ReadOnlyHandleReadsButCannotWrite) {
  const fs::path p = dir_ / "f";
  ASSERT_TRUE(WriteFileAtomically(p, "data").ok());
  Result<DurableFile> f = DurableFile::Open(p, DurableFile::Disposition::kOpenExistingReadOnly);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(*f->ReadAll(), "data");
  Status s = f->WriteAt(0, "x");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find(PathToUtf8(p) + ": cannot write: "), std::string::npos)
      << s.error().message;
  EXPECT_EQ(Read(p), "data");
}

TEST_F(DurableFileTest, MissingFileAndMissingDirectoryAreNamedWithTheOsReason) {
  const fs::path missing = dir_ / "absent";
  Result<DurableFile> f = DurableFile::Open(missing, DurableFile::Disposition::kOpenExisting);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, ErrorCode::kIo);
  EXPECT_NE(f.error().message.find(PathToUtf8(missing) + ": cannot open: "), std::string::npos)
      << f.error().message;
  EXPECT_NE(f.error().message.find(kNoSuchFile), std::string::npos) << f.error().message;

  const fs::path in_missing_dir = dir_ / "no-such-dir" / "events.journal";
  f = DurableFile::Open(in_missing_dir, DurableFile::Disposition::kOpenOrCreate);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find(PathToUtf8(in_missing_dir) + ": cannot open: "),
            std::string::npos)
      << f.error().message;
  EXPECT_NE(f.error().message.find(kNoSuchDirectory), std::string::npos) << f.error().message;

  Status s = WriteFileAtomically(in_missing_dir, "x");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("cannot create a temporary file in " +
                                   PathToUtf8(dir_ / "no-such-dir")),
            std::string::npos)
      << s.error().message;
  EXPECT_NE(s.error().message.find(kNoSuchDirectory), std::string::npos) << s.error().message;

  Result<std::string> r = ReadFileBytes(in_missing_dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(PathToUtf8(in_missing_dir)), std::string::npos);

  Result<std::optional<std::string>> absent = ReadFileIfExists(missing);
  ASSERT_TRUE(absent.ok()) << absent.error().message;
  EXPECT_FALSE(absent->has_value());
  EXPECT_TRUE(RemoveFile(missing).ok());
}

#ifndef _WIN32
// Under Wine running as root (the CI) FILE_ATTRIBUTE_READONLY is not
// enforced: opening for writing and replacing both succeed. The Windows
// build checks the error of a file another process holds instead (below).
TEST_F(DurableFileTest, ReadOnlyFileCannotBeOpenedForWriting) {
  const fs::path p = dir_ / "policy.highest";
  ASSERT_TRUE(WriteFileAtomically(p, "7\n").ok());
  fs::permissions(p, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  {
    [[maybe_unused]] ScopedNoDacOverride no_override;
    Result<DurableFile> f = DurableFile::Open(p, DurableFile::Disposition::kOpenExisting);
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.error().code, ErrorCode::kIo);
    EXPECT_NE(f.error().message.find(PathToUtf8(p) + ": cannot open: "), std::string::npos)
        << f.error().message;
    EXPECT_NE(f.error().message.find(kAccessDenied), std::string::npos) << f.error().message;
    // Reading it is fine.
    EXPECT_EQ(Read(p), "7\n");
  }
}
#else
// Another process (a backup tool, a scanner) holding the file without
// sharing write access.
TEST_F(DurableFileTest, FileHeldWithoutWriteSharingIsNamedWithTheOsReason) {
  const fs::path p = dir_ / "events.journal";
  ASSERT_TRUE(WriteFileAtomically(p, "records").ok());
  HANDLE other = ::CreateFileW(p.c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr, OPEN_EXISTING,
                               FILE_ATTRIBUTE_NORMAL, nullptr);
  ASSERT_NE(other, INVALID_HANDLE_VALUE);
  Result<DurableFile> f = DurableFile::Open(p, DurableFile::Disposition::kOpenExisting);
  ::CloseHandle(other);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, ErrorCode::kIo);
  EXPECT_NE(f.error().message.find(PathToUtf8(p) + ": cannot open: "), std::string::npos)
      << f.error().message;
  EXPECT_NE(f.error().message.find("(Win32 error 32)"), std::string::npos)  // sharing violation
      << f.error().message;
  f = DurableFile::Open(p, DurableFile::Disposition::kOpenExisting);
  ASSERT_TRUE(f.ok()) << f.error().message;
}
#endif

TEST_F(DurableFileTest, AtomicReplaceWhileAReaderHasTheFileOpen) {
  const fs::path p = dir_ / "policy.bundle";
  ASSERT_TRUE(WriteFileAtomically(p, "old bundle").ok());
  Result<DurableFile> reader =
      DurableFile::Open(p, DurableFile::Disposition::kOpenExistingReadOnly);
  ASSERT_TRUE(reader.ok()) << reader.error().message;

  Status s = WriteFileAtomically(p, "new bundle");
  if (ReplacesOpenFiles()) {
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(Read(p), "new bundle");
    // The open handle still reads the file it opened.
    EXPECT_EQ(*reader->ReadAll(), "old bundle");
  } else {
    // A clear error, the old file intact, no temp file left behind.
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find(PathToUtf8(p) + ": cannot replace with "), std::string::npos)
        << s.error().message;
    EXPECT_NE(s.error().message.find(kAccessDenied), std::string::npos) << s.error().message;
    EXPECT_EQ(Read(p), "old bundle");
    EXPECT_EQ(Names(), std::vector<std::string>{"policy.bundle"});
    ASSERT_TRUE(reader->Close().ok());
    s = WriteFileAtomically(p, "new bundle");
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(Read(p), "new bundle");
  }
  ASSERT_TRUE(reader->Close().ok());
  // No temp file is left behind.
  EXPECT_EQ(Names(), std::vector<std::string>{"policy.bundle"});
}

// The journal's rewrite: the new journal is written through a temp file's
// handle, the old journal's handle is closed, the temp file is renamed over
// the journal while its handle is open, and then written through it.
TEST_F(DurableFileTest, ReplacesAnOpenFileByAnOpenTempFileThatStaysWritable) {
  const fs::path p = dir_ / "events.journal";
  Result<DurableFile> old_file = DurableFile::Open(p, DurableFile::Disposition::kOpenOrCreate);
  ASSERT_TRUE(old_file.ok()) << old_file.error().message;
  ASSERT_TRUE(old_file->Append("old records").ok());

  fs::path prefix = p;
  prefix += ".tmp.";
  Result<DurableFile> tmp = DurableFile::CreateUnique(prefix);
  ASSERT_TRUE(tmp.ok()) << tmp.error().message;
  EXPECT_TRUE(PathToUtf8(tmp->path().filename()).starts_with("events.journal.tmp."));
  ASSERT_TRUE(tmp->WriteAt(0, "header").ok());
  ASSERT_TRUE(tmp->Sync().ok());
  EXPECT_EQ(*old_file->ReadAll(), "old records");
  ASSERT_TRUE(old_file->Close().ok());
  Status s = AtomicReplace(tmp->path(), p);
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_TRUE(SyncDirectory(dir_).ok());
  ASSERT_TRUE(tmp->Append("|record").ok());
  ASSERT_TRUE(tmp->SyncData().ok());
  ASSERT_TRUE(tmp->Close().ok());
  EXPECT_EQ(Read(p), "header|record");
  EXPECT_EQ(Names(), std::vector<std::string>{"events.journal"});
}

TEST_F(DurableFileTest, UniqueFilesNeverReuseAName) {
  fs::path prefix = dir_ / "acked_seq.tmp.";
  std::vector<std::string> names;
  std::vector<DurableFile> files;
  for (int i = 0; i < 20; ++i) {
    Result<DurableFile> f = DurableFile::CreateUnique(prefix);
    ASSERT_TRUE(f.ok()) << f.error().message;
    names.push_back(PathToUtf8(f->path()));
    files.push_back(std::move(*f));
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::unique(names.begin(), names.end()), names.end());
  EXPECT_EQ(Names().size(), 20u);
  for (const DurableFile& f : files) EXPECT_TRUE(RemoveFile(f.path()).ok());
}

TEST_F(DurableFileTest, JapanesePathsStayUnicode) {
  const fs::path dir = dir_ / PathFromUtf8(kJapaneseDir);
  fs::create_directory(dir);
  const fs::path p = dir / PathFromUtf8(kJapaneseFile);
  EXPECT_EQ(PathToUtf8(p.filename()), kJapaneseFile);
#ifdef _WIN32
  // The native (UTF-16) name holds the characters themselves.
  EXPECT_EQ(p.filename().native(), L"\u30a4\u30d9\u30f3\u30c8.journal");
#endif
  {
    Result<DurableFile> f = DurableFile::Open(p, DurableFile::Disposition::kOpenOrCreate);
    ASSERT_TRUE(f.ok()) << f.error().message;
    ASSERT_TRUE(f->Append("\xe3\x83\x87\xe3\x83\xbc\xe3\x82\xbf").ok());
    ASSERT_TRUE(f->Sync().ok());
  }
  EXPECT_EQ(Read(p), "\xe3\x83\x87\xe3\x83\xbc\xe3\x82\xbf");
  ASSERT_TRUE(WriteFileAtomically(p, "replaced").ok());
  EXPECT_EQ(Read(p), "replaced");
  // The directory holds exactly that name: nothing was narrowed into "?".
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir))
    names.push_back(PathToUtf8(e.path().filename()));
  EXPECT_EQ(names, std::vector<std::string>{kJapaneseFile});

  const std::string utf8_dir = PathToUtf8(dir);
  ASSERT_TRUE(WriteSeqFile(utf8_dir + "/acked_seq", 42).ok());
  Result<std::optional<uint64_t>> seq = ReadSeqFile(utf8_dir + "/acked_seq");
  ASSERT_TRUE(seq.ok()) << seq.error().message;
  EXPECT_EQ(*seq, std::optional<uint64_t>(42));

  const fs::path missing = dir / PathFromUtf8(kJapaneseDir) / "x";
  Result<DurableFile> f = DurableFile::Open(missing, DurableFile::Disposition::kOpenOrCreate);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find(PathToUtf8(missing) + ": cannot open: "), std::string::npos)
      << f.error().message;
}

TEST_F(DurableFileTest, SeqFilesRoundTripAndRejectGarbage) {
  const std::string path = PathToUtf8(dir_ / "sent_seq");
  Result<std::optional<uint64_t>> none = ReadSeqFile(path);
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(WriteSeqFile(path, 18446744073709551615ull).ok());
  EXPECT_EQ(*ReadSeqFile(path), std::optional<uint64_t>(18446744073709551615ull));
  EXPECT_EQ(Read(PathFromUtf8(path)), "18446744073709551615\n");
  ASSERT_TRUE(WriteFileAtomically(PathFromUtf8(path), "12x\n").ok());
  Result<std::optional<uint64_t>> bad = ReadSeqFile(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find(path + ": expected a decimal counter"), std::string::npos)
      << bad.error().message;
}

}  // namespace
}  // namespace mamori
