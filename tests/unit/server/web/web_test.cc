// Dashboard (server/web): TOTP, password hashing, sessions, CSRF, lockout,
// static path normalisation and the headers on every response.

#include <gtest/gtest.h>

#include <atomic>
#include <regex>
#include <string>

#include "common/crypto/pki.h"
#include "common/crypto/unlock_key.h"
#include "common/policy/policy_signing.h"
#include "server/accounts/auth.h"
#include "server/accounts/password.h"
#include "server/accounts/totp.h"
#include "server/admin/admin_queries.h"
#include "server/app/collector_config.h"
#include "server/policy/policy_hub.h"
#include "server/web/http_handler.h"
#include "server/web/static_assets.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/server/web/web_test_support.h"

namespace mamori::web {
namespace {

namespace http = boost::beast::http;

// RFC 6238 appendix B, SHA-1 rows (8 digits), secret "12345678901234567890".
TEST(TotpTest, Rfc6238Vectors) {
  const std::string secret = "12345678901234567890";
  EXPECT_EQ(TotpCode(secret, 59, 8), "94287082");
  EXPECT_EQ(TotpCode(secret, 1111111109, 8), "07081804");
  EXPECT_EQ(TotpCode(secret, 1111111111, 8), "14050471");
  EXPECT_EQ(TotpCode(secret, 1234567890, 8), "89005924");
  EXPECT_EQ(TotpCode(secret, 2000000000, 8), "69279037");
  EXPECT_EQ(TotpCode(secret, 20000000000, 8), "65353130");
  // The 6-digit code is the same truncation modulo 10^6.
  EXPECT_EQ(TotpCode(secret, 59), "287082");
}

// RFC 4226 appendix D.
TEST(TotpTest, Rfc4226HotpVectors) {
  const std::string secret = "12345678901234567890";
  const uint32_t expected[] = {755224, 287082, 359152, 969429, 338314,
                               254676, 287922, 162583, 399871, 520489};
  for (uint64_t i = 0; i < 10; ++i) EXPECT_EQ(Hotp(secret, i), expected[i]) << i;
}

TEST(TotpTest, WindowIsOneStepEachWayAndReplayIsRefused) {
  const std::string secret = "12345678901234567890";
  const int64_t now = 1'700'000'000;
  const int64_t step = TotpStep(now);
  EXPECT_EQ(VerifyTotp(secret, TotpCode(secret, now), now, 0), step);
  EXPECT_EQ(VerifyTotp(secret, TotpCode(secret, now - 30), now, 0), step - 1);
  EXPECT_EQ(VerifyTotp(secret, TotpCode(secret, now + 30), now, 0), step + 1);
  EXPECT_FALSE(VerifyTotp(secret, TotpCode(secret, now - 60), now, 0));
  EXPECT_FALSE(VerifyTotp(secret, TotpCode(secret, now + 60), now, 0));
  // Already used: the same step, or any before it.
  EXPECT_FALSE(VerifyTotp(secret, TotpCode(secret, now), now, step));
  EXPECT_FALSE(VerifyTotp(secret, "12345", now, 0));
  EXPECT_FALSE(VerifyTotp(secret, "12345a", now, 0));
}

TEST(TotpTest, Base32AndOtpauthUri) {
  EXPECT_EQ(Base32Encode("foobar"), "MZXW6YTBOI");  // RFC 4648 section 10
  EXPECT_EQ(Base32Decode("MZXW6YTBOI"), "foobar");
  EXPECT_EQ(Base32Decode("mzxw6ytboi======"), "foobar");
  EXPECT_FALSE(Base32Decode("MZ1"));
  EXPECT_EQ(OtpauthUri("alice", "foobar"),
            "otpauth://totp/Mamori:alice?secret=MZXW6YTBOI&issuer=Mamori&algorithm=SHA1&digits=6&"
            "period=30");
}

TEST(PasswordTest, HashVerifiesOnlyTheSamePassword) {
  auto hash = HashPassword("correct horse");
  ASSERT_TRUE(hash.ok());
  EXPECT_TRUE(hash->starts_with("scrypt$15$8$1$"));
  EXPECT_TRUE(VerifyPassword("correct horse", *hash));
  EXPECT_FALSE(VerifyPassword("correct horsE", *hash));
  EXPECT_FALSE(VerifyPassword("", *hash));
  // Salted: the same password hashes differently each time.
  EXPECT_NE(*HashPassword("correct horse", {10, 8, 1}), *HashPassword("correct horse", {10, 8, 1}));
}

TEST(PasswordTest, MalformedOrTooExpensiveHashesNeverVerify) {
  EXPECT_FALSE(VerifyPassword("x", ""));
  EXPECT_FALSE(VerifyPassword("x", "plain$x"));
  EXPECT_FALSE(VerifyPassword("x", "scrypt$15$8$1$zz$00"));
  // 2^40 would need terabytes: refused before deriving.
  EXPECT_FALSE(VerifyPassword("x", "scrypt$40$8$1$00$" + std::string(64, '0')));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
}

TEST(StaticPathTest, NormalisesPlainPathsAndRefusesTraversal) {
  EXPECT_EQ(NormalizeStaticPath("/"), "/index.html");
  EXPECT_EQ(NormalizeStaticPath("/app.js?v=1"), "/app.js");
  EXPECT_EQ(NormalizeStaticPath("/i18n/ja.json"), "/i18n/ja.json");
  for (const char* bad :
       {"", "app.js", "/../etc/passwd", "/i18n/../../x", "/./app.js", "//app.js", "/i18n//ja.json",
        "/%2e%2e/etc/passwd", "/..%2fetc", "/a\\..\\b", "/app.js/..", "/i18n/"}) {
    EXPECT_FALSE(NormalizeStaticPath(bad)) << bad;
  }
  EXPECT_FALSE(NormalizeStaticPath(std::string_view("/a\0b", 4)));
  EXPECT_NE(FindAsset("/index.html"), nullptr);
  EXPECT_NE(FindAsset("/i18n/en.json"), nullptr);
  EXPECT_EQ(FindAsset("/missing.js"), nullptr);
  EXPECT_EQ(ContentTypeFor("/app.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("/index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("/app.css"), "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("/i18n/ja.json"), "application/json; charset=utf-8");
}

TEST(StaticAssetsTest, PageHasNoInlineScript) {
  const EmbeddedAsset* index = FindAsset("/index.html");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->data.find("<script>"), std::string_view::npos);
  // No event-handler attributes (onclick= etc.): the CSP would block them.
  EXPECT_FALSE(std::regex_search(std::string(index->data), std::regex(R"(\son[a-z]+\s*=)")));
  const EmbeddedAsset* js = FindAsset("/app.js");
  ASSERT_NE(js, nullptr);
  EXPECT_EQ(js->data.find("innerHTML"), std::string_view::npos);
}

TEST(HttpHelpersTest, CookiesAndQueryParameters) {
  EXPECT_EQ(CookieValue("a=1; mamori_session=abc; b=2", "mamori_session"), "abc");
  EXPECT_EQ(CookieValue("xmamori_session=abc", "mamori_session"), "");
  EXPECT_EQ(QueryParam("/api/terminals?group=osaka%2Fsuita&page=2", "group"), "osaka/suita");
  EXPECT_EQ(QueryParam("/api/terminals?group=osaka&page=2", "page"), "2");
  EXPECT_EQ(QueryParam("/api/terminals", "page"), "");
}

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenSqliteStore(dir_.File("web.db"), SqliteOptions{});
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
    auth_ = std::make_unique<AuthService>(store_.get(), &clock_, AuthConfig{});
  }

  // The secret behind an otpauth URI.
  static std::string SecretOf(const std::string& uri) {
    const auto start = uri.find("secret=") + 7;
    return Base32Decode(uri.substr(start, uri.find('&', start) - start)).value();
  }

  std::string Code(const NewCredentials& c) const {
    return TotpCode(SecretOf(c.otpauth_uri), clock_.NowMs() / 1000);
  }

  void NextStep() { clock_.now_ms += 30'000; }

  testing::TempDir dir_;
  SettableClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AuthService> auth_;
};

TEST_F(AuthTest, LoginNeedsPasswordAndCodeAndGivesASession) {
  auto alice = auth_->AddUser("alice", Role::kOperator);
  ASSERT_TRUE(alice.ok()) << alice.error().message;
  EXPECT_EQ(alice->password.size(), 20u);
  std::string wrong_code = Code(*alice);
  wrong_code[0] = wrong_code[0] == '9' ? '0' : static_cast<char>(wrong_code[0] + 1);
  EXPECT_FALSE(auth_->Login("alice", alice->password, wrong_code).ok());
  NextStep();
  EXPECT_FALSE(auth_->Login("alice", "wrong", Code(*alice)).ok());
  NextStep();
  auto login = auth_->Login("alice", alice->password, Code(*alice));
  ASSERT_TRUE(login.ok()) << login.error().message;
  EXPECT_EQ(login->token.size(), 64u);  // 256 bits, hex
  EXPECT_EQ(login->session.role, Role::kOperator);
  EXPECT_EQ(login->session.csrf_token.size(), 64u);

  auto session = auth_->Authenticate(login->token);
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(session->user, "alice");
  EXPECT_TRUE(CsrfMatches(*session, login->session.csrf_token));
  EXPECT_FALSE(CsrfMatches(*session, ""));
  EXPECT_FALSE(CsrfMatches(*session, std::string(64, '0')));
  // Only the hash is stored: the token itself is not a key.
  EXPECT_FALSE(store_->GetSession(login->token)->has_value());
  EXPECT_FALSE(auth_->Authenticate(std::string(64, 'a')).ok());
  EXPECT_FALSE(auth_->Authenticate("").ok());

  // The same code cannot be used twice.
  EXPECT_FALSE(auth_->Login("alice", alice->password, Code(*alice)).ok());

  ASSERT_TRUE(auth_->Logout(login->token).ok());
  EXPECT_FALSE(auth_->Authenticate(login->token).ok());
}

TEST_F(AuthTest, SessionsExpire) {
  auto bob = auth_->AddUser("bob", Role::kViewer);
  ASSERT_TRUE(bob.ok());
  auto login = auth_->Login("bob", bob->password, Code(*bob));
  ASSERT_TRUE(login.ok());
  clock_.now_ms += AuthConfig{}.session_ttl_ms - 1;
  EXPECT_TRUE(auth_->Authenticate(login->token).ok());
  clock_.now_ms += 1;
  auto expired = auth_->Authenticate(login->token);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, ErrorCode::kUnauthenticated);
}

TEST_F(AuthTest, FiveFailuresLockTheAccountForFifteenMinutes) {
  auto carol = auth_->AddUser("carol", Role::kAdmin);
  ASSERT_TRUE(carol.ok());
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(auth_->Login("carol", "guess", "123456").ok());
  EXPECT_GT((*store_->GetUser("carol"))->locked_until_ms, clock_.NowMs());
  // Locked: even the right password and code are refused, with the same message.
  auto locked = auth_->Login("carol", carol->password, Code(*carol));
  ASSERT_FALSE(locked.ok());
  EXPECT_EQ(locked.error().message, "invalid user name, password or code");
  clock_.now_ms += 15 * 60 * 1000;
  EXPECT_TRUE(auth_->Login("carol", carol->password, Code(*carol)).ok());
}

TEST_F(AuthTest, DisableAndResetEndSessions) {
  auto dave = auth_->AddUser("dave", Role::kViewer);
  ASSERT_TRUE(dave.ok());
  EXPECT_EQ(auth_->AddUser("dave", Role::kViewer).error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(auth_->AddUser("Dave<script>", Role::kViewer).error().code,
            ErrorCode::kInvalidArgument);
  auto login = auth_->Login("dave", dave->password, Code(*dave));
  ASSERT_TRUE(login.ok());
  ASSERT_TRUE(auth_->DisableUser("dave").ok());
  EXPECT_FALSE(auth_->Authenticate(login->token).ok());
  NextStep();
  EXPECT_FALSE(auth_->Login("dave", dave->password, Code(*dave)).ok());
  auto reset = auth_->ResetUser("dave");
  ASSERT_TRUE(reset.ok());
  EXPECT_NE(reset->password, dave->password);
  NextStep();
  EXPECT_FALSE(auth_->Login("dave", dave->password, Code(*reset)).ok());
  NextStep();
  EXPECT_TRUE(auth_->Login("dave", reset->password, Code(*reset)).ok());
  EXPECT_EQ(auth_->ResetUser("nobody").error().code, ErrorCode::kNotFound);
}

class HandlerTest : public AuthTest {
 protected:
  void SetUp() override {
    AuthTest::SetUp();
    hub_ = std::make_unique<PolicyHub>(store_.get(), &clock_, PolicySigningKey::Generate().value());
    ASSERT_TRUE(hub_->Load().ok());
    queries_ =
        std::make_unique<AdminQueries>(store_.get(), hub_.get(), &clock_, ComplianceConfig{});
    handler_ = std::make_unique<WebHandler>(auth_.get(), queries_.get());
  }

  HttpResponse Send(http::verb verb, const std::string& target, const std::string& cookie = "",
                    const std::string& csrf = "", const std::string& body = "") {
    return handler_->Handle(ApiRequest(verb, target, cookie, csrf, body));
  }

  // Logs in through the API; returns {token, csrf}.
  std::pair<std::string, std::string> LoginAs(const std::string& name, Role role) {
    auto creds = auth_->AddUser(name, role);
    EXPECT_TRUE(creds.ok());
    auto res = Send(http::verb::post, "/api/login", "", "",
                    LoginBody(name, creds->password, Code(*creds)));
    EXPECT_EQ(res.result(), http::status::ok) << res.body();
    EXPECT_NE(std::string(res[http::field::set_cookie])
                  .find("Secure; HttpOnly; SameSite=Strict; Max-Age="),
              std::string::npos);
    return SessionOf(res);
  }

  static void ExpectSecurityHeaders(const HttpResponse& res) {
    EXPECT_NE(res["Content-Security-Policy"].find("default-src 'self'"), std::string::npos);
    EXPECT_NE(res["Content-Security-Policy"].find("frame-ancestors 'none'"), std::string::npos);
    EXPECT_EQ(res["Content-Security-Policy"].find("unsafe-inline"), std::string::npos);
    EXPECT_NE(res[http::field::strict_transport_security].find("max-age="), std::string::npos);
    EXPECT_EQ(res["X-Frame-Options"], "DENY");
    EXPECT_EQ(res["X-Content-Type-Options"], "nosniff");
    EXPECT_EQ(res["Referrer-Policy"], "no-referrer");
  }

  std::unique_ptr<PolicyHub> hub_;
  std::unique_ptr<AdminQueries> queries_;
  std::unique_ptr<WebHandler> handler_;
};

TEST_F(HandlerTest, StaticFilesWithTypesAndHeadersTraversalRefused) {
  auto index = Send(http::verb::get, "/");
  EXPECT_EQ(index.result(), http::status::ok);
  EXPECT_EQ(index[http::field::content_type], "text/html; charset=utf-8");
  ExpectSecurityHeaders(index);
  auto js = Send(http::verb::get, "/app.js");
  EXPECT_EQ(js[http::field::content_type], "text/javascript; charset=utf-8");
  auto traversal = Send(http::verb::get, "/../../etc/passwd");
  EXPECT_EQ(traversal.result(), http::status::bad_request);
  ExpectSecurityHeaders(traversal);
  EXPECT_EQ(Send(http::verb::get, "/%2e%2e/etc/passwd").result(), http::status::bad_request);
  auto missing = Send(http::verb::get, "/nothing.html");
  EXPECT_EQ(missing.result(), http::status::not_found);
  ExpectSecurityHeaders(missing);
  EXPECT_EQ(Send(http::verb::post, "/index.html").result(), http::status::method_not_allowed);
}

TEST_F(HandlerTest, ApiNeedsASessionAndCsrfOnPost) {
  auto anonymous = Send(http::verb::get, "/api/overview");
  EXPECT_EQ(anonymous.result(), http::status::unauthorized);
  ExpectSecurityHeaders(anonymous);
  auto [token, csrf] = LoginAs("erin", Role::kViewer);
  auto overview = Send(http::verb::get, "/api/overview", token);
  EXPECT_EQ(overview.result(), http::status::ok) << overview.body();
  EXPECT_EQ(overview[http::field::cache_control], "no-store");
  ExpectSecurityHeaders(overview);
  auto terminals = Send(http::verb::get, "/api/terminals?status=non_compliant&page=0", token);
  EXPECT_EQ(terminals.result(), http::status::ok) << terminals.body();
  EXPECT_NE(terminals.body().find("\"total\":0"), std::string::npos) << terminals.body();
  EXPECT_EQ(Send(http::verb::get, "/api/terminals?status=bogus", token).result(),
            http::status::bad_request);
  EXPECT_EQ(Send(http::verb::get, "/api/terminals/none", token).result(), http::status::not_found);
  auto me = Send(http::verb::get, "/api/me", token);
  EXPECT_NE(me.body().find("\"role\":\"viewer\""), std::string::npos);

  EXPECT_EQ(Send(http::verb::post, "/api/logout", token).result(), http::status::forbidden);
  EXPECT_EQ(Send(http::verb::post, "/api/logout", token, std::string(64, '0')).result(),
            http::status::forbidden);
  auto logout = Send(http::verb::post, "/api/logout", token, csrf);
  EXPECT_EQ(logout.result(), http::status::ok);
  EXPECT_NE(std::string(logout[http::field::set_cookie]).find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(Send(http::verb::get, "/api/overview", token).result(), http::status::unauthorized);
}

TEST_F(HandlerTest, RolesAreCheckedAndCsrfIsPerSession) {
  auto [viewer_token, viewer_csrf] = LoginAs("frank", Role::kViewer);
  auto [admin_token, admin_csrf] = LoginAs("grace", Role::kAdmin);
  ASSERT_TRUE(auth_->AddUser("target", Role::kViewer).ok());
  EXPECT_EQ(Send(http::verb::post, "/api/users/target/disable", viewer_token, viewer_csrf).result(),
            http::status::forbidden);
  // Another user's CSRF token does not go with this session.
  EXPECT_EQ(Send(http::verb::post, "/api/users/target/disable", admin_token, viewer_csrf).result(),
            http::status::forbidden);
  EXPECT_EQ(Send(http::verb::post, "/api/users/target/disable", admin_token, admin_csrf).result(),
            http::status::ok);
  EXPECT_TRUE((*store_->GetUser("target"))->disabled);
}

TEST_F(HandlerTest, IssuedUnlockCodesAreForAdminsOnly) {
  auto [viewer_token, viewer_csrf] = LoginAs("ivan", Role::kOperator);
  auto [admin_token, admin_csrf] = LoginAs("judy", Role::kAdmin);
  // Without an unlock key the collector says so.
  EXPECT_EQ(Send(http::verb::get, "/api/unlock-codes", admin_token).result(),
            http::status::service_unavailable);

  auto issuer = UnlockIssuer::Create(store_.get(), nullptr, &clock_,
                                     CreateUnlockKeyPair().value().private_pem,
                                     CreateCa("Test CA", 30).value().cert_pem);
  ASSERT_TRUE(issuer.ok()) << issuer.error().message;
  handler_ = std::make_unique<WebHandler>(auth_.get(), queries_.get(), nullptr, nullptr, nullptr,
                                          issuer->get());
  IssuedUnlockCode code;
  code.code = "7K3M9Q-2XH8TB-4WFR0C";
  code.terminal_id = "T-0001";
  code.vendor_id = 0x0781;
  code.product_id = 0x5581;
  code.serial = "SER-A";
  code.expiry_ms = clock_.NowMs() + 3'600'000;
  code.issued_by = "cert:mamori://admin/ops";
  ASSERT_TRUE(store_->AddIssuedUnlockCode(code).ok());

  EXPECT_EQ(Send(http::verb::get, "/api/unlock-codes", viewer_token).result(),
            http::status::forbidden);
  auto listed = Send(http::verb::get, "/api/unlock-codes?terminal=T-0001", admin_token);
  EXPECT_EQ(listed.result(), http::status::ok);
  EXPECT_NE(listed.body().find("\"vidPid\":\"0781:5581\""), std::string::npos) << listed.body();
  auto other = Send(http::verb::get, "/api/unlock-codes?terminal=T-0002", admin_token);
  EXPECT_EQ(other.body().find("0781:5581"), std::string::npos) << other.body();
  EXPECT_EQ(Send(http::verb::get, "/api/unlock-codes?limit=0", admin_token).result(),
            http::status::bad_request);
}

TEST_F(HandlerTest, LoginRequiresJsonAndSameOrigin) {
  EXPECT_EQ(Send(http::verb::post, "/api/login").result(), http::status::unsupported_media_type);
  EXPECT_EQ(Send(http::verb::post, "/api/login", "", "", "not json").result(),
            http::status::bad_request);
  auto wrong = Send(http::verb::post, "/api/login", "", "",
                    R"({"name":"nobody","password":"x","code":"123456"})");
  EXPECT_EQ(wrong.result(), http::status::unauthorized);
  EXPECT_EQ(wrong.body(), R"({"error":"invalid user name, password or code"})");
  HttpRequest req{http::verb::post, "/api/login", 11};
  req.set(http::field::host, "dash.example");
  req.set(http::field::origin, "https://evil.example");
  req.set(http::field::content_type, "application/json");
  req.body() = "{}";
  req.prepare_payload();
  EXPECT_EQ(handler_->Handle(req).result(), http::status::forbidden);
}

}  // namespace
}  // namespace mamori::web

namespace mamori {
namespace {

const char kBaseConfig[] =
    "listen: 127.0.0.1:0\ntls: {ca_file: ca.pem, cert_file: s.pem, key_file: s.key}\n"
    "policy: {signing_key_file: p.key}\n";

TEST(WebConfigTest, SectionIsOptionalAndParsed) {
  auto off = ParseCollectorConfig(kBaseConfig, "c.yaml", "/etc/mamori");
  ASSERT_TRUE(off.ok()) << off.error().message;
  EXPECT_FALSE(off->web.enabled);
  auto on = ParseCollectorConfig(std::string(kBaseConfig) +
                                     "web:\n  listen: 127.0.0.1:8443\n  cert_file: web.pem\n"
                                     "  key_file: web.key\n  session_ttl: 2h\n  threads: 3\n",
                                 "c.yaml", "/etc/mamori");
  ASSERT_TRUE(on.ok()) << on.error().message;
  EXPECT_TRUE(on->web.enabled);
  EXPECT_EQ(on->web.cert_file, "/etc/mamori/web.pem");
  EXPECT_EQ(on->web.session_ttl_ms, 2 * 3600 * 1000);
  EXPECT_EQ(on->web.threads, 3);
}

TEST(WebConfigTest, BadSectionNamesFileLineAndField) {
  auto missing = ParseCollectorConfig(std::string(kBaseConfig) + "web:\n  listen: 127.0.0.1:8443\n",
                                      "c.yaml", "/etc/mamori");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("c.yaml:5:3: web.cert_file"), std::string::npos)
      << missing.error().message;
  EXPECT_NE(missing.error().message.find("web.cert_file"), std::string::npos)
      << missing.error().message;
  auto bad = ParseCollectorConfig(std::string(kBaseConfig) +
                                      "web:\n  listen: nowhere\n  cert_file: a\n  key_file: b\n"
                                      "  tls_version: 1.0\n",
                                  "c.yaml", "/etc/mamori");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("c.yaml:5"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("web.listen"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("tls_version"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace mamori
