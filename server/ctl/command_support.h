#pragma once

// What the commands that talk to the collector's AdminService have in
// common: connection options, --output, integer options and one call.

#include <google/protobuf/message.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "server/ctl/admin_client.h"
#include "server/ctl/args.h"
#include "server/ctl/command.h"

namespace mamori::ctl {

// The paragraph of --help that says where connection settings come from.
inline constexpr std::string_view kConnectionHelp =
    "Connection settings come from --config FILE (or $MAMORICTL_CONFIG); flags\n"
    "override the file:\n"
    "  collector: {address: HOST:PORT, server_name: NAME}\n"
    "  tls: {ca_file: FILE, cert_file: FILE, key_file: FILE}\n";

// `options` followed by the connection options.
std::vector<OptionSpec> WithConnection(std::vector<OptionSpec> options);

// --output FORMAT.
OptionSpec OutputOption();

// Parses --output: true for json, false for table; nullopt after reporting a
// usage error into *exit_code.
std::optional<bool> WantsJson(const ParsedArgs& args, const CommandContext& ctx, int* exit_code);

// The optional integer option --`name` within [min, max]; 0 when it is absent,
// which AdminService requests read as "the collector's default".
Result<int64_t> IntOption(const ParsedArgs& args, std::string_view name, int64_t min, int64_t max);

// A client for the collector the connection options name; null after
// reporting why not into *exit_code.
std::unique_ptr<AdminClient> Connect(const ParsedArgs& args, const CommandContext& ctx,
                                     int* exit_code);

// Connects and makes one AdminService call; kExitOk, or the exit code after
// reporting why it failed.
template <typename Request, typename Response>
int CallCollector(const ParsedArgs& args, const CommandContext& ctx,
                  Status (AdminClient::*method)(const Request&, Response*), const Request& request,
                  Response* response) {
  int rc = kExitOk;
  std::unique_ptr<AdminClient> client = Connect(args, ctx, &rc);
  if (!client) return rc;
  if (Status s = (client.get()->*method)(request, response); !s) return ctx.Fail(s.error().message);
  return kExitOk;
}

// Prints `message` in protobuf's JSON mapping.
int PrintJson(const google::protobuf::Message& message, const CommandContext& ctx);

// Prints `response` as JSON or through `render`.
template <typename Message, typename Render>
int Print(const Message& response, bool json, const CommandContext& ctx, Render render) {
  if (json) return PrintJson(response, ctx);
  render(response, ctx.out);
  return kExitOk;
}

}  // namespace mamori::ctl
