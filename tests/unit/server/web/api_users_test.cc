// The dashboard's user management API (server/web/api_users): admin only,
// one-time credentials with a QR code, never a secret in the list, and
// every change in the audit log.

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "common/policy/policy_signing.h"
#include "server/accounts/auth.h"
#include "server/accounts/totp.h"
#include "server/admin/admin_queries.h"
#include "server/audit/audit_trail.h"
#include "server/policy/policy_hub.h"
#include "server/web/http_handler.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/server/web/web_test_support.h"

namespace mamori::web {
namespace {

namespace http = boost::beast::http;

struct AuditEntry {
  std::string actor, action, target, detail;
  AuditOutcome outcome;
};

class RecordingAuditTrail final : public AuditTrail {
 public:
  Status Record(std::string_view actor, std::string_view action, std::string_view target,
                std::string_view detail, AuditOutcome outcome) override {
    std::lock_guard lock(mu);
    entries.push_back({std::string(actor), std::string(action), std::string(target),
                       std::string(detail), outcome});
    return Status::Ok();
  }
  Status Query(const v1::QueryAuditRequest&, v1::QueryAuditResponse*) const override {
    return Status::Ok();
  }
  bool Has(std::string_view action, std::string_view target, AuditOutcome outcome) {
    std::lock_guard lock(mu);
    for (const AuditEntry& e : entries) {
      if (e.action == action && e.target == target && e.outcome == outcome) return true;
    }
    return false;
  }

  std::mutex mu;
  std::vector<AuditEntry> entries;
};

std::string JsonString(const std::string& body, const std::string& key) {
  const std::string needle = "\"" + key + "\":\"";
  const auto pos = body.find(needle);
  if (pos == std::string::npos) return "";
  const auto start = pos + needle.size();
  std::string out;
  // JSON escapes: protobuf writes '<', '>' and '&' as \u00XX.
  for (std::size_t i = start; i < body.size() && body[i] != '"'; ++i) {
    if (body[i] == '\\' && i + 5 < body.size() && body[i + 1] == 'u') {
      out.push_back(static_cast<char>(std::stoi(body.substr(i + 2, 4), nullptr, 16)));
      i += 5;
      continue;
    }
    if (body[i] == '\\' && i + 1 < body.size()) ++i;
    out.push_back(body[i]);
  }
  return out;
}

std::string SecretOf(const std::string& uri) {
  const auto start = uri.find("secret=") + 7;
  return Base32Decode(uri.substr(start, uri.find('&', start) - start)).value_or("");
}

class UsersApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenSqliteStore(dir_.File("web.db"), SqliteOptions{});
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
    auth_ = std::make_unique<AuthService>(store_.get(), &clock_, AuthConfig{});
    hub_ = std::make_unique<PolicyHub>(store_.get(), &clock_, PolicySigningKey::Generate().value());
    ASSERT_TRUE(hub_->Load().ok());
    queries_ =
        std::make_unique<AdminQueries>(store_.get(), hub_.get(), &clock_, ComplianceConfig{});
    handler_ = std::make_unique<WebHandler>(auth_.get(), queries_.get(), nullptr, &audit_);
  }

  HttpResponse Send(http::verb verb, const std::string& target, const std::string& cookie = "",
                    const std::string& csrf = "", const std::string& body = "") {
    return handler_->Handle(ApiRequest(verb, target, cookie, csrf, body));
  }

  std::string Code(const std::string& otpauth_uri) {
    // A fresh step each time, so the replay guard never refuses a code.
    clock_.now_ms += 30'000;
    return TotpCode(SecretOf(otpauth_uri), clock_.NowMs() / 1000);
  }

  // {token, csrf} of a login through the API; empty on failure.
  std::pair<std::string, std::string> Login(const std::string& name, const std::string& password,
                                            const std::string& otpauth_uri) {
    auto res =
        Send(http::verb::post, "/api/login", "", "", LoginBody(name, password, Code(otpauth_uri)));
    if (res.result() != http::status::ok) return {};
    return SessionOf(res);
  }

  std::pair<std::string, std::string> LoginAs(const std::string& name, Role role) {
    auto creds = auth_->AddUser(name, role);
    EXPECT_TRUE(creds.ok());
    auto session = Login(name, creds->password, creds->otpauth_uri);
    EXPECT_FALSE(session.first.empty()) << name;
    return session;
  }

  testing::TempDir dir_;
  SettableClock clock_;
  RecordingAuditTrail audit_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AuthService> auth_;
  std::unique_ptr<PolicyHub> hub_;
  std::unique_ptr<AdminQueries> queries_;
  std::unique_ptr<WebHandler> handler_;
};

TEST_F(UsersApiTest, OnlyAdminsManageUsers) {
  auto [viewer, viewer_csrf] = LoginAs("vera", Role::kViewer);
  auto [op, op_csrf] = LoginAs("otto", Role::kOperator);
  const std::string add = R"({"name":"newbie","role":"viewer"})";
  for (const auto& [token, csrf] : {std::pair{viewer, viewer_csrf}, std::pair{op, op_csrf}}) {
    EXPECT_EQ(Send(http::verb::get, "/api/users", token).result(), http::status::forbidden);
    EXPECT_EQ(Send(http::verb::post, "/api/users", token, csrf, add).result(),
              http::status::forbidden);
    EXPECT_EQ(Send(http::verb::post, "/api/users/vera/reset", token, csrf).result(),
              http::status::forbidden);
    EXPECT_EQ(
        Send(http::verb::post, "/api/users/vera/role", token, csrf, R"({"role":"admin"})").result(),
        http::status::forbidden);
    EXPECT_EQ(Send(http::verb::post, "/api/users/vera/disable", token, csrf).result(),
              http::status::forbidden);
  }
  EXPECT_FALSE((*store_->GetUser("newbie")).has_value());
  EXPECT_EQ((*store_->GetUser("vera"))->role, "viewer");
  EXPECT_FALSE((*store_->GetUser("vera"))->disabled);
  EXPECT_TRUE(audit_.Has(audit::kUserAdd, "", AuditOutcome::kDenied));
  EXPECT_TRUE(audit_.Has(audit::kUserRole, "vera", AuditOutcome::kDenied));

  // Without a session, or without the CSRF token, nothing is reached.
  EXPECT_EQ(Send(http::verb::get, "/api/users").result(), http::status::unauthorized);
  auto [admin, admin_csrf] = LoginAs("ada", Role::kAdmin);
  EXPECT_EQ(Send(http::verb::post, "/api/users", admin, "", add).result(), http::status::forbidden);
  EXPECT_EQ(Send(http::verb::post, "/api/users", admin, viewer_csrf, add).result(),
            http::status::forbidden);
  EXPECT_FALSE((*store_->GetUser("newbie")).has_value());
  EXPECT_EQ(Send(http::verb::post, "/api/users", admin, admin_csrf, add).result(),
            http::status::ok);
}

TEST_F(UsersApiTest, AddAnswersOneTimeCredentialsWithQrAndTheNewUserLogsIn) {
  auto [admin, csrf] = LoginAs("ada", Role::kAdmin);
  auto res =
      Send(http::verb::post, "/api/users", admin, csrf, R"({"name":"olga","role":"operator"})");
  ASSERT_EQ(res.result(), http::status::ok) << res.body();
  EXPECT_EQ(res[http::field::cache_control], "no-store");
  const std::string body = res.body();
  const std::string password = JsonString(body, "password");
  const std::string uri = JsonString(body, "otpauthUri");
  const std::string svg = JsonString(body, "otpauthQrSvg");
  EXPECT_EQ(JsonString(body, "name"), "olga");
  EXPECT_EQ(JsonString(body, "role"), "operator");
  EXPECT_EQ(password.size(), 20u);
  EXPECT_TRUE(uri.starts_with("otpauth://totp/Mamori:olga?secret=")) << uri;
  EXPECT_TRUE(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"")) << svg;
  EXPECT_NE(svg.find("shape-rendering=\"crispEdges\""), std::string::npos);
  EXPECT_EQ(svg.find("script"), std::string::npos);
  EXPECT_TRUE(audit_.Has(audit::kUserAdd, "olga", AuditOutcome::kOk));

  // The returned password and a code from the returned secret log in.
  auto [olga, olga_csrf] = Login("olga", password, uri);
  ASSERT_FALSE(olga.empty());
  auto me = Send(http::verb::get, "/api/me", olga);
  EXPECT_EQ(JsonString(me.body(), "role"), "operator");
  EXPECT_EQ(Send(http::verb::get, "/api/users", olga).result(), http::status::forbidden);

  // Bad input.
  EXPECT_EQ(Send(http::verb::post, "/api/users", admin, csrf, R"({"name":"olga","role":"viewer"})")
                .result(),
            http::status::conflict);
  EXPECT_EQ(
      Send(http::verb::post, "/api/users", admin, csrf, R"({"name":"x","role":"root"})").result(),
      http::status::bad_request);
  EXPECT_EQ(
      Send(http::verb::post, "/api/users", admin, csrf, R"({"name":"<script>","role":"viewer"})")
          .result(),
      http::status::bad_request);
  EXPECT_EQ(
      Send(http::verb::post, "/api/users", admin, csrf, R"({"name":"y","admin":true})").result(),
      http::status::bad_request);
  EXPECT_EQ(Send(http::verb::post, "/api/users", admin, csrf, "not json").result(),
            http::status::bad_request);
}

TEST_F(UsersApiTest, SecretsAreNeverServedAgain) {
  auto [admin, csrf] = LoginAs("ada", Role::kAdmin);
  auto added =
      Send(http::verb::post, "/api/users", admin, csrf, R"({"name":"pia","role":"viewer"})");
  ASSERT_EQ(added.result(), http::status::ok);
  const std::string secret_b32 =
      JsonString(added.body(), "otpauthUri")
          .substr(JsonString(added.body(), "otpauthUri").find("secret=") + 7, 32);
  const std::string password = JsonString(added.body(), "password");
  const std::string hash = (*store_->GetUser("pia"))->password_hash;

  auto list = Send(http::verb::get, "/api/users", admin);
  ASSERT_EQ(list.result(), http::status::ok);
  const std::string body = list.body();
  EXPECT_NE(body.find("\"name\":\"pia\""), std::string::npos) << body;
  for (const std::string& secret :
       {secret_b32, password, hash, std::string("scrypt$"), std::string("otpauth"),
        std::string("password"), std::string("secret"), std::string("<svg")}) {
    EXPECT_EQ(body.find(secret), std::string::npos) << secret << " in " << body;
  }
  // No path serves the QR code or the URI later.
  for (const char* path : {"/api/users/pia", "/api/users/pia/qr.svg", "/api/users/pia/otpauth"}) {
    EXPECT_EQ(Send(http::verb::get, path, admin).result(), http::status::not_found) << path;
    EXPECT_EQ(Send(http::verb::post, path, admin, csrf).result(), http::status::not_found) << path;
  }

  // A reset answers new ones, and the old ones stop working.
  auto reset = Send(http::verb::post, "/api/users/pia/reset", admin, csrf);
  ASSERT_EQ(reset.result(), http::status::ok) << reset.body();
  EXPECT_NE(JsonString(reset.body(), "password"), password);
  EXPECT_EQ(JsonString(reset.body(), "otpauthUri").find(secret_b32), std::string::npos);
  EXPECT_NE(JsonString(reset.body(), "otpauthQrSvg").find("<path"), std::string::npos);
  const std::string new_uri = JsonString(reset.body(), "otpauthUri");
  EXPECT_TRUE(Login("pia", password, new_uri).first.empty());
  EXPECT_FALSE(Login("pia", JsonString(reset.body(), "password"), new_uri).first.empty());
  EXPECT_TRUE(audit_.Has(audit::kUserReset, "pia", AuditOutcome::kOk));
  EXPECT_EQ(Send(http::verb::post, "/api/users/nobody/reset", admin, csrf).result(),
            http::status::not_found);
}

TEST_F(UsersApiTest, ListShowsRoleDisabledAndLockout) {
  auto [admin, csrf] = LoginAs("ada", Role::kAdmin);
  ASSERT_TRUE(auth_->AddUser("bert", Role::kOperator).ok());
  ASSERT_TRUE(auth_->AddUser("carl", Role::kViewer).ok());
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(auth_->Login("carl", "guess", "123456").ok());
  ASSERT_EQ(Send(http::verb::post, "/api/users/bert/disable", admin, csrf).result(),
            http::status::ok);
  auto list = Send(http::verb::get, "/api/users", admin);
  ASSERT_EQ(list.result(), http::status::ok);
  const std::string body = list.body();
  // By name: ada, bert, carl.
  const auto ada = body.find("\"name\":\"ada\"");
  const auto bert = body.find("\"name\":\"bert\"");
  const auto carl = body.find("\"name\":\"carl\"");
  ASSERT_NE(carl, std::string::npos) << body;
  EXPECT_LT(ada, bert);
  EXPECT_LT(bert, carl);
  const std::string bert_entry = body.substr(bert, carl - bert);
  EXPECT_NE(bert_entry.find("\"role\":\"operator\""), std::string::npos) << bert_entry;
  EXPECT_NE(bert_entry.find("\"disabled\":true"), std::string::npos) << bert_entry;
  EXPECT_EQ(bert_entry.find("lockedUntil"), std::string::npos) << bert_entry;
  const std::string carl_entry = body.substr(carl);
  EXPECT_NE(carl_entry.find("\"lockedUntil\":\""), std::string::npos) << carl_entry;
  EXPECT_NE(carl_entry.find("\"created\":\"2023-"), std::string::npos) << carl_entry;
  // Once the lockout has run out the list no longer shows it.
  clock_.now_ms += 15 * 60 * 1000;
  EXPECT_EQ(Send(http::verb::get, "/api/users", admin).body().find("lockedUntil"),
            std::string::npos);
}

TEST_F(UsersApiTest, RoleChangeAndDisableTakeEffectOnExistingSessions) {
  auto [admin, csrf] = LoginAs("ada", Role::kAdmin);
  auto [second, second_csrf] = LoginAs("bea", Role::kAdmin);
  ASSERT_EQ(Send(http::verb::get, "/api/users", second).result(), http::status::ok);

  auto demote = Send(http::verb::post, "/api/users/bea/role", admin, csrf, R"({"role":"viewer"})");
  ASSERT_EQ(demote.result(), http::status::ok) << demote.body();
  EXPECT_EQ(JsonString(demote.body(), "role"), "viewer");
  EXPECT_TRUE(audit_.Has(audit::kUserRole, "bea", AuditOutcome::kOk));
  // Her session now has a viewer's rights.
  EXPECT_EQ(Send(http::verb::get, "/api/users", second).result(), http::status::forbidden);
  EXPECT_EQ(JsonString(Send(http::verb::get, "/api/me", second).body(), "role"), "viewer");
  EXPECT_EQ(
      Send(http::verb::post, "/api/users/bea/role", admin, csrf, R"({"role":"root"})").result(),
      http::status::bad_request);
  EXPECT_EQ(
      Send(http::verb::post, "/api/users/zed/role", admin, csrf, R"({"role":"viewer"})").result(),
      http::status::not_found);

  // An admin neither disables nor demotes themself.
  EXPECT_EQ(Send(http::verb::post, "/api/users/ada/disable", admin, csrf).result(),
            http::status::conflict);
  EXPECT_EQ(
      Send(http::verb::post, "/api/users/ada/role", admin, csrf, R"({"role":"viewer"})").result(),
      http::status::conflict);
  EXPECT_EQ((*store_->GetUser("ada"))->role, "admin");
  EXPECT_TRUE(audit_.Has(audit::kUserDisable, "ada", AuditOutcome::kDenied));

  // A disabled user's cookie is refused at once.
  ASSERT_EQ(Send(http::verb::post, "/api/users/bea/disable", admin, csrf).result(),
            http::status::ok);
  EXPECT_EQ(Send(http::verb::get, "/api/me", second).result(), http::status::unauthorized);
  EXPECT_TRUE(audit_.Has(audit::kUserDisable, "bea", AuditOutcome::kOk));
}

TEST_F(UsersApiTest, ExpiredOrForeignSessionsAreRefused) {
  auto [admin, csrf] = LoginAs("ada", Role::kAdmin);
  auto [other, other_csrf] = LoginAs("bob", Role::kAdmin);
  // User A's cookie with user B's CSRF token acts for nobody.
  EXPECT_EQ(
      Send(http::verb::post, "/api/users", admin, other_csrf, R"({"name":"mixed","role":"viewer"})")
          .result(),
      http::status::forbidden);
  EXPECT_FALSE((*store_->GetUser("mixed")).has_value());
  // Past the session's expiry the cookie is worth nothing, GET or POST.
  clock_.now_ms += AuthConfig{}.session_ttl_ms;
  EXPECT_EQ(Send(http::verb::get, "/api/users", admin).result(), http::status::unauthorized);
  EXPECT_EQ(Send(http::verb::post, "/api/users", admin, csrf, R"({"name":"late","role":"viewer"})")
                .result(),
            http::status::unauthorized);
  EXPECT_FALSE((*store_->GetUser("late")).has_value());
}

}  // namespace
}  // namespace mamori::web
