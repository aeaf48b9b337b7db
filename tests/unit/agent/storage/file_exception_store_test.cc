#include "agent/storage/file_exception_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "agent/storage/durable_file.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

ExceptionState Sample() {
  ExceptionState s;
  s.skew = ClockSkew{-1234, 1'760'000'000'000};
  DeviceException e;
  e.id = "unlock-7";
  e.terminal_id = "t-0042";
  e.vendor_id = 0x0781;
  e.product_id = 0x5581;
  e.serial = std::string("SER IAL\n\x01\xff", 11);  // bytes a device may send
  e.not_before_ms = 1'760'000'400'000;
  e.not_after_ms = 1'760'004'000'000;
  e.reason = "監査 資料";
  s.local.push_back(e);
  e.id = "unlock-8";
  e.terminal_id.clear();
  e.reason.clear();
  s.local.push_back(e);
  return s;
}

TEST(FileExceptionStoreTest, AbsentFileIsAnEmptyState) {
  TempDir dir;
  FileExceptionStore store(dir.path());
  auto s = store.Load();
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(s->local.empty());
  EXPECT_FALSE(s->skew.has_value());
}

TEST(FileExceptionStoreTest, RoundTripsEveryField) {
  TempDir dir;
  FileExceptionStore store(dir.path());
  ASSERT_TRUE(store.Save(Sample()).ok());
  auto s = FileExceptionStore(dir.path()).Load();
  ASSERT_TRUE(s.ok()) << s.error().message;
  const ExceptionState want = Sample();
  ASSERT_TRUE(s->skew.has_value());
  EXPECT_EQ(s->skew->skew_ms, -1234);
  EXPECT_EQ(s->skew->measured_at_ms, 1'760'000'000'000);
  ASSERT_EQ(s->local.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(s->local[i].id, want.local[i].id);
    EXPECT_EQ(s->local[i].terminal_id, want.local[i].terminal_id);
    EXPECT_EQ(s->local[i].vendor_id, 0x0781);
    EXPECT_EQ(s->local[i].product_id, 0x5581);
    EXPECT_EQ(s->local[i].serial, want.local[i].serial);
    EXPECT_EQ(s->local[i].not_before_ms, want.local[i].not_before_ms);
    EXPECT_EQ(s->local[i].not_after_ms, want.local[i].not_after_ms);
    EXPECT_EQ(s->local[i].reason, want.local[i].reason);
  }
}

TEST(FileExceptionStoreTest, DamagedFilesAreErrorsNamingTheLine) {
  const auto error = [](std::string_view text) {
    auto s = DecodeExceptionState(text);
    return s.ok() ? std::string("<decoded>") : s.error().message;
  };
  const std::string good = EncodeExceptionState(Sample());
  EXPECT_EQ(error(""), "empty file");
  EXPECT_THAT(error("something else\n"), HasSubstr("line 1: not an exception state file"));
  EXPECT_THAT(error(good.substr(0, good.size() - 1)), HasSubstr("line 4 is cut short"));
  EXPECT_THAT(error("mamori-exceptions 1\nskew 12\n"), HasSubstr("line 2: malformed skew"));
  EXPECT_THAT(error("mamori-exceptions 1\nskew 1 2\nskew 1 2\n"),
              HasSubstr("line 3: malformed skew"));
  EXPECT_THAT(error("mamori-exceptions 1\nlocal 41 '' 0781 5581 41 2 1 ''\n"),
              HasSubstr("line 2: malformed local exception"));
  // Window the wrong way round, empty serial, vid of 3 digits.
  EXPECT_THAT(error("mamori-exceptions 1\nlocal 41  0781 5581 41 2 1 \n"),
              HasSubstr("line 2: malformed local"));
  EXPECT_THAT(error("mamori-exceptions 1\nlocal 41  0781 5581  1 2 \n"),
              HasSubstr("line 2: malformed local"));
  EXPECT_THAT(error("mamori-exceptions 1\nlocal 41  781 5581 41 1 2 \n"),
              HasSubstr("line 2: malformed local"));
  EXPECT_EQ(error("mamori-exceptions 1\nlocal 41  0781 5581 41 1 2 \n"), "<decoded>");
  EXPECT_THAT(error("mamori-exceptions 1\nallow everything\n"), HasSubstr("unknown record"));
  EXPECT_THAT(error(std::string(5 * 1024 * 1024, 'x')), HasSubstr("not a state this agent wrote"));
}

TEST(FileExceptionStoreTest, LoadNamesTheFile) {
  TempDir dir;
  FileExceptionStore store(dir.path());
  ASSERT_TRUE(WriteFileAtomically(PathFromUtf8(store.Describe()), "junk\n").ok());
  auto s = store.Load();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("exceptions.state: line 1"));
}

}  // namespace
}  // namespace mamori
