#include "server/web/api_users.h"

#include <google/protobuf/util/json_util.h>

#include <boost/beast/http/field.hpp>

#include "mamori/v1/admin.pb.h"
#include "proto/wire/convert.h"
#include "server/accounts/qr_code.h"

namespace mamori::web {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view kUsers = "/api/users";

// The JSON body as `message`; unknown fields are refused so a typo does not
// silently create a viewer.
std::optional<HttpResponse> ParseBody(const ApiCall& call, google::protobuf::Message* message) {
  const auto type = call.request.find(http::field::content_type);
  if (type == call.request.end() || !Sv(type->value()).starts_with("application/json")) {
    return JsonError(call.request, http::status::unsupported_media_type,
                     "expected Content-Type: application/json");
  }
  if (!google::protobuf::util::JsonStringToMessage(call.request.body(), message).ok()) {
    return JsonError(
        call.request, http::status::bad_request,
        "body must be a JSON object with the fields of " + message->GetDescriptor()->name());
  }
  return std::nullopt;
}

HttpResponse BadRole(const ApiCall& call, const std::string& role) {
  return JsonError(call.request, http::status::bad_request,
                   "role must be viewer, operator or admin, not '" + role.substr(0, 32) + "'");
}

// The one-time answer to add and reset.
HttpResponse Credentials(const ApiCall& call, const NewCredentials& creds) {
  v1::UserCredentials out;
  out.set_name(creds.name);
  out.set_role(std::string(RoleName(creds.role)));
  out.set_password(creds.password);
  out.set_otpauth_uri(creds.otpauth_uri);
  auto qr = EncodeQr(creds.otpauth_uri);
  if (qr.ok()) {
    out.set_otpauth_qr_svg(QrSvg(*qr));
  } else {
    // The account is already issued: hand out the URI without the picture
    // rather than lose the password.
    WebLog()->error("no QR code for the otpauth URI of '{}': {}", creds.name, qr.error().message);
  }
  return JsonMessage(call.request, out);
}

HttpResponse List(const ApiCall& call, AuthService* auth) {
  auto users = auth->ListUsers();
  if (!users.ok()) return FromError(call.request, users.error());
  v1::ListUsersResponse out;
  for (const AccountSummary& a : *users) {
    v1::UserSummary* u = out.add_users();
    u->set_name(a.name);
    u->set_role(std::string(RoleName(a.role)));
    u->set_disabled(a.disabled);
    if (a.locked_until_ms != 0) SetMs(a.locked_until_ms, u->mutable_locked_until());
    if (a.created_at_ms != 0) SetMs(a.created_at_ms, u->mutable_created());
  }
  return JsonMessage(call.request, out);
}

HttpResponse Add(const ApiCall& call, AuthService* auth) {
  v1::AddUserRequest req;
  if (auto bad = ParseBody(call, &req)) return *bad;
  const std::optional<Role> role = ParseRole(req.role());
  if (!role) return BadRole(call, req.role());
  auto creds = auth->AddUser(req.name(), *role);
  if (!creds.ok()) {
    call.Audit(audit::kUserAdd, req.name(), creds.error().message, AuditOutcome::kFailed);
    return FromError(call.request, creds.error());
  }
  WebLog()->info("dashboard user '{}' ({}) added by '{}'", creds->name, RoleName(creds->role),
                 call.session.user);
  call.Audit(audit::kUserAdd, creds->name, "role " + std::string(RoleName(creds->role)),
             AuditOutcome::kOk);
  call.Audit(audit::kUserAdd, creds->name, "role " + std::string(RoleName(creds->role)),
             AuditOutcome::kOk);
  return Credentials(call, *creds);
}

HttpResponse Reset(const ApiCall& call, AuthService* auth, const std::string& name) {
  auto creds = auth->ResetUser(name);
  if (!creds.ok()) {
    call.Audit(audit::kUserReset, name, creds.error().message, AuditOutcome::kFailed);
    return FromError(call.request, creds.error());
  }
  WebLog()->info("dashboard user '{}' reset (new password and TOTP secret) by '{}'", name,
                 call.session.user);
  call.Audit(audit::kUserReset, name, "new password and TOTP secret", AuditOutcome::kOk);
  call.Audit(audit::kUserReset, name, "new password and TOTP secret", AuditOutcome::kOk);
  return Credentials(call, *creds);
}

HttpResponse Disable(const ApiCall& call, AuthService* auth, const std::string& name) {
  if (name == call.session.user) {
    // Another admin can; this way the last admin cannot shut everyone out.
    call.Audit(audit::kUserDisable, name, "own account", AuditOutcome::kDenied);
    return JsonError(call.request, http::status::conflict, "you cannot disable your own account");
  }
  if (Status s = auth->DisableUser(name); !s.ok()) {
    call.Audit(audit::kUserDisable, name, s.error().message, AuditOutcome::kFailed);
    return FromError(call.request, s.error());
  }
  WebLog()->info("dashboard user '{}' disabled by '{}'", name, call.session.user);
  call.Audit(audit::kUserDisable, name, "", AuditOutcome::kOk);
  call.Audit(audit::kUserDisable, name, "", AuditOutcome::kOk);
  return JsonMessage(call.request, v1::DisableUserResponse());
}

HttpResponse ChangeRole(const ApiCall& call, AuthService* auth, const std::string& name) {
  v1::SetUserRoleRequest req;
  if (auto bad = ParseBody(call, &req)) return *bad;
  const std::optional<Role> role = ParseRole(req.role());
  if (!role) return BadRole(call, req.role());
  const std::string detail = "role " + std::string(RoleName(*role));
  if (name == call.session.user) {
    call.Audit(audit::kUserRole, name, detail + " (own account)", AuditOutcome::kDenied);
    return JsonError(call.request, http::status::conflict, "you cannot change your own role");
  }
  if (Status s = auth->SetRole(name, *role); !s.ok()) {
    call.Audit(audit::kUserRole, name, s.error().message, AuditOutcome::kFailed);
    return FromError(call.request, s.error());
  }
  WebLog()->info("dashboard user '{}' given role {} by '{}'", name, RoleName(*role),
                 call.session.user);
  call.Audit(audit::kUserRole, name, detail, AuditOutcome::kOk);
  call.Audit(audit::kUserRole, name, "role " + std::string(RoleName(*role)), AuditOutcome::kOk);
  v1::SetUserRoleRequest out;
  out.set_name(name);
  out.set_role(std::string(RoleName(*role)));
  return JsonMessage(call.request, out);
}

}  // namespace

std::optional<HttpResponse> HandleUsersApi(const ApiCall& call, AuthService* auth) {
  if (call.path != kUsers && !call.path.starts_with("/api/users/")) return std::nullopt;
  // /api/users or /api/users/NAME/ACTION
  std::string name;
  std::string_view action;
  if (call.path != kUsers) {
    const std::string_view rest = call.path.substr(kUsers.size() + 1);
    const auto slash = rest.find('/');
    name = PercentDecode(rest.substr(0, slash));
    if (slash != std::string_view::npos) action = rest.substr(slash + 1);
  }
  const std::string_view audit_action = call.path == kUsers   ? audit::kUserAdd
                                        : action == "reset"   ? audit::kUserReset
                                        : action == "disable" ? audit::kUserDisable
                                                              : audit::kUserRole;
  if (!call.Allows(Role::kAdmin)) {
    if (call.is_post) {
      call.Audit(audit_action, name, "role " + std::string(RoleName(call.session.role)),
                 AuditOutcome::kDenied);
    }
    return call.Forbidden();
  }
  if (call.path == kUsers) {
    if (call.is_get) return List(call, auth);
    return Add(call, auth);
  }
  if (!call.is_post || !IsValidUserName(name) ||
      (action != "reset" && action != "disable" && action != "role")) {
    return JsonError(call.request, http::status::not_found, "no such API");
  }
  if (action == "reset") return Reset(call, auth, name);
  if (action == "disable") return Disable(call, auth, name);
  return ChangeRole(call, auth, name);
}

}  // namespace mamori::web
