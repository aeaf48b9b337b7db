#include "common/base/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "common/base/utf8.h"

namespace mamori {
namespace {

constexpr std::string_view kDefaultLoggerName = "mamori";
constexpr std::string_view kAllowedLevels = "trace, debug, info, warn, error, critical, off";

constexpr char kHex[] = "0123456789abcdef";

// Works on std::string and on spdlog's memory buffer alike.
template <typename Out>
void AppendRaw(Out& out, std::string_view s) {
  out.append(s.data(), s.data() + s.size());
}

template <typename Out>
void AppendJsonEscaped(Out& out, std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const Utf8Char c = DecodeUtf8At(s, i);
    const std::string_view bytes = s.substr(i, c.length);
    i += c.length;
    if (!c.valid) {
      AppendRaw(out, "\\ufffd");
      continue;
    }
    switch (c.code_point) {
      case '"':
        AppendRaw(out, "\\\"");
        continue;
      case '\\':
        AppendRaw(out, "\\\\");
        continue;
      case '\b':
        AppendRaw(out, "\\b");
        continue;
      case '\f':
        AppendRaw(out, "\\f");
        continue;
      case '\n':
        AppendRaw(out, "\\n");
        continue;
      case '\r':
        AppendRaw(out, "\\r");
        continue;
      case '\t':
        AppendRaw(out, "\\t");
        continue;
      // Legal in JSON but line terminators in JavaScript, where these lines
      // may end up embedded.
      case 0x2028:
        AppendRaw(out, "\\u2028");
        continue;
      case 0x2029:
        AppendRaw(out, "\\u2029");
        continue;
      default:
        break;
    }
    // RFC 8259 requires only < 0x20; DEL and C1 are escaped too so a line
    // printed to a terminal cannot carry control sequences.
    if (c.code_point < 0x20 || (c.code_point >= 0x7F && c.code_point <= 0x9F)) {
      const char esc[6] = {
          '\\', 'u', '0', '0', kHex[(c.code_point >> 4) & 0xF], kHex[c.code_point & 0xF]};
      AppendRaw(out, std::string_view(esc, sizeof esc));
      continue;
    }
    AppendRaw(out, bytes);
  }
}

// %j: the message as the inside of a JSON string.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    AppendJsonEscaped(dest, std::string_view(msg.payload.data(), msg.payload.size()));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

// %k: the logger name as the inside of a JSON string.
class JsonLoggerNameFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    AppendJsonEscaped(dest, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonLoggerNameFlag>();
  }
};

// %q: the message for text logs. A message that embeds a device string with a
// newline must not be able to forge a second log line, nor a terminal escape
// sequence, so C0 (except tab), DEL and C1 become visible escapes.
class TextMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string_view s(msg.payload.data(), msg.payload.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
      const auto b = static_cast<unsigned char>(s[i]);
      unsigned code = 0x100;  // none
      std::size_t skip = 0;
      if ((b < 0x20 && b != '\t') || b == 0x7F) {
        code = b;
      } else if (b == 0xC2 && i + 1 < s.size()) {
        const auto b1 = static_cast<unsigned char>(s[i + 1]);
        if (b1 >= 0x80 && b1 <= 0x9F) {
          code = b1;
          skip = 1;
        }
      }
      if (code == 0x100) {
        dest.push_back(s[i]);
      } else if (code == '\n') {
        AppendRaw(dest, "\\n");
      } else if (code == '\r') {
        AppendRaw(dest, "\\r");
      } else {
        const char esc[4] = {'\\', 'x', kHex[code >> 4], kHex[code & 0xF]};
        AppendRaw(dest, std::string_view(esc, sizeof esc));
      }
      i += skip;
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<TextMessageFlag>();
  }
};

std::unique_ptr<spdlog::formatter> MakeFormatter(std::string_view format) {
  auto f = std::make_unique<spdlog::pattern_formatter>();
  f->add_flag<JsonMessageFlag>('j').add_flag<JsonLoggerNameFlag>('k').add_flag<TextMessageFlag>(
      'q');
  if (format == "json") {
    f->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","logger":"%k","msg":"%j"})");
  } else if (format == "event") {
    f->set_pattern("%l [%n] %q");
  } else {
    f->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l [%n] %q");
  }
  return f;
}

std::optional<spdlog::level::level_enum> ParseLevel(std::string_view s) {
  static constexpr std::array<std::pair<std::string_view, spdlog::level::level_enum>, 7> kLevels = {
      {{"trace", spdlog::level::trace},
       {"debug", spdlog::level::debug},
       {"info", spdlog::level::info},
       {"warn", spdlog::level::warn},
       {"error", spdlog::level::err},
       {"critical", spdlog::level::critical},
       {"off", spdlog::level::off}}};
  for (const auto& [name, level] : kLevels) {
    if (name == s) return level;
  }
  return std::nullopt;
}

}  // namespace

bool IsLogLevel(std::string_view level) { return ParseLevel(level).has_value(); }

Status CheckLogLevel(std::string_view level) {
  if (IsLogLevel(level)) return Status::Ok();
  return MakeError(ErrorCode::kInvalidArgument, "unknown level '" + std::string(level) +
                                                    "' (expected " + std::string(kLogLevels) + ")");
}

namespace {

// Every logger shares one distributing sink; SetupLogging swaps what is
// behind it. Replacing each logger's sink vector instead would race with
// threads that are logging, since spdlog does not lock that vector.
class LoggingState {
 public:
  LoggingState() : dist_(std::make_shared<spdlog::sinks::dist_sink_mt>()) {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    sink->set_formatter(MakeFormatter("text"));
    dist_->set_sinks({std::move(sink)});
  }

  std::shared_ptr<spdlog::logger> Get(std::string_view name) {
    std::lock_guard lock(mu_);
    return GetLocked(name);
  }

  void Configure(std::vector<spdlog::sink_ptr> sinks, spdlog::level::level_enum level) {
    std::lock_guard lock(mu_);
    dist_->set_sinks(std::move(sinks));
    level_ = level;
    // Also covers loggers registered with spdlog directly.
    spdlog::set_level(level);
    spdlog::set_default_logger(GetLocked(kDefaultLoggerName));
  }

 private:
  std::shared_ptr<spdlog::logger> GetLocked(std::string_view name) {
    const std::string key(name);
    if (auto existing = spdlog::get(key)) return existing;
    auto logger = std::make_shared<spdlog::logger>(key, dist_);
    logger->set_level(level_);
    // Warnings and errors reach the file at once; the rest is flushed by the
    // periodic flusher set up in SetupLogging.
    logger->flush_on(spdlog::level::warn);
    try {
      spdlog::register_logger(logger);
    } catch (const spdlog::spdlog_ex&) {
      // Registered behind our back between get() and now.
      if (auto existing = spdlog::get(key)) return existing;
    }
    return logger;
  }

  std::mutex mu_;
  std::shared_ptr<spdlog::sinks::dist_sink_mt> dist_;
  spdlog::level::level_enum level_ = spdlog::level::info;
};

LoggingState& State() {
  static LoggingState state;
  return state;
}

}  // namespace

Status SetupLogging(const LogConfig& config) {
  const auto level = ParseLevel(config.level);
  if (!level) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "unknown log level '" + JsonEscape(config.level) +
                         "' (expected one of: " + std::string(kAllowedLevels) + ")");
  }
  if (config.format != "text" && config.format != "json") {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "unknown log format '" + JsonEscape(config.format) + "' (expected one of: text, json)");
  }
  spdlog::sink_ptr sink;
  if (config.file.empty()) {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    try {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(config.file,
                                                                 /*truncate=*/false);
    } catch (const spdlog::spdlog_ex& e) {
      return MakeError(ErrorCode::kIo,
                       "cannot open log file '" + config.file + "': " + std::string(e.what()));
    }
  }
  sink->set_formatter(MakeFormatter(config.format));
  State().Configure({std::move(sink)}, *level);
  if (!config.file.empty()) spdlog::flush_every(std::chrono::seconds(1));
  return Status::Ok();
}

Status SetupLoggingSinks(std::string_view level, std::vector<spdlog::sink_ptr> sinks) {
  const auto parsed = ParseLevel(level);
  if (!parsed) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "unknown log level '" + JsonEscape(level) +
                         "' (expected one of: " + std::string(kAllowedLevels) + ")");
  }
  State().Configure(std::move(sinks), *parsed);
  spdlog::flush_every(std::chrono::seconds(1));
  return Status::Ok();
}

std::unique_ptr<spdlog::formatter> MakeLogFormatter(std::string_view format) {
  return MakeFormatter(format);
}

std::shared_ptr<spdlog::logger> GetLogger(std::string_view name) { return State().Get(name); }

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  AppendJsonEscaped(out, s);
  return out;
}

}  // namespace mamori
