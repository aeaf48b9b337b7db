// Deterministic mutation fuzzing of the policy parser, run with the unit
// tests (and under ASan/UBSan in the sanitizer build). A coverage-guided
// libFuzzer target can reuse the same property: ParsePolicy returns a
// policy or an error for any bytes, and never crashes or throws.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/policy/policy.h"
#include "common/policy/policy_parser.h"
#include "common/policy/rule_engine.h"

namespace mamori {
namespace {

constexpr int kIterations = 20'000;

std::string ReadExample(std::string_view name) {
  const auto root = std::filesystem::path(MAMORI_SOURCE_DIR);
  std::ifstream in(root / "examples" / "policies" / name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Exercises every condition, so mutations reach every branch of the parser.
constexpr std::string_view kAllFeatures = R"(name: all-features
description: "全機能"
defaults: {storage: read_only, other: block}
registered_media:
  - {serial: "S1", vid_pid: "0781:5581", owner: 山田, department: 保険課, expires: 2027-03-31}
  - &m {serial: S2, vid_pid: "0951:1666"}
  - *m
rules:
  - name: r1
    match:
      vid_pid: "0951:1666"
      serial: [AA01, AA02]
      class: [mass_storage, hid]
      manufacturer: Kingston
      product: DataTraveler
      bus_path: "1-2"
      descriptor_hash: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
    action: read_only
  - name: r2
    match: {vendor_id: "04f9", product_id: "0001", registered_media: true}
    action: allow
)";

// Pieces of YAML syntax: most interesting inputs are almost-valid YAML.
constexpr std::array<std::string_view, 30> kPunctuation = {
    ":",  "-",     "- ",      "[",           "]", "{", "}",  ",",    "&a ",
    "*a", "!",     "!!str ",  "|",           ">", "'", "\"", "#",    "\n",
    "  ", "---\n", "? ",      "%YAML 1.2\n", "@", "`", "\t", "\xff", std::string_view("\0", 1),
    "\\", "~",     "<<: *a\n"};

class Mutator {
 public:
  explicit Mutator(uint32_t seed) : rng_(seed) {}

  // A value in [0, n); plain modulo keeps the sequence identical across
  // standard libraries, unlike std::uniform_int_distribution.
  std::size_t Below(std::size_t n) { return n == 0 ? 0 : rng_() % n; }

  void Mutate(std::string& s) {
    switch (Below(6)) {
      case 0:  // flip a bit
        if (!s.empty()) s[Below(s.size())] ^= static_cast<char>(1u << Below(8));
        break;
      case 1:  // truncate
        s.resize(Below(s.size() + 1));
        break;
      case 2:  // insert punctuation
        s.insert(Below(s.size() + 1), kPunctuation[Below(kPunctuation.size())]);
        break;
      case 3: {  // delete a range
        const std::size_t at = Below(s.size() + 1);
        s.erase(at, Below(16));
        break;
      }
      case 4: {  // duplicate a range elsewhere (repeats keys, rules, entries)
        if (s.empty()) break;
        const std::size_t from = Below(s.size());
        const std::string piece = s.substr(from, Below(80));
        s.insert(Below(s.size() + 1), piece);
        break;
      }
      default:  // overwrite a byte with something arbitrary
        if (!s.empty()) s[Below(s.size())] = static_cast<char>(Below(256));
        break;
    }
  }

 private:
  std::mt19937 rng_;
};

TEST(PolicyFuzzTest, MutatedPoliciesParseOrFailCleanly) {
  const std::vector<std::string> seeds = {ReadExample("default.yaml"), ReadExample("strict.yaml"),
                                          std::string(kAllFeatures)};
  for (const auto& seed : seeds) {
    ASSERT_FALSE(seed.empty());
    const auto r = ParsePolicy(seed, "seed.yaml");
    ASSERT_TRUE(r.ok()) << r.error().message;
  }

  DeviceIdentity stick;
  stick.vendor_id = 0x0951;
  stick.product_id = 0x1666;
  stick.serial = "AA01";
  stick.interface_classes = {DeviceClass::kMassStorage};

  Mutator mutator(20261122);
  int parsed = 0;
  int rejected = 0;
  for (int i = 0; i < kIterations; ++i) {
    std::string doc = seeds[mutator.Below(seeds.size())];
    const std::size_t mutations = 1 + mutator.Below(4);
    for (std::size_t k = 0; k < mutations; ++k) mutator.Mutate(doc);

    std::optional<Result<Policy>> result;
    ASSERT_NO_THROW(result.emplace(ParsePolicy(doc, "fuzz.yaml"))) << "iteration " << i;
    if (result->ok()) {
      ++parsed;
      const Policy& p = **result;
      // Whatever parsed is a well-formed policy.
      ASSERT_FALSE(p.name.empty()) << "iteration " << i;
      for (const Rule& rule : p.rules) {
        ASSERT_FALSE(rule.name.empty()) << "iteration " << i;
        ASSERT_NE(rule.action, Action::kUnspecified) << "iteration " << i;
      }
      const Decision d = Evaluate(p, stick, 1'800'000'000'000);
      ASSERT_NE(d.action, Action::kUnspecified) << "iteration " << i;
      ASSERT_FALSE(d.matched_rule.empty()) << "iteration " << i;
    } else {
      ++rejected;
      const Error& e = result->error();
      ASSERT_EQ(e.code, ErrorCode::kInvalidArgument) << "iteration " << i;
      ASSERT_TRUE(e.message.starts_with("fuzz.yaml")) << "iteration " << i << ": " << e.message;
    }
  }
  // Both outcomes must be reached, or the mutations are too weak or too wild
  // to say anything.
  EXPECT_GT(parsed, kIterations / 50);
  EXPECT_GT(rejected, kIterations / 50);
}

}  // namespace
}  // namespace mamori
