#include "server/policy/text_diff.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace mamori {
namespace {

using ::testing::HasSubstr;

std::string Lines(int from, int to, const std::string& prefix = "line ") {
  std::string out;
  for (int i = from; i <= to; ++i) out += prefix + std::to_string(i) + "\n";
  return out;
}

TEST(TextDiffTest, EmptyAndIdenticalHaveNoDiff) {
  EXPECT_EQ(DiffLines("", "").text, "");
  const TextDiff same = DiffLines("a\nb\n", "a\nb\n");
  EXPECT_EQ(same.text, "");
  EXPECT_EQ(same.added, 0u);
  EXPECT_EQ(same.removed, 0u);
  // A missing final newline is not a difference.
  EXPECT_EQ(DiffLines("a\nb", "a\nb\n").text, "");
}

TEST(TextDiffTest, FromAndToEmpty) {
  EXPECT_EQ(DiffLines("", "a\nb\n", "old", "new").text,
            "--- old\n+++ new\n@@ -0,0 +1,2 @@\n+a\n+b\n");
  EXPECT_EQ(DiffLines("a\nb\n", "", "old", "new").text,
            "--- old\n+++ new\n@@ -1,2 +0,0 @@\n-a\n-b\n");
}

TEST(TextDiffTest, InsertDeleteChangeWithContext) {
  const std::string before = Lines(1, 10);
  std::string after = before;
  after.replace(after.find("line 5\n"), 7, "line five\n");
  const TextDiff d = DiffLines(before, after, "a", "b");
  EXPECT_EQ(d.text,
            "--- a\n+++ b\n@@ -2,7 +2,7 @@\n line 2\n line 3\n line 4\n-line 5\n+line five\n"
            " line 6\n line 7\n line 8\n");
  EXPECT_EQ(d.added, 1u);
  EXPECT_EQ(d.removed, 1u);
  EXPECT_FALSE(d.whole_replacement);

  const TextDiff ins = DiffLines("a\nc\n", "a\nb\nc\n", "x", "y");
  EXPECT_EQ(ins.text, "--- x\n+++ y\n@@ -1,2 +1,3 @@\n a\n+b\n c\n");
  const TextDiff del = DiffLines("a\nb\nc\n", "a\nc\n", "x", "y");
  EXPECT_EQ(del.text, "--- x\n+++ y\n@@ -1,3 +1,2 @@\n a\n-b\n c\n");
}

TEST(TextDiffTest, DistantChangesMakeSeparateHunksCloseOnesMerge) {
  const std::string before = Lines(1, 30);
  std::string after = before;
  after.replace(after.find("line 2\n"), 7, "LINE 2\n");
  after.replace(after.find("line 25\n"), 8, "LINE 25\n");
  const TextDiff far = DiffLines(before, after);
  EXPECT_THAT(far.text, HasSubstr("@@ -1,5 +1,5 @@\n line 1\n-line 2\n+LINE 2\n"));
  EXPECT_THAT(far.text, HasSubstr("@@ -22,7 +22,7 @@\n"));

  std::string near = before;
  near.replace(near.find("line 2\n"), 7, "LINE 2\n");
  near.replace(near.find("line 9\n"), 7, "LINE 9\n");  // 6 unchanged lines between
  const TextDiff merged = DiffLines(before, near);
  EXPECT_THAT(merged.text, HasSubstr("@@ -1,12 +1,12 @@\n"));
  EXPECT_EQ(merged.text.find("@@ -", merged.text.find("@@ -") + 1), std::string::npos);
}

TEST(TextDiffTest, CrlfEqualsLf) {
  EXPECT_EQ(DiffLines("name: p\r\nrules: []\r\n", "name: p\nrules: []\n").text, "");
  const TextDiff d = DiffLines("a\r\nb\r\n", "a\nc\n", "x", "y");
  EXPECT_EQ(d.text, "--- x\n+++ y\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n");
  EXPECT_EQ(d.text.find('\r'), std::string::npos);
}

TEST(TextDiffTest, MinimalOnReorder) {
  const TextDiff d = DiffLines("a\nb\nc\nd\n", "b\nc\nd\na\n", "x", "y");
  EXPECT_EQ(d.added, 1u);
  EXPECT_EQ(d.removed, 1u);
}

TEST(TextDiffTest, HugeInputsFallBackToWholeReplacement) {
  // 20,000 x 20,000 changed lines would be 400 million cells: the bound on
  // work is what keeps this fast, so the test checks the bound was taken.
  const std::string before = "header\n" + Lines(1, 20000, "old ") + "footer\n";
  const std::string after = "header\n" + Lines(1, 20000, "new ") + "footer\n";
  const TextDiff d = DiffLines(before, after);
  EXPECT_TRUE(d.whole_replacement);
  EXPECT_EQ(d.removed, 20000u);
  EXPECT_EQ(d.added, 20000u);
  EXPECT_THAT(d.text, HasSubstr("@@ -1,20002 +1,20002 @@\n header\n-old 1\n"));

  // Below the bound the same shape gets a minimal diff.
  TextDiffOptions small;
  small.max_cells = 100;
  EXPECT_TRUE(DiffLines(Lines(1, 20), Lines(1, 20, "x"), "a", "b", small).whole_replacement);
  EXPECT_FALSE(DiffLines(Lines(1, 5), Lines(1, 5, "x"), "a", "b", small).whole_replacement);
}

TEST(TextDiffTest, LargeDocumentWithSmallEditStaysMinimal) {
  // Common prefix and suffix are trimmed before the bounded part.
  const std::string before = Lines(1, 50000);
  std::string after = before;
  after.replace(after.find("line 25000\n"), 11, "changed\n");
  const TextDiff d = DiffLines(before, after);
  EXPECT_FALSE(d.whole_replacement);
  EXPECT_EQ(d.added, 1u);
  EXPECT_EQ(d.removed, 1u);
}

}  // namespace
}  // namespace mamori
