#include "common/base/yaml_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string AllErrors(const YamlReader& r) { return r.ok() ? "" : r.ToError().message; }

TEST(ValidationErrorTest, FormatsLocationFieldAndMessage) {
  EXPECT_EQ((ValidationError{"a.yaml", 3, 7, "rules[0].name", "bad"}).ToString(),
            "a.yaml:3:7: rules[0].name: bad");
  EXPECT_EQ((ValidationError{"a.yaml", 3, 0, "x", "bad"}).ToString(), "a.yaml:3: x: bad");
  EXPECT_EQ((ValidationError{"a.yaml", 0, 0, "", "cannot open file"}).ToString(),
            "a.yaml: cannot open file");
}

TEST(YamlReaderTest, SyntaxErrorIsLocated) {
  YamlReader r("c.yaml");
  const YAML::Node n = r.Load("a: 1\nb: [1, 2\nc: 3\n");
  EXPECT_FALSE(n.IsDefined());
  ASSERT_EQ(r.errors().size(), 1u);
  EXPECT_EQ(r.errors()[0].file, "c.yaml");
  EXPECT_GT(r.errors()[0].line, 1);
  EXPECT_THAT(r.errors()[0].message, HasSubstr("YAML syntax error"));
}

TEST(YamlReaderTest, EmptyTextIsNull) {
  YamlReader r("c.yaml");
  EXPECT_TRUE(r.Load("").IsNull());
  EXPECT_TRUE(r.Load("# comment only\n").IsNull());
  EXPECT_TRUE(r.ok());
}

TEST(YamlReaderTest, SecondDocumentIsAnError) {
  YamlReader r("c.yaml");
  const YAML::Node n = r.Load("a: 1\n---\nb: 2\n");
  EXPECT_TRUE(n.IsMap());
  EXPECT_EQ(AllErrors(r),
            "c.yaml:3:1: only one YAML document is allowed; found another one (document 2)");

  // An explicit start marker, an end marker or a stray trailing separator
  // are not a second document.
  YamlReader ok("c.yaml");
  EXPECT_TRUE(ok.Load("---\na: 1\n...\n").IsMap());
  EXPECT_TRUE(ok.Load("a: 1\n---\n").IsMap());
  EXPECT_TRUE(ok.ok()) << AllErrors(ok);
}

TEST(YamlReaderTest, StrayTextAfterTheDocumentIsAnError) {
  // yaml-cpp's Load returns the list and drops the ",", and its LoadAll
  // never returns on it; neither may happen here.
  YamlReader r("c.yaml");
  EXPECT_TRUE(r.Load("- a\n- b\n,").IsSequence());
  EXPECT_EQ(AllErrors(r),
            "c.yaml:3:1: YAML syntax error: unexpected text that belongs to no "
            "document");
  YamlReader comma("c.yaml");
  comma.Load(",");
  EXPECT_FALSE(comma.ok());
}

TEST(YamlReaderTest, ManyEmptyDocumentsAreBounded) {
  std::string text = "a: 1\n";
  for (int i = 0; i < 100; ++i) text += "---\n";
  YamlReader r("c.yaml");
  r.Load(text);
  EXPECT_THAT(AllErrors(r), HasSubstr("found more than 64"));
}

TEST(YamlReaderTest, ExpectMapReportsUnknownAndDuplicateKeys) {
  YamlReader r("c.yaml");
  const YAML::Node n = r.Load("level: info\nformat: json\nlevle: debug\nlevel: warn\n");
  EXPECT_TRUE(r.ExpectMap(n, "log", {"level", "format"}));
  EXPECT_EQ(AllErrors(r),
            "c.yaml:3:1: log.levle: unknown key (expected one of: level, format)\n"
            "c.yaml:4:1: log.level: duplicate key; each key may appear only once");
}

TEST(YamlReaderTest, ExpectMapOnMissingAndWrongType) {
  YamlReader r("c.yaml");
  const YAML::Node root = r.Load("a: [1]\n");
  EXPECT_FALSE(r.ExpectMap(root["missing"], "missing", {}, /*required=*/false));
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.ExpectMap(root["missing"], "missing", {}, /*required=*/true));
  EXPECT_FALSE(r.ExpectMap(root["a"], "a", {}));
  EXPECT_EQ(AllErrors(r),
            "c.yaml: missing: required section is missing\n"
            "c.yaml:1:4: a: expected a mapping of key: value");
}

TEST(YamlReaderTest, TypedFields) {
  YamlReader r("c.yaml");
  const YAML::Node n = r.Load(
      "s: hello\nlist: [a, b]\none: a\nnum: 42\nbig: 99999\nnotnum: 4x\nyes: on\nno: false\n"
      "bad_bool: perhaps\ndur: 5m\nms: 250ms\nbare: 30\nbad_dur: 5 minutes\nmap: {k: v}\n");
  EXPECT_EQ(r.String(n, "s", "cfg"), "hello");
  EXPECT_EQ(r.String(n, "absent", "cfg"), std::nullopt);
  EXPECT_EQ(r.Int(n, "num", "cfg", 0, 100), 42);
  EXPECT_EQ(r.Bool(n, "yes", "cfg"), true);
  EXPECT_EQ(r.Bool(n, "no", "cfg"), false);
  EXPECT_EQ(r.DurationMs(n, "dur", "cfg"), 300'000);
  EXPECT_EQ(r.DurationMs(n, "ms", "cfg"), 250);
  EXPECT_EQ(r.DurationMs(n, "bare", "cfg"), 30'000);
  EXPECT_THAT(*r.StringList(n, "list", "cfg"), ElementsAre("a", "b"));
  EXPECT_THAT(*r.StringList(n, "one", "cfg"), ElementsAre("a"));
  EXPECT_TRUE(r.ok()) << AllErrors(r);

  EXPECT_EQ(r.String(n, "map", "cfg"), std::nullopt);
  EXPECT_EQ(r.Int(n, "big", "cfg", 0, 100), std::nullopt);
  EXPECT_EQ(r.Int(n, "notnum", "cfg", 0, 100), std::nullopt);
  EXPECT_EQ(r.Bool(n, "bad_bool", "cfg"), std::nullopt);
  EXPECT_EQ(r.DurationMs(n, "bad_dur", "cfg"), std::nullopt);
  EXPECT_EQ(r.StringList(n, "map", "cfg"), std::nullopt);
  EXPECT_EQ(r.String(n, "absent", "cfg", /*required=*/true), std::nullopt);
  EXPECT_EQ(AllErrors(r),
            "c.yaml:14:6: cfg.map: expected a string\n"
            "c.yaml:5:6: cfg.big: must be between 0 and 100, got 99999\n"
            "c.yaml:6:9: cfg.notnum: expected an integer, got '4x'\n"
            "c.yaml:9:11: cfg.bad_bool: expected true or false\n"
            "c.yaml:13:10: cfg.bad_dur: expected a duration such as 30s, 5m, 2h or 500ms, got "
            "'5 minutes'\n"
            "c.yaml:14:6: cfg.map: expected a string or a list of strings\n"
            "c.yaml:1:1: cfg.absent: required field is missing");
  EXPECT_EQ(r.ToError().code, ErrorCode::kInvalidArgument);
}

TEST(YamlReaderTest, StringListRejectsNestedItems) {
  YamlReader r("c.yaml");
  const YAML::Node n = r.Load("l: [a, [b], c]\n");
  EXPECT_EQ(r.StringList(n, "l", ""), std::nullopt);
  EXPECT_EQ(AllErrors(r), "c.yaml:1:8: l[1]: expected a string");
}

TEST(YamlReaderTest, LoadFile) {
  testing::TempDir dir;
  YamlReader r("cfg");
  const YAML::Node n = r.LoadFile(dir.Write("c.yaml", "a: 1\n"));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.Int(n, "a", "", 0, 9), 1);

  YamlReader missing("missing.yaml");
  EXPECT_FALSE(missing.LoadFile(dir.File("missing.yaml")).IsDefined());
  EXPECT_EQ(AllErrors(missing), "missing.yaml: cannot open file");
}

TEST(YamlReaderTest, Join) {
  EXPECT_EQ(YamlReader::Join("", "a"), "a");
  EXPECT_EQ(YamlReader::Join("a.b", "c"), "a.b.c");
}

TEST(ParseDurationTest, UnitsAndErrors) {
  EXPECT_EQ(ParseDurationMs("30s"), 30'000);
  EXPECT_EQ(ParseDurationMs("5m"), 300'000);
  EXPECT_EQ(ParseDurationMs("2h"), 7'200'000);
  EXPECT_EQ(ParseDurationMs("1d"), 86'400'000);
  EXPECT_EQ(ParseDurationMs("500ms"), 500);
  EXPECT_EQ(ParseDurationMs("10"), 10'000);
  EXPECT_EQ(ParseDurationMs("0"), 0);
  EXPECT_EQ(ParseDurationMs(""), std::nullopt);
  EXPECT_EQ(ParseDurationMs("s"), std::nullopt);
  EXPECT_EQ(ParseDurationMs("5x"), std::nullopt);
  EXPECT_EQ(ParseDurationMs("-1s"), std::nullopt);
  EXPECT_EQ(ParseDurationMs("1.5s"), std::nullopt);
  EXPECT_EQ(ParseDurationMs("9223372036854775807d"), std::nullopt);
  EXPECT_EQ(ParseDurationMs("99999999999999999999"), std::nullopt);
}

}  // namespace
}  // namespace mamori
