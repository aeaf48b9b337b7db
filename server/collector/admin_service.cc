#include "server/collector/admin_service.h"

#include <algorithm>

#include "common/identity.h"
#include "common/logging.h"
#include "common/policy.h"
#include "proto/convert.h"
#include "server/collector/peer_auth.h"
#include "server/collector/policy_dry_run.h"

namespace mamori {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static const auto log = GetLogger("admin-service");
  return log;
}

// Returns true (and finishes the call) when the caller is not an admin.
bool Refuse(grpc::CallbackServerContext* ctx, grpc::ServerUnaryReactor* reactor,
            std::string_view method, AuthenticatedPeer* admin) {
  auto peer = IdentifyPeer(ctx->auth_context().get(), ctx->peer());
  grpc::Status s = RequireRole(peer, PeerRole::kAdmin);
  if (!s.ok()) {
    Log()->warn("{} from {} refused: {}", method, ctx->peer(), s.error_message());
    reactor->Finish(s);
    return true;
  }
  *admin = std::move(peer).value();
  return false;
}

void ToProto(const PolicyDryRun& run, v1::PolicyDryRun* out) {
  if (run.current) {
    out->set_current_version(run.current->stored.version);
    out->set_current_group(run.current->stored.group);
    out->set_current_inherited(run.current->inherited);
  }
  out->set_policy_name(run.new_policy_name);
  out->set_diff(run.diff.text);
  out->set_diff_whole_replacement(run.diff.whole_replacement);
  for (const DecisionChange& c : run.changes) {
    auto* change = out->add_changes();
    change->set_terminal_id(c.terminal_id);
    change->set_group(c.terminal_group);
    ToView(c.device, change->mutable_device());
    ToProto(c.old_decision, change->mutable_old_decision());
    ToProto(c.new_decision, change->mutable_new_decision());
  }
  out->set_terminals_examined(run.terminals_examined);
  out->set_devices_examined(run.devices_examined);
}

// First non-blank line of a policy document, cut to at most `max_bytes` on
// a UTF-8 character boundary (the document is valid UTF-8: it arrived as a
// protobuf string).
std::string FirstLine(std::string_view yaml, std::size_t max_bytes) {
  while (!yaml.empty()) {
    const std::size_t nl = yaml.find('\n');
    std::string_view line = yaml.substr(0, nl);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (!line.empty()) {
      if (line.size() > max_bytes) {
        std::size_t cut = max_bytes;
        while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
        line = line.substr(0, cut);
      }
      return std::string(line);
    }
    if (nl == std::string_view::npos) break;
    yaml.remove_prefix(nl + 1);
  }
  return "";
}

}  // namespace

AdminServiceImpl::AdminServiceImpl(Store* store, PolicyHub* hub, const Clock* clock,
                                   ComplianceConfig config, web::AuthService* auth)
    : store_(store), hub_(hub), clock_(clock), queries_(store, hub, clock, config), auth_(auth) {}

grpc::ServerUnaryReactor* AdminServiceImpl::ListTerminals(grpc::CallbackServerContext* ctx,
                                                          const v1::ListTerminalsRequest* request,
                                                          v1::ListTerminalsResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer admin;
  if (Refuse(ctx, reactor, "ListTerminals", &admin)) return reactor;
  Status s = queries_.ListTerminals(*request, response);
  reactor->Finish(s.ok() ? grpc::Status::OK : ToGrpcStatus(s.error()));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetTerminal(grpc::CallbackServerContext* ctx,
                                                        const v1::GetTerminalRequest* request,
                                                        v1::TerminalDetail* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer admin;
  if (Refuse(ctx, reactor, "GetTerminal", &admin)) return reactor;
  Status s = queries_.GetTerminal(*request, response);
  reactor->Finish(s.ok() ? grpc::Status::OK : ToGrpcStatus(s.error()));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::GroupSummaries(grpc::CallbackServerContext* ctx,
                                                           const v1::GroupSummariesRequest* request,
                                                           v1::GroupSummariesResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer admin;
  if (Refuse(ctx, reactor, "GroupSummaries", &admin)) return reactor;
  Status s = queries_.GroupSummaries(*request, response);
  reactor->Finish(s.ok() ? grpc::Status::OK : ToGrpcStatus(s.error()));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::QueryEvents(grpc::CallbackServerContext* ctx,
                                                        const v1::QueryEventsRequest* request,
                                                        v1::QueryEventsResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer admin;
  if (Refuse(ctx, reactor, "QueryEvents", &admin)) return reactor;
  EventQuery q;
  q.terminal_id = request->terminal_id();
  q.group = request->group();
  for (int k : request->kinds()) q.kinds.push_back(FromProto(static_cast<v1::EventKind>(k)));
  if (request->has_since()) q.since_ms = ToMs(request->since());
  if (request->has_until()) q.until_ms = ToMs(request->until());
  q.limit = request->limit() == 0 ? 100 : std::min<uint32_t>(request->limit(), 10000);
  auto events = store_->QueryEvents(q);
  if (!events.ok()) {
    reactor->Finish(ToGrpcStatus(events.error()));
    return reactor;
  }
  for (const auto& e : *events) ToView(e, response->add_events());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetPolicy(grpc::CallbackServerContext* ctx,
                                                      const v1::GetPolicyRequest* request,
                                                      v1::GetPolicyResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer admin;
  if (Refuse(ctx, reactor, "GetPolicy", &admin)) return reactor;
  std::optional<StoredPolicy> stored;
  bool inherited = false;
  if (request->version() != 0) {
    auto r = store_->GetPolicy(request->group(), request->version());
    if (!r.ok()) {
      reactor->Finish(ToGrpcStatus(r.error()));
      return reactor;
    }
    if (!r->has_value()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                   "group '" + request->group() + "' has no policy version " +
                                       std::to_string(request->version())));
      return reactor;
    }
    stored = **r;
  } else if (auto r = hub_->Resolve(request->group())) {
    stored = r->stored;
    inherited = r->inherited;
  }
  if (stored) {
    auto* b = response->mutable_bundle();
    b->set_version(stored->version);
    b->set_group(stored->group);
    b->set_policy_yaml(stored->yaml);
    b->set_applied_by(stored->applied_by);
    SetMs(stored->applied_at_ms, b->mutable_applied_at());
    response->set_inherited(inherited);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ApplyPolicy(grpc::CallbackServerContext* ctx,
                                                        const v1::ApplyPolicyRequest* request,
                                                        v1::ApplyPolicyResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer admin;
  if (Refuse(ctx, reactor, "ApplyPolicy", &admin)) return reactor;
  const std::string by = FormatIdentityUri(admin.identity.role, admin.identity.id);
  if (request->dry_run()) {
    auto run = DryRunPolicy(*hub_, *store_, request->group(), request->policy_yaml(),
                            request->source_name(), clock_->NowMs());
    if (!run.ok()) {
      Log()->info("ApplyPolicy dry run by {} for group '{}' refused: {}", by, request->group(),
                  run.error().message);
      reactor->Finish(ToGrpcStatus(run.error()));
      return reactor;
    }
    Log()->info("ApplyPolicy dry run by {} for group '{}': {} device(s) would change decision", by,
                request->group(), run->changes.size());
    ToProto(*run, response->mutable_dry_run());
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  auto stored = hub_->Apply(request->group(), request->policy_yaml(), request->source_name(), by);
  if (!stored.ok()) {
    Log()->warn("ApplyPolicy by {} to group '{}' refused: {}", by, request->group(),
                stored.error().message);
    reactor->Finish(ToGrpcStatus(stored.error()));
    return reactor;
  }
  response->set_version(stored->version);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::PolicyHistory(grpc::CallbackServerContext* ctx,
                                                          const v1::PolicyHistoryRequest* request,
                                                          v1::PolicyHistoryResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer admin;
  if (Refuse(ctx, reactor, "PolicyHistory", &admin)) return reactor;
  if (!IsValidGroup(request->group())) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "invalid group '" + request->group() + "'"));
    return reactor;
  }
  const uint32_t limit = request->limit() == 0 ? 50 : std::min<uint32_t>(request->limit(), 1000);
  auto versions = store_->RecentPolicyVersions(request->group(), limit);
  if (!versions.ok()) {
    reactor->Finish(ToGrpcStatus(versions.error()));
    return reactor;
  }
  for (const StoredPolicy& p : *versions) {
    auto* e = response->add_entries();
    e->set_version(p.version);
    e->set_group(p.group);
    e->set_applied_by(p.applied_by);
    SetMs(p.applied_at_ms, e->mutable_applied_at());
    // Every stored version passed validation; a name only fails to come out
    // of a tampered store, and the history is still worth showing then.
    if (auto parsed = ParsePolicy(p.yaml, "stored policy"); parsed.ok()) {
      e->set_policy_name(parsed->name);
    }
    e->set_yaml_bytes(p.yaml.size());
    e->set_first_line(FirstLine(p.yaml, 120));
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

namespace {

void ToProto(const web::NewCredentials& creds, v1::UserCredentials* out) {
  out->set_name(creds.name);
  out->set_role(std::string(web::RoleName(creds.role)));
  out->set_password(creds.password);
  out->set_otpauth_uri(creds.otpauth_uri);
}

}  // namespace

grpc::ServerUnaryReactor* AdminServiceImpl::AddUser(grpc::CallbackServerContext* ctx,
                                                    const v1::AddUserRequest* request,
                                                    v1::UserCredentials* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer admin;
  if (Refuse(ctx, reactor, "AddUser", &admin)) return reactor;
  const std::string by = FormatIdentityUri(admin.identity.role, admin.identity.id);
  const std::optional<web::Role> role = web::ParseRole(request->role());
  if (!role) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                     "role must be viewer, operator or admin, not '" + request->role() + "'"));
    return reactor;
  }
  auto creds = auth_->AddUser(request->name(), *role);
  if (!creds.ok()) {
    Log()->warn("AddUser '{}' by {} refused: {}", request->name(), by, creds.error().message);
    reactor->Finish(ToGrpcStatus(creds.error()));
    return reactor;
  }
  Log()->info("dashboard user '{}' ({}) added by {}", creds->name, web::RoleName(creds->role), by);
  ToProto(*creds, response);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ResetUser(grpc::CallbackServerContext* ctx,
                                                      const v1::ResetUserRequest* request,
                                                      v1::UserCredentials* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer admin;
  if (Refuse(ctx, reactor, "ResetUser", &admin)) return reactor;
  const std::string by = FormatIdentityUri(admin.identity.role, admin.identity.id);
  auto creds = auth_->ResetUser(request->name());
  if (!creds.ok()) {
    reactor->Finish(ToGrpcStatus(creds.error()));
    return reactor;
  }
  Log()->info("dashboard user '{}' reset (new password and TOTP secret) by {}", creds->name, by);
  ToProto(*creds, response);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::DisableUser(grpc::CallbackServerContext* ctx,
                                                        const v1::DisableUserRequest* request,
                                                        v1::DisableUserResponse* /*response*/) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer admin;
  if (Refuse(ctx, reactor, "DisableUser", &admin)) return reactor;
  const std::string by = FormatIdentityUri(admin.identity.role, admin.identity.id);
  if (Status s = auth_->DisableUser(request->name()); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s.error()));
    return reactor;
  }
  Log()->info("dashboard user '{}' disabled by {}", request->name(), by);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace mamori
