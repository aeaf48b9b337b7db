#include "common/policy/policy_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/policy/policy.h"
#include "common/policy/rule_engine.h"

namespace mamori {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::string ExamplePath(std::string_view name) {
  const auto root = std::filesystem::path(MAMORI_SOURCE_DIR);
  return (root / "examples" / "policies" / name).string();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The error message of a policy that must not parse.
std::string ErrorOf(std::string_view yaml) {
  const auto r = ParsePolicy(yaml, "policy.yaml");
  if (r.ok()) return "<parsed without error>";
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  return r.error().message;
}

int CountLines(std::string_view s) {
  return s.empty() ? 0 : static_cast<int>(std::count(s.begin(), s.end(), '\n')) + 1;
}

constexpr std::string_view kFullPolicy = R"(name: osaka-hoken-standard
description: 保険課の標準ポリシー
defaults:
  storage: read_only
  other: block
registered_media:
  - serial: "4C530001231120115142"
    vid_pid: "0781:5581"
    owner: 山田太郎
    department: 保険課
    expires: 2027-03-31
  - serial: "X1"
    vid_pid: "ABCD:ef01"
rules:
  - name: registered-sticks
    match:
      registered_media: true
    action: allow
  - name: kingston-readonly
    match:
      vid_pid: "0951:1666"
      serial: ["AA01", "AA02"]
      class: [mass_storage, card_reader]
      manufacturer: Kingston
      product: DataTraveler
      bus_path: "1-2"
      descriptor_hash: "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff"
    action: read_only
  - name: vendor-only
    match:
      vendor_id: "04f9"
      serial: single-serial
      class: printer
    action: block
  - name: product-only
    match:
      product_id: "0001"
    action: allow
)";

TEST(PolicyParserTest, ParsesEveryField) {
  const auto r = ParsePolicy(kFullPolicy, "full.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Policy& p = *r;
  EXPECT_EQ(p.name, "osaka-hoken-standard");
  EXPECT_EQ(p.description, "保険課の標準ポリシー");
  EXPECT_EQ(p.default_storage_action, Action::kReadOnly);
  EXPECT_EQ(p.default_other_action, Action::kBlock);

  ASSERT_EQ(p.registered_media.size(), 2u);
  const RegisteredMedium& m0 = p.registered_media[0];
  EXPECT_EQ(m0.serial, "4C530001231120115142");
  EXPECT_EQ(m0.vendor_id, 0x0781);
  EXPECT_EQ(m0.product_id, 0x5581);
  EXPECT_EQ(m0.owner, "山田太郎");
  EXPECT_EQ(m0.department, "保険課");
  // Valid through the end of 2027-03-31 UTC: one millisecond before April.
  EXPECT_EQ(m0.expires_ms, 1806537600000 - 1);
  const RegisteredMedium& m1 = p.registered_media[1];
  EXPECT_EQ(m1.vendor_id, 0xABCD);
  EXPECT_EQ(m1.product_id, 0xEF01);
  EXPECT_EQ(m1.expires_ms, 0);
  EXPECT_EQ(m1.owner, "");

  ASSERT_EQ(p.rules.size(), 4u);
  const Rule& r0 = p.rules[0];
  EXPECT_EQ(r0.name, "registered-sticks");
  EXPECT_TRUE(r0.match.registered_media);
  EXPECT_FALSE(r0.match.vendor_id.has_value());
  EXPECT_EQ(r0.action, Action::kAllow);
  EXPECT_EQ(r0.line, 15);

  const Rule& r1 = p.rules[1];
  EXPECT_EQ(r1.name, "kingston-readonly");
  EXPECT_EQ(r1.match.vendor_id, 0x0951);
  EXPECT_EQ(r1.match.product_id, 0x1666);
  EXPECT_THAT(r1.match.serials, ElementsAre("AA01", "AA02"));
  EXPECT_THAT(r1.match.classes, ElementsAre(DeviceClass::kMassStorage, DeviceClass::kCardReader));
  EXPECT_EQ(r1.match.manufacturer, "Kingston");
  EXPECT_EQ(r1.match.product, "DataTraveler");
  EXPECT_EQ(r1.match.bus_path, "1-2");
  // Stored lower-case whatever the file says.
  EXPECT_EQ(r1.match.descriptor_hash,
            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
  EXPECT_FALSE(r1.match.registered_media);
  EXPECT_EQ(r1.action, Action::kReadOnly);

  const Rule& r2 = p.rules[2];
  EXPECT_EQ(r2.match.vendor_id, 0x04f9);
  EXPECT_FALSE(r2.match.product_id.has_value());
  EXPECT_THAT(r2.match.serials, ElementsAre("single-serial"));
  EXPECT_THAT(r2.match.classes, ElementsAre(DeviceClass::kPrinter));
  EXPECT_FALSE(r2.match.manufacturer.has_value());
  EXPECT_EQ(r2.action, Action::kBlock);

  const Rule& r3 = p.rules[3];
  EXPECT_FALSE(r3.match.vendor_id.has_value());
  EXPECT_EQ(r3.match.product_id, 0x0001);
}

TEST(PolicyParserTest, OmittedSectionsTakeSafeDefaults) {
  const auto r = ParsePolicy("name: minimal\n", "min.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->name, "minimal");
  EXPECT_EQ(r->description, "");
  EXPECT_EQ(r->default_storage_action, Action::kBlock);
  EXPECT_EQ(r->default_other_action, Action::kAllow);
  // A policy written before the per-class defaults closes the ways out too.
  EXPECT_EQ(r->class_defaults, MyNumberClassDefaults());
  EXPECT_TRUE(r->rules.empty());
  EXPECT_TRUE(r->registered_media.empty());

  const auto empty_sections =
      ParsePolicy("name: x\ndefaults:\nregistered_media: []\nrules:\n", "x.yaml");
  ASSERT_TRUE(empty_sections.ok()) << empty_sections.error().message;
  EXPECT_EQ(empty_sections->default_storage_action, Action::kBlock);
  EXPECT_TRUE(empty_sections->rules.empty());
}

TEST(PolicyParserTest, ExamplePoliciesParse) {
  const auto def = ParsePolicy(ReadFile(ExamplePath("default.yaml")), "default.yaml");
  ASSERT_TRUE(def.ok()) << def.error().message;
  EXPECT_EQ(def->name, "default");
  EXPECT_EQ(def->default_storage_action, Action::kBlock);
  EXPECT_EQ(def->registered_media.size(), 2u);
  ASSERT_EQ(def->rules.size(), 1u);
  EXPECT_TRUE(def->rules[0].match.registered_media);
  EXPECT_EQ(def->rules[0].action, Action::kAllow);
  EXPECT_EQ(def->registered_media[0].owner, "山田太郎");

  const auto strict = ParsePolicy(ReadFile(ExamplePath("strict.yaml")), "strict.yaml");
  ASSERT_TRUE(strict.ok()) << strict.error().message;
  EXPECT_EQ(strict->name, "strict");
  EXPECT_EQ(strict->registered_media.size(), 2u);
  ASSERT_EQ(strict->rules.size(), 3u);
  EXPECT_THAT(strict->rules[0].match.classes, ElementsAre(DeviceClass::kStillImage));
  EXPECT_EQ(strict->rules[0].action, Action::kBlock);
  // `wireless` still matches Bluetooth, which it named before Bluetooth
  // had a class of its own.
  EXPECT_THAT(strict->rules[1].match.classes,
              ElementsAre(DeviceClass::kWireless, DeviceClass::kBluetooth));
  EXPECT_EQ(strict->rules[1].action, Action::kBlock);
}

TEST(PolicyParserTest, PerClassDefaultsOverrideOneByOne) {
  const auto r = ParsePolicy(
      "name: p\ndefaults:\n  other: block\n  network: allow\n  biometric: block\n", "p.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->default_other_action, Action::kBlock);
  EXPECT_EQ(r->class_defaults.at(DeviceClass::kNetwork), Action::kAllow);
  EXPECT_EQ(r->class_defaults.at(DeviceClass::kBiometric), Action::kBlock);
  // Untouched entries keep the My Number values.
  EXPECT_EQ(r->class_defaults.at(DeviceClass::kSerial), Action::kBlock);
  EXPECT_EQ(r->class_defaults.at(DeviceClass::kSmartCard), Action::kAllow);
}

TEST(PolicyParserTest, PerClassDefaultsRefuseReadOnlyAndUnknownKeys) {
  EXPECT_EQ(ErrorOf("name: p\ndefaults:\n  network: read_only\n"),
            "policy.yaml:3:12: defaults.network: read_only applies to storage only; use allow "
            "or block");
  EXPECT_THAT(ErrorOf("name: p\ndefaults:\n  modem: block\n"), HasSubstr("modem"));
}

TEST(PolicyParserTest, ExampleFromDocumentationPointsAtLineAndColumn) {
  const std::string msg = ErrorOf(R"(# Example from the policy documentation.
name: p
defaults:
  storage: block
rules:
  - name: r0
    match:
      class: hid
    action: allow
  - name: r1
    match:
      vid_pid: "09z1:1666"
    action: block
)");
  EXPECT_EQ(msg,
            "policy.yaml:12:16: rules[1].match.vid_pid: expected 'vvvv:pppp' (hex), got "
            "'09z1:1666'");
}

TEST(PolicyParserTest, SyntaxErrorIsLocated) {
  const std::string msg = ErrorOf("name: p\nrules:\n  - name: [unclosed\n    action: allow\n");
  EXPECT_THAT(msg, HasSubstr("policy.yaml:"));
  EXPECT_THAT(msg, HasSubstr("YAML syntax error"));
  EXPECT_EQ(CountLines(msg), 1);
}

TEST(PolicyParserTest, TopLevelMustBeAMapping) {
  EXPECT_THAT(ErrorOf("- name: p\n"), HasSubstr("got a list"));
  EXPECT_THAT(ErrorOf("just a string\n"), HasSubstr("got a single value"));
  EXPECT_THAT(ErrorOf(""), HasSubstr("got nothing"));
  EXPECT_THAT(ErrorOf("# only a comment\n"), HasSubstr("a policy is a mapping"));
}

TEST(PolicyParserTest, NameIsRequiredAndBounded) {
  EXPECT_THAT(ErrorOf("description: x\n"), HasSubstr("name: required field is missing"));
  EXPECT_THAT(ErrorOf("name: \"\"\n"), HasSubstr("policy.yaml:1:7: name: must be 1..128"));
  EXPECT_THAT(ErrorOf("name: " + std::string(129, 'n') + "\n"), HasSubstr("got 129"));
  // 128 characters of three bytes each are fine: the limit is in characters.
  std::string japanese;
  for (int i = 0; i < 128; ++i) japanese += "保";
  EXPECT_TRUE(ParsePolicy("name: " + japanese + "\n", "p.yaml").ok());
  EXPECT_THAT(ErrorOf("name: \"a\\x01b\"\n"), HasSubstr("without control characters"));
}

TEST(PolicyParserTest, UnknownKeysAnywhereAreErrors) {
  const std::string msg = ErrorOf(R"(name: p
colour: blue
defaults:
  storage: block
  printers: allow
registered_media:
  - serial: "S1"
    vid_pid: "0781:5581"
    expiry: 2027-01-01
rules:
  - name: r
    match:
      vidpid: "0781:5581"
    action: allow
    comment: typo
)");
  EXPECT_THAT(msg, HasSubstr("policy.yaml:2:1: colour: unknown key"));
  EXPECT_THAT(msg, HasSubstr("policy.yaml:5:3: defaults.printers: unknown key"));
  EXPECT_THAT(msg, HasSubstr("policy.yaml:9:5: registered_media[0].expiry: unknown key"));
  EXPECT_THAT(msg, HasSubstr("policy.yaml:13:7: rules[0].match.vidpid: unknown key"));
  EXPECT_THAT(msg, HasSubstr("policy.yaml:15:5: rules[0].comment: unknown key"));
  // Names the keys that are allowed, so the fix is obvious.
  EXPECT_THAT(msg, HasSubstr("expected one of: storage, other"));
}

TEST(PolicyParserTest, CollectsAllErrorsNotJustTheFirst) {
  const std::string msg = ErrorOf(R"(name: p
defaults:
  storage: deny
rules:
  - name: a
    match: {class: usb}
    action: permit
  - name: "bad name!"
    match: {vid_pid: "xyz"}
    action: allow
)");
  // In file order, whatever order the checks ran in.
  EXPECT_EQ(msg,
            "policy.yaml:3:12: defaults.storage: expected one of: allow, read_only, block; got "
            "'deny'\n"
            "policy.yaml:6:20: rules[0].match.class: unknown class 'usb' (expected one of: "
            "mass_storage, still_image, optical, card_reader, printer, network, serial, "
            "bluetooth, wifi, wireless, smart_card, biometric, hid, hub, other)\n"
            "policy.yaml:7:13: rules[0].action: expected one of: allow, read_only, block; got "
            "'permit'\n"
            "policy.yaml:8:11: rules[1].name: expected 1..64 characters of A-Z a-z 0-9 . _ -, "
            "got 'bad name!'\n"
            "policy.yaml:9:22: rules[1].match.vid_pid: expected 'vvvv:pppp' (hex), got 'xyz'");
}

TEST(PolicyParserTest, DuplicateRuleNamePointsAtTheSecond) {
  const std::string msg = ErrorOf(R"(name: p
rules:
  - name: sticks
    match: {class: mass_storage}
    action: block
  - name: other
    match: {class: printer}
    action: allow
  - name: sticks
    match: {class: optical}
    action: block
)");
  EXPECT_EQ(msg,
            "policy.yaml:9:11: rules[2].name: duplicate rule name 'sticks' (first defined at "
            "line 3)");
}

TEST(PolicyParserTest, VidPidConflictsWithVendorOrProductId) {
  const std::string msg = ErrorOf(R"(name: p
rules:
  - name: r
    match:
      vid_pid: "0781:5581"
      vendor_id: "0781"
      product_id: "5581"
    action: allow
)");
  EXPECT_THAT(msg, HasSubstr("policy.yaml:6:18: rules[0].match.vendor_id: conflicts with vid_pid"));
  EXPECT_THAT(msg,
              HasSubstr("policy.yaml:7:19: rules[0].match.product_id: conflicts with vid_pid"));
}

TEST(PolicyParserTest, BadIdsAreRejected) {
  for (const char* bad : {"781", "07811", "0x78", "zzzz", ""}) {
    const std::string yaml = std::string("name: p\nrules:\n  - name: r\n    match:\n") +
                             "      vendor_id: \"" + bad + "\"\n    action: allow\n";
    EXPECT_THAT(ErrorOf(yaml), HasSubstr("rules[0].match.vendor_id: expected 4 hex digits")) << bad;
  }
  for (const char* bad : {"0781-5581", "0781:558", "781:5581", "0781:5581:", "07815581"}) {
    const std::string yaml = std::string("name: p\nregistered_media:\n  - serial: s\n") +
                             "    vid_pid: \"" + bad + "\"\n";
    EXPECT_THAT(ErrorOf(yaml),
                HasSubstr("policy.yaml:4:14: registered_media[0].vid_pid: expected 'vvvv:pppp'"))
        << bad;
  }
}

TEST(PolicyParserTest, BadClassListsTheValidOnes) {
  const std::string msg = ErrorOf(R"(name: p
rules:
  - name: r
    match:
      class: [hid, mass-storage]
    action: block
)");
  EXPECT_EQ(msg,
            "policy.yaml:5:20: rules[0].match.class[1]: unknown class 'mass-storage' (expected "
            "one of: mass_storage, still_image, optical, card_reader, printer, network, "
            "serial, bluetooth, wifi, wireless, smart_card, biometric, hid, hub, other)");
  // "unspecified" is the absence of a class, never something to match.
  EXPECT_THAT(ErrorOf("name: p\nrules:\n  - name: r\n    match: {class: unspecified}\n"
                      "    action: block\n"),
              HasSubstr("unknown class 'unspecified'"));
}

TEST(PolicyParserTest, BadActionListsTheValidOnes) {
  EXPECT_EQ(ErrorOf("name: p\nrules:\n  - name: r\n    match: {class: hid}\n    action: deny\n"),
            "policy.yaml:5:13: rules[0].action: expected one of: allow, read_only, block; got "
            "'deny'");
  EXPECT_THAT(ErrorOf("name: p\nrules:\n  - name: r\n    match: {class: hid}\n"),
              HasSubstr("rules[0].action: required field is missing"));
}

TEST(PolicyParserTest, BadDatesAreRejected) {
  for (const char* bad :
       {"2027-02-30", "2027-13-01", "2027-00-10", "2027-1-1", "tomorrow", "1969-12-31",
        "2027/03/31", "2027-03-31T25:00:00Z", "2027-03-31T00:00:00", "2027-03-31T00:00:00+9:00"}) {
    const std::string yaml = std::string("name: p\nregistered_media:\n  - serial: s\n") +
                             "    vid_pid: \"0781:5581\"\n    expires: " + bad + "\n";
    EXPECT_THAT(ErrorOf(yaml),
                HasSubstr("policy.yaml:5:14: registered_media[0].expires: expected a date "
                          "YYYY-MM-DD"))
        << bad;
  }
  // An instant with its offset (the media ledger writes the end of a JST
  // day so) is valid through the end of that second.
  const auto instant = ParsePolicy(
      "name: p\nregistered_media:\n  - {serial: s, vid_pid: \"0781:5581\", expires: "
      "\"2027-03-31T23:59:59+09:00\"}\n",
      "p.yaml");
  ASSERT_TRUE(instant.ok()) << instant.error().message;
  EXPECT_EQ(instant->registered_media[0].expires_ms, 1806505199999);
  // Leap day exists in 2028 but not in 2027.
  const auto leap = ParsePolicy(
      "name: p\nregistered_media:\n  - {serial: s, vid_pid: \"0781:5581\", expires: 2024-02-29}\n",
      "p.yaml");
  ASSERT_TRUE(leap.ok()) << leap.error().message;
  EXPECT_EQ(leap->registered_media[0].expires_ms, 1709251200000 - 1);
}

TEST(PolicyParserTest, LedgerEntriesNeedSerialAndVidPid) {
  const std::string msg = ErrorOf(R"(name: p
registered_media:
  - owner: 山田太郎
  - serial: ""
    vid_pid: "0781:5581"
  - just-a-string
)");
  EXPECT_THAT(msg, HasSubstr("policy.yaml:3:5: registered_media[0].serial: required field"));
  EXPECT_THAT(msg, HasSubstr("policy.yaml:3:5: registered_media[0].vid_pid: required field"));
  EXPECT_THAT(msg, HasSubstr("policy.yaml:4:13: registered_media[1].serial: must not be empty"));
  EXPECT_THAT(msg, HasSubstr("policy.yaml:6:5: registered_media[2]: expected a mapping"));
  EXPECT_THAT(ErrorOf("name: p\nregistered_media: {serial: s}\n"),
              HasSubstr("registered_media: expected a list of registered media, got a mapping"));
}

TEST(PolicyParserTest, EmptyOrMissingMatchIsRejected) {
  EXPECT_EQ(ErrorOf("name: p\nrules:\n  - name: r\n    match: {}\n    action: block\n"),
            "policy.yaml:4:12: rules[0].match: no condition given; a rule must match something "
            "specific");
  EXPECT_THAT(ErrorOf("name: p\nrules:\n  - name: r\n    action: block\n"),
              HasSubstr("policy.yaml:3:5: rules[0].match: required field is missing"));
  EXPECT_THAT(ErrorOf("name: p\nrules:\n  - name: r\n    match:\n    action: block\n"),
              HasSubstr("rules[0].match: required field is missing"));
  EXPECT_THAT(ErrorOf("name: p\nrules:\n  - name: r\n    match: [class]\n    action: block\n"),
              HasSubstr("rules[0].match: expected a mapping"));
}

TEST(PolicyParserTest, EmptySerialListIsRejected) {
  EXPECT_EQ(ErrorOf("name: p\nrules:\n  - name: r\n    match:\n      serial: []\n"
                    "    action: allow\n"),
            "policy.yaml:5:15: rules[0].match.serial: empty list matches nothing; remove the "
            "condition or list values");
  EXPECT_THAT(ErrorOf("name: p\nrules:\n  - name: r\n    match:\n      class: []\n"
                      "    action: allow\n"),
              HasSubstr("rules[0].match.class: empty list matches nothing"));
  EXPECT_THAT(ErrorOf("name: p\nrules:\n  - name: r\n    match:\n      serial: [a, [b]]\n"
                      "    action: allow\n"),
              HasSubstr("rules[0].match.serial[1]: expected a single value, got a list"));
}

TEST(PolicyParserTest, RegisteredMediaFalseAndReservedNameAreRejected) {
  EXPECT_THAT(ErrorOf("name: p\nrules:\n  - name: r\n    match: {registered_media: false}\n"
                      "    action: allow\n"),
              HasSubstr("rules[0].match.registered_media: only 'true' is supported"));
  EXPECT_THAT(ErrorOf("name: p\nrules:\n  - name: r\n    match: {registered_media: maybe}\n"
                      "    action: allow\n"),
              HasSubstr("rules[0].match.registered_media: expected true or false"));
  EXPECT_THAT(ErrorOf("name: p\nrules:\n  - name: default\n    match: {class: hid}\n"
                      "    action: allow\n"),
              HasSubstr("rules[0].name: 'default' is reserved"));
}

TEST(PolicyParserTest, DescriptorHashMustBeSha256Hex) {
  EXPECT_THAT(ErrorOf("name: p\nrules:\n  - name: r\n    match: {descriptor_hash: abc}\n"
                      "    action: allow\n"),
              HasSubstr("rules[0].match.descriptor_hash: expected 64 hex digits (SHA-256), "
                        "got 'abc'"));
  EXPECT_THAT(ErrorOf("name: p\nrules:\n  - name: r\n    match: {descriptor_hash: " +
                      std::string(63, 'a') + "g}\n    action: allow\n"),
              HasSubstr("expected 64 hex digits"));
}

TEST(PolicyParserTest, DuplicateKeysAndExtraDocumentsAreRejected) {
  // yaml-cpp keeps both keys; which one a lookup sees is an accident.
  EXPECT_THAT(ErrorOf("name: p\nrules:\n  - name: r\n    match: {class: hid}\n"
                      "    action: allow\n    action: block\n"),
              HasSubstr("policy.yaml:6:5: rules[0].action: duplicate key"));
  EXPECT_THAT(ErrorOf("name: p\nname: q\n"), HasSubstr("policy.yaml:2:1: name: duplicate key"));
  // A second document would otherwise be dropped without a word.
  EXPECT_THAT(ErrorOf("name: p\n---\nrules: []\n"), HasSubstr("only one YAML document is allowed"));
}

TEST(PolicyParserTest, FailureYieldsNoPartialPolicy) {
  // One bad rule among good ones still fails the whole policy.
  const auto r = ParsePolicy(
      "name: p\nrules:\n  - name: ok\n    match: {class: hid}\n    action: allow\n"
      "  - name: bad\n    match: {class: hid}\n    action: nope\n",
      "policy.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message, Not(HasSubstr("rules[0]")));
}

TEST(PolicyParserTest, OversizedDocumentIsRejectedBeforeParsing) {
  std::string yaml = "name: p\ndescription: \"";
  yaml += std::string((1u << 20), 'x');
  yaml += "\"\n";
  const std::string msg = ErrorOf(yaml);
  EXPECT_THAT(msg, HasSubstr("policy.yaml: document is"));
  EXPECT_THAT(msg, HasSubstr("the limit is 1048576"));

  // Just under the limit is fine.
  std::string fits = "name: p\ndescription: \"";
  fits += std::string((1u << 20) - 64, 'x');
  fits += "\"\n";
  EXPECT_TRUE(ParsePolicy(fits, "p.yaml").ok());
}

TEST(PolicyParserTest, TooManyRulesIsRejected) {
  auto make = [](int n) {
    std::string yaml = "name: p\nrules:\n";
    for (int i = 0; i < n; ++i) {
      yaml += "- {name: r" + std::to_string(i) + ", match: {class: hid}, action: allow}\n";
    }
    return yaml;
  };
  const auto at_limit = ParsePolicy(make(10000), "p.yaml");
  ASSERT_TRUE(at_limit.ok()) << at_limit.error().message.substr(0, 200);
  EXPECT_EQ(at_limit->rules.size(), 10000u);
  EXPECT_EQ(ErrorOf(make(10001)),
            "policy.yaml:3:1: rules: too many rules: 10001 (the limit is 10000)");
}

TEST(PolicyParserTest, TooManyMediaIsRejected) {
  // Aliases make a ledger this long fit in 1 MiB.
  std::string yaml = "name: p\nregistered_media: [&m {serial: s, vid_pid: \"0781:5581\"}";
  for (int i = 1; i < 100001; ++i) yaml += ",*m";
  yaml += "]\n";
  ASSERT_LT(yaml.size(), 1u << 20);
  EXPECT_EQ(ErrorOf(yaml),
            "policy.yaml:2:19: registered_media: too many registered media: 100001 (the limit "
            "is 100000)");
}

TEST(PolicyParserTest, AliasExpansionIsBounded) {
  // 2000 rules that each name the same 1000-serial list: two million
  // strings from 80 KiB of text, unless the parser refuses.
  std::string yaml = "name: p\nrules:\n- {name: r0, match: {serial: &s [";
  for (int i = 0; i < 1000; ++i) yaml += (i ? ",a" : "a");
  yaml += "]}, action: allow}\n";
  for (int i = 1; i < 2000; ++i) {
    yaml += "- {name: r" + std::to_string(i) + ", match: {serial: *s}, action: allow}\n";
  }
  const std::string msg = ErrorOf(yaml);
  EXPECT_THAT(msg, HasSubstr("through YAML aliases"));
  EXPECT_LE(CountLines(msg), 101);
}

TEST(PolicyParserTest, ErrorFloodIsCapped) {
  std::string yaml = "name: p\nrules:\n";
  for (int i = 0; i < 5000; ++i) yaml += "- {name: r" + std::to_string(i) + ", bogus: 1}\n";
  const std::string msg = ErrorOf(yaml);
  EXPECT_EQ(CountLines(msg), 101);
  EXPECT_THAT(msg, HasSubstr("more problems"));
}

TEST(PolicyParserTest, DeepNestingIsAnErrorNotACrash) {
  const std::string yaml = "name: p\ndescription: " + std::string(100000, '[') + "\n";
  EXPECT_THAT(ErrorOf(yaml), HasSubstr("policy.yaml"));
}

TEST(PolicyParserTest, ValuesEchoedInMessagesAreSanitized) {
  // A control character in a value must not reach a terminal through the
  // error message.
  const std::string msg = ErrorOf(
      "name: p\nrules:\n  - name: r\n    match: {vid_pid: \"\\e[31m\"}\n"
      "    action: allow\n");
  EXPECT_THAT(msg, HasSubstr("got '\\x1b[31m'"));
  EXPECT_EQ(msg.find('\x1b'), std::string::npos);
}

TEST(PolicyParserTest, BuiltinDefaultBlocksStorage) {
  const Policy p = BuiltinDefaultPolicy();
  EXPECT_EQ(p.name, "builtin-default");
  EXPECT_TRUE(p.rules.empty());
  EXPECT_TRUE(p.registered_media.empty());
  EXPECT_EQ(p.default_storage_action, Action::kBlock);
  EXPECT_EQ(p.default_other_action, Action::kAllow);
}

constexpr std::string_view kExceptionsPolicy = R"(name: with-exceptions
exceptions:
  - id: EX-12
    terminal: "t-0042"
    vid_pid: "0781:5581"
    serial: "4C530001231120115142"
    from: 2026-12-07T10:00:00Z
    until: 2026-12-07T20:00:00+09:00
    reason: 監査資料の受け渡し
  - id: EX-13
    vid_pid: "abcd:EF01"
    serial: "X1"
    from: "2026-12-07T00:00:00-01:30"
    until: 2026-12-08T00:00:00Z
)";

TEST(PolicyParserTest, ParsesExceptionsWithAbsoluteWindows) {
  const auto r = ParsePolicy(kExceptionsPolicy, "policy.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->exceptions.size(), 2u);
  const DeviceException& a = r->exceptions[0];
  EXPECT_EQ(a.id, "EX-12");
  EXPECT_EQ(a.terminal_id, "t-0042");
  EXPECT_EQ(a.vendor_id, 0x0781);
  EXPECT_EQ(a.product_id, 0x5581);
  EXPECT_EQ(a.serial, "4C530001231120115142");
  EXPECT_EQ(a.not_before_ms, 1'796'637'600'000);                  // 2026-12-07T10:00:00Z
  EXPECT_EQ(a.not_after_ms, 1'796'601'600'000 + 11 * 3'600'000);  // 20:00 JST = 11:00Z
  EXPECT_EQ(a.reason, "監査資料の受け渡し");
  const DeviceException& b = r->exceptions[1];
  EXPECT_EQ(b.terminal_id, "");  // every terminal the policy governs
  EXPECT_EQ(b.vendor_id, 0xabcd);
  EXPECT_EQ(b.product_id, 0xef01);
  EXPECT_EQ(b.not_before_ms, 1'796'601'600'000 + 5'400'000);  // 00:00-01:30 = 01:30Z
  EXPECT_EQ(b.not_after_ms, 1'796'688'000'000);
}

TEST(PolicyParserTest, BadExceptionsAreRejectedWithTheirPlace) {
  const std::string msg = ErrorOf(R"(name: p
exceptions:
  - id: "bad id"
    vid_pid: "0781"
    serial: ""
    from: 2026-12-07
    until: 2026-12-07T10:00:00
  - id: EX-2
    vid_pid: "0781:5581"
    serial: S
    from: 2026-12-07T10:00:00Z
    until: 2026-12-07T10:00:00Z
  - id: EX-2
    vid_pid: "0781:5581"
    serial: S
    from: 2026-12-01T00:00:00Z
    until: 2027-01-05T00:00:00Z
    terminal: ""
  - id: EX-4
    vid_pid: "0781:5581"
    from: 2026-12-01T00:00:00Z
    until: 2026-12-02T00:00:00Z
    hours: 3
)");
  EXPECT_THAT(msg, HasSubstr("policy.yaml:3:9: exceptions[0].id: expected 1..64 characters"));
  EXPECT_THAT(msg, HasSubstr("exceptions[0].vid_pid: expected 'vvvv:pppp'"));
  EXPECT_THAT(msg, HasSubstr("exceptions[0].serial: must not be empty"));
  EXPECT_THAT(msg, HasSubstr("exceptions[0].from: expected an instant"));
  EXPECT_THAT(msg, HasSubstr("exceptions[0].until: expected an instant"));
  EXPECT_THAT(msg, HasSubstr("exceptions[1].until: must be after from"));
  EXPECT_THAT(msg, HasSubstr("exceptions[2].id: duplicate exception id 'EX-2'"));
  EXPECT_THAT(msg, HasSubstr("exceptions[2].until: the window is longer than 31 days"));
  EXPECT_THAT(msg, HasSubstr("exceptions[2].terminal: expected a terminal id"));
  EXPECT_THAT(msg, HasSubstr("exceptions[3]"));
  EXPECT_THAT(msg, HasSubstr("hours"));
  EXPECT_THAT(msg, HasSubstr("serial"));
}

TEST(PolicyParserTest, TooManyExceptionsIsRejected) {
  std::string yaml =
      "name: p\nexceptions:\n  - &e {id: E, vid_pid: '0781:5581', serial: S, from: "
      "2026-12-07T10:00:00Z, until: 2026-12-07T11:00:00Z}\n";
  for (int i = 1; i < 10'001; ++i) yaml += "  - *e\n";
  EXPECT_THAT(ErrorOf(yaml), HasSubstr("too many exceptions: 10001 (the limit is 10000)"));
}

TEST(PolicyParserTest, LongExceptionReasonIsRejected) {
  const std::string yaml =
      "name: p\nexceptions:\n  - {id: E, vid_pid: '0781:5581', serial: S, "
      "from: 2026-12-07T10:00:00Z, until: 2026-12-07T11:00:00Z, reason: " +
      std::string(513, 'x') + "}\n";
  EXPECT_THAT(ErrorOf(yaml), HasSubstr("exceptions[0].reason: is 513 bytes; the limit is 512"));
}

}  // namespace
}  // namespace mamori
