#include "server/ctl/command_support.h"

#include <string>
#include <utility>

#include "server/ctl/ctl_config.h"
#include "server/ctl/render.h"

namespace mamori::ctl {

std::vector<OptionSpec> WithConnection(std::vector<OptionSpec> options) {
  for (OptionSpec& o : ConnectionOptionSpecs()) options.push_back(std::move(o));
  return options;
}

OptionSpec OutputOption() {
  return {"output", "FORMAT", "table (default) or json (protobuf JSON mapping)", false};
}

std::optional<bool> WantsJson(const ParsedArgs& args, const CommandContext& ctx, int* exit_code) {
  const std::string output = args.GetOr("output", "table");
  if (output == "table") return false;
  if (output == "json") return true;
  *exit_code = ctx.Usage("--output must be table or json, not \"" + output + "\"");
  return std::nullopt;
}

Result<int64_t> IntOption(const ParsedArgs& args, std::string_view name, int64_t min, int64_t max) {
  const std::optional<std::string> text = args.Get(name);
  if (!text) return int64_t{0};
  return ParseIntOption(name, *text, min, max);
}

std::unique_ptr<AdminClient> Connect(const ParsedArgs& args, const CommandContext& ctx,
                                     int* exit_code) {
  Result<ConnectionSettings> settings = ResolveConnection(args, ctx.env.config_path);
  if (!settings) {
    *exit_code = ctx.Report(settings.error());
    return nullptr;
  }
  Result<std::unique_ptr<AdminClient>> client = AdminClient::Connect(*settings, ctx.NowMs());
  if (!client) {
    *exit_code = ctx.Fail(client.error().message);
    return nullptr;
  }
  return std::move(*client);
}

int PrintJson(const google::protobuf::Message& message, const CommandContext& ctx) {
  Result<std::string> text = ToJson(message);
  if (!text) return ctx.Fail(text.error().message);
  ctx.out << *text << '\n';
  return kExitOk;
}

}  // namespace mamori::ctl
