#include "common/base/logging.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using ::testing::HasSubstr;

// A strict parser for the one shape our JSON lines have: an object whose
// values are all strings. Written independently of JsonEscape so it can
// catch it out. Returns nullopt on anything that is not valid JSON.
class FlatJson {
 public:
  static std::optional<std::map<std::string, std::string>> Parse(std::string_view s) {
    FlatJson p(s);
    std::map<std::string, std::string> out;
    if (!p.Eat('{')) return std::nullopt;
    if (!p.Eat('}')) {
      do {
        auto key = p.String();
        if (!key || !p.Eat(':')) return std::nullopt;
        auto value = p.String();
        if (!value || out.count(*key)) return std::nullopt;
        out[*key] = *value;
      } while (p.Eat(','));
      if (!p.Eat('}')) return std::nullopt;
    }
    if (p.i_ != s.size()) return std::nullopt;
    return out;
  }

 private:
  explicit FlatJson(std::string_view s) : s_(s) {}

  bool Eat(char c) {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }

  std::optional<unsigned> Hex4() {
    if (i_ + 4 > s_.size()) return std::nullopt;
    unsigned v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<unsigned>(c - 'A' + 10);
      } else {
        return std::nullopt;
      }
    }
    return v;
  }

  static void PutUtf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::optional<std::string> String() {
    if (!Eat('"')) return std::nullopt;
    std::string out;
    while (i_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[i_++]);
      if (c == '"') return out;
      if (c < 0x20) return std::nullopt;  // raw control characters are invalid
      if (c >= 0x80) {
        // Multi-byte UTF-8: check the shape, copy the bytes.
        const int n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 ? 1 : -1;
        if (n < 0 || c > 0xF4 || i_ + static_cast<std::size_t>(n) > s_.size()) {
          return std::nullopt;
        }
        out += static_cast<char>(c);
        for (int k = 0; k < n; ++k) {
          const auto cc = static_cast<unsigned char>(s_[i_++]);
          if ((cc & 0xC0) != 0x80) return std::nullopt;
          out += static_cast<char>(cc);
        }
        continue;
      }
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (i_ >= s_.size()) return std::nullopt;
      switch (s_[i_++]) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          auto cp = Hex4();
          if (!cp || (*cp >= 0xD800 && *cp <= 0xDFFF)) return std::nullopt;
          PutUtf8(out, *cp);
          break;
        }
        default:
          return std::nullopt;
      }
    }
    return std::nullopt;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class LoggingTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // Back to stderr so no later test writes into a removed directory.
    EXPECT_TRUE(SetupLogging(LogConfig{}).ok());
  }

  testing::TempDir dir_;
};

TEST(JsonEscapeTest, EscapesPerRfc8259) {
  EXPECT_EQ(JsonEscape("plain"), "plain");
  EXPECT_EQ(JsonEscape("say \"hi\" \\ bye"), "say \\\"hi\\\" \\\\ bye");
  EXPECT_EQ(JsonEscape("a\nb\rc\td\be\ff"), "a\\nb\\rc\\td\\be\\ff");
  EXPECT_EQ(JsonEscape(std::string_view("\0\x01\x1f", 3)), "\\u0000\\u0001\\u001f");
  EXPECT_EQ(JsonEscape("\x7f\xC2\x9B"), "\\u007f\\u009b");
  EXPECT_EQ(JsonEscape("保険課 \xF0\x9F\x98\x80"), "保険課 \xF0\x9F\x98\x80");
  EXPECT_EQ(JsonEscape("</script>"), "</script>");
  EXPECT_EQ(JsonEscape("\xE2\x80\xA8"), "\\u2028");
}

TEST(JsonEscapeTest, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(JsonEscape("a\xFF!"), "a\\ufffd!");
  EXPECT_EQ(JsonEscape("\xC0\xAF"), "\\ufffd\\ufffd");
  EXPECT_EQ(JsonEscape("\xE3\x81"), "\\ufffd");
  EXPECT_EQ(JsonEscape("\xED\xA0\x80"), "\\ufffd\\ufffd\\ufffd");
}

TEST(JsonEscapeTest, OutputAlwaysParses) {
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes += static_cast<char>(b);
  for (std::string_view s : {std::string_view(all_bytes), std::string_view("\"\\\n")}) {
    const auto parsed = FlatJson::Parse("{\"k\":\"" + JsonEscape(s) + "\"}");
    ASSERT_TRUE(parsed.has_value()) << JsonEscape(s);
  }
}

TEST_F(LoggingTest, JsonLinesParseAndCarryTheMessage) {
  static constexpr char kControls[] = "nul \0 esc \x1b[31m bell \x07 del \x7f c1 \xC2\x9B";
  auto before = GetLogger("before-setup");
  const std::string path = dir_.File("mamori.log");
  ASSERT_TRUE(SetupLogging({.level = "info", .format = "json", .file = path}).ok());
  auto after = GetLogger("store");

  const std::vector<std::string> messages = {
      "plain message",
      "quotes \" and backslash \\ and {braces}",
      "line one\nline two\r\n",
      std::string(kControls, sizeof kControls - 1),
      "保険課 山田太郎 のUSBメモリ",
      "%v %n {} {0}",
  };
  for (const auto& m : messages) before->info("{}", m);
  for (const auto& m : messages) after->warn("{}", m);
  before->debug("filtered out at info");
  before->flush();
  after->flush();

  const auto lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 2 * messages.size());
  const std::regex time_re(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d)");
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto obj = FlatJson::Parse(lines[i]);
    ASSERT_TRUE(obj.has_value()) << "line " << i << ": " << lines[i];
    ASSERT_EQ(obj->size(), 4u) << lines[i];
    EXPECT_TRUE(std::regex_match(obj->at("time"), time_re)) << obj->at("time");
    const bool first_half = i < messages.size();
    EXPECT_EQ(obj->at("level"), first_half ? "info" : "warning");
    EXPECT_EQ(obj->at("logger"), first_half ? "before-setup" : "store");
    EXPECT_EQ(obj->at("msg"), messages[i % messages.size()]);
  }
}

TEST_F(LoggingTest, TextFormatAndInjectedNewlines) {
  const std::string path = dir_.File("text.log");
  ASSERT_TRUE(SetupLogging({.level = "debug", .format = "text", .file = path}).ok());
  auto log = GetLogger("store");
  log->info("opened database");
  log->debug("device said \"{}\"", "evil\n2026-01-01T00:00:00.000+09:00 info [auth] admin ok");
  log->flush();

  const auto lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 2u);
  const std::regex line_re(
      R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d info \[store\] opened database)");
  EXPECT_TRUE(std::regex_match(lines[0], line_re)) << lines[0];
  // The forged second line stays inside the first one, visibly escaped.
  EXPECT_THAT(lines[1], HasSubstr(" debug [store] device said \"evil\\n2026-01-01T"));
}

TEST_F(LoggingTest, LevelAppliesToExistingAndNewLoggers) {
  auto early = GetLogger("early");
  const std::string path = dir_.File("level.log");
  ASSERT_TRUE(SetupLogging({.level = "warn", .format = "json", .file = path}).ok());
  auto late = GetLogger("late");
  EXPECT_EQ(early->level(), spdlog::level::warn);
  EXPECT_EQ(late->level(), spdlog::level::warn);
  early->info("hidden");
  late->info("hidden");
  early->error("shown early");
  late->critical("shown late");
  early->flush();
  late->flush();
  const auto lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], HasSubstr("\"msg\":\"shown early\""));
  EXPECT_THAT(lines[1], HasSubstr("\"level\":\"critical\""));

  // The same name always yields the same logger.
  EXPECT_EQ(GetLogger("early").get(), early.get());

  ASSERT_TRUE(SetupLogging({.level = "off", .format = "json", .file = path}).ok());
  early->critical("silenced");
  early->flush();
  EXPECT_EQ(ReadLines(path).size(), 2u);
}

TEST_F(LoggingTest, DefaultLoggerFollowsTheConfiguration) {
  const std::string path = dir_.File("default.log");
  ASSERT_TRUE(SetupLogging({.level = "info", .format = "json", .file = path}).ok());
  spdlog::info("via the default logger");
  spdlog::default_logger()->flush();
  const auto lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("\"logger\":\"mamori\""));
}

TEST_F(LoggingTest, AppendsToAnExistingFile) {
  const std::string path = dir_.Write("append.log", "kept from before\n");
  ASSERT_TRUE(SetupLogging({.level = "info", .format = "text", .file = path}).ok());
  auto log = GetLogger("append");
  log->info("first run");
  log->flush();
  ASSERT_TRUE(SetupLogging({.level = "info", .format = "text", .file = path}).ok());
  log->info("second run");
  log->flush();
  const auto lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "kept from before");
  EXPECT_THAT(lines[1], HasSubstr("first run"));
  EXPECT_THAT(lines[2], HasSubstr("second run"));
}

TEST_F(LoggingTest, RejectsBadConfiguration) {
  const Status bad_level = SetupLogging({.level = "verbose", .format = "text", .file = ""});
  ASSERT_FALSE(bad_level.ok());
  EXPECT_EQ(bad_level.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(bad_level.error().message, HasSubstr("'verbose'"));
  EXPECT_THAT(bad_level.error().message,
              HasSubstr("trace, debug, info, warn, error, critical, off"));

  const Status bad_format = SetupLogging({.level = "info", .format = "xml", .file = ""});
  ASSERT_FALSE(bad_format.ok());
  EXPECT_THAT(bad_format.error().message, HasSubstr("'xml'"));
  EXPECT_THAT(bad_format.error().message, HasSubstr("text, json"));

  // A directory cannot be opened as a log file.
  const Status bad_file = SetupLogging({.level = "info", .format = "text", .file = dir_.path()});
  ASSERT_FALSE(bad_file.ok());
  EXPECT_EQ(bad_file.error().code, ErrorCode::kIo);
  EXPECT_THAT(bad_file.error().message, HasSubstr(dir_.path()));
}

TEST_F(LoggingTest, ConcurrentLoggingAndReconfiguration) {
  const std::string a = dir_.File("a.log");
  const std::string b = dir_.File("b.log");
  ASSERT_TRUE(SetupLogging({.level = "info", .format = "json", .file = a}).ok());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([t] {
        auto log = GetLogger("worker-" + std::to_string(t));
        for (int i = 0; i < kPerThread; ++i) log->info("thread {} line {} \"q\"\n", t, i);
      });
    }
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(SetupLogging({.level = "info", .format = "json", .file = i % 2 ? a : b}).ok());
    }
  }
  for (int t = 0; t < kThreads; ++t) GetLogger("worker-" + std::to_string(t))->flush();
  ASSERT_TRUE(SetupLogging(LogConfig{}).ok());  // closes both files

  // Every line went to exactly one of the files, whole.
  std::size_t total = 0;
  for (const auto& path : {a, b}) {
    for (const auto& line : ReadLines(path)) {
      ASSERT_TRUE(FlatJson::Parse(line).has_value()) << line;
      ++total;
    }
  }
  EXPECT_EQ(total, static_cast<std::size_t>(kThreads * kPerThread));
}

}  // namespace
}  // namespace mamori
