// mamorictl against an in-process AdminService over mutual TLS: the real
// client path (TLS files, channel, deadlines, error messages) without a
// collector process.

#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include "common/crypto/credentials.h"
#include "mamori/v1/admin.grpc.pb.h"
#include "server/ctl/cli.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"
#include "tests/unit/server/ctl/run_ctl.h"

namespace mamori::ctl {
namespace {

using ::mamori::testing::TempDir;
using ::mamori::testing::TestPki;
using ::mamori::testing::TlsPaths;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::string MustRead(const std::string& path) {
  Result<std::string> r = ReadFileToString(path);
  if (!r) throw std::runtime_error(r.error().message);
  return *r;
}

class FakeAdminService final : public v1::AdminService::Service {
 public:
  grpc::Status GroupSummaries(grpc::ServerContext* ctx, const v1::GroupSummariesRequest* req,
                              v1::GroupSummariesResponse* resp) override {
    if (grpc::Status s = Enter(ctx); !s.ok()) return s;
    std::lock_guard lock(mu_);
    last_group_ = req->group();
    auto* g = resp->add_groups();
    g->set_group("osaka/吹田");
    g->set_terminals(2);
    g->set_compliant(1);
    g->set_non_compliant(1);
    return grpc::Status::OK;
  }

  grpc::Status ListTerminals(grpc::ServerContext* ctx, const v1::ListTerminalsRequest* req,
                             v1::ListTerminalsResponse* resp) override {
    if (grpc::Status s = Enter(ctx); !s.ok()) return s;
    std::lock_guard lock(mu_);
    last_group_ = req->group();
    last_status_ = req->status();
    auto* t = resp->add_terminals();
    t->set_terminal_id("t-001");
    t->set_group("osaka");
    t->set_status(v1::COMPLIANCE_STATUS_COMPLIANT);
    resp->set_total(1);
    return grpc::Status::OK;
  }

  grpc::Status GetTerminal(grpc::ServerContext* ctx, const v1::GetTerminalRequest* req,
                           v1::TerminalDetail* resp) override {
    if (grpc::Status s = Enter(ctx); !s.ok()) return s;
    if (req->terminal_id() != "t-001") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no terminal " + req->terminal_id());
    }
    resp->mutable_summary()->set_terminal_id("t-001");
    auto* d = resp->add_devices();
    d->set_vid_pid("0781:5581");
    d->set_product("Evil\x1b[2JDrive");
    return grpc::Status::OK;
  }

  grpc::Status QueryEvents(grpc::ServerContext* ctx, const v1::QueryEventsRequest* req,
                           v1::QueryEventsResponse* resp) override {
    if (grpc::Status s = Enter(ctx); !s.ok()) return s;
    std::lock_guard lock(mu_);
    last_kinds_ = req->kinds_size();
    last_limit_ = req->limit();
    auto* e = resp->add_events();
    e->set_terminal_id("t-001");
    e->set_kind(v1::EVENT_KIND_DEVICE_BLOCKED);
    return grpc::Status::OK;
  }

  grpc::Status GetPolicy(grpc::ServerContext* ctx, const v1::GetPolicyRequest* req,
                         v1::GetPolicyResponse* resp) override {
    if (grpc::Status s = Enter(ctx); !s.ok()) return s;
    resp->mutable_bundle()->set_version(req->version() == 0 ? 4 : req->version());
    resp->mutable_bundle()->set_group(req->group());
    resp->mutable_bundle()->set_policy_yaml("name: fake\n");
    return grpc::Status::OK;
  }

  grpc::Status ApplyPolicy(grpc::ServerContext* ctx, const v1::ApplyPolicyRequest* req,
                           v1::ApplyPolicyResponse* resp) override {
    if (grpc::Status s = Enter(ctx); !s.ok()) return s;
    std::lock_guard lock(mu_);
    last_group_ = req->group();
    applied_yaml_ = req->policy_yaml();
    last_dry_run_ = req->dry_run();
    if (!req->dry_run()) {
      resp->set_version(5);
      return grpc::Status::OK;
    }
    v1::PolicyDryRun* run = resp->mutable_dry_run();
    run->set_current_version(4);
    run->set_current_group("osaka");
    run->set_current_inherited(req->group() != "osaka");
    run->set_policy_name("test");
    run->set_diff(
        "--- osaka v4\n+++ new.yaml\n@@ -1,2 +1,2 @@\n-name: old\n+name: test\n rules:\n");
    run->set_terminals_examined(1);
    run->set_devices_examined(2);
    if (req->group() == "osaka/quiet") return grpc::Status::OK;
    v1::DecisionChange* c = run->add_changes();
    c->set_terminal_id("t-001");
    c->set_group(req->group());
    c->mutable_device()->set_vid_pid("0781:5581");
    c->mutable_device()->set_serial("4C53");
    c->mutable_device()->set_product("Evil\x1b[2JStick");
    c->mutable_old_decision()->set_action(v1::ACTION_ALLOW);
    c->mutable_old_decision()->set_matched_rule("registered-media");
    c->mutable_new_decision()->set_action(v1::ACTION_BLOCK);
    c->mutable_new_decision()->set_matched_rule("default");
    return grpc::Status::OK;
  }

  grpc::Status PolicyHistory(grpc::ServerContext* ctx, const v1::PolicyHistoryRequest* req,
                             v1::PolicyHistoryResponse* resp) override {
    if (grpc::Status s = Enter(ctx); !s.ok()) return s;
    std::lock_guard lock(mu_);
    last_group_ = req->group();
    last_limit_ = req->limit();
    if (req->group() == "nara") return grpc::Status::OK;
    for (uint64_t v : {7, 3}) {
      auto* e = resp->add_entries();
      e->set_version(v);
      e->set_group(req->group());
      e->set_applied_by(v == 7 ? "mamori://admin/alice" : "mamori://admin/bob");
      e->mutable_applied_at()->set_seconds(1'700'000'000 + static_cast<int64_t>(v));
      e->set_policy_name(v == 7 ? "strict" : "default");
      e->set_yaml_bytes(123);
      e->set_first_line("# Policy \x1b]0;pwned\x07 v" + std::to_string(v));
    }
    return grpc::Status::OK;
  }

  void Deny() { deny_ = true; }
  int calls() const { return calls_; }
  std::string last_group() {
    std::lock_guard lock(mu_);
    return last_group_;
  }
  int last_status() {
    std::lock_guard lock(mu_);
    return last_status_;
  }
  int last_kinds() {
    std::lock_guard lock(mu_);
    return last_kinds_;
  }
  uint32_t last_limit() {
    std::lock_guard lock(mu_);
    return last_limit_;
  }
  std::string applied_yaml() {
    std::lock_guard lock(mu_);
    return applied_yaml_;
  }
  bool last_dry_run() {
    std::lock_guard lock(mu_);
    return last_dry_run_;
  }

 private:
  grpc::Status Enter(grpc::ServerContext* ctx) {
    ++calls_;
    // The channel presented the admin certificate.
    const auto sans = ctx->auth_context()->FindPropertyValues("x509_subject_alternative_name");
    bool admin = false;
    for (const auto& san : sans)
      admin = admin || std::string(san.data(), san.size()) == "mamori://admin/admin";
    if (!admin || deny_) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "admin certificate required");
    }
    return grpc::Status::OK;
  }

  std::atomic<int> calls_{0};
  std::atomic<bool> deny_{false};
  std::mutex mu_;
  std::string last_group_;
  int last_status_ = 0;
  int last_kinds_ = 0;
  uint32_t last_limit_ = 0;
  std::string applied_yaml_;
  bool last_dry_run_ = false;
};

class AdminCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const TlsPaths server = pki_.Server();
    grpc::SslServerCredentialsOptions opts(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    opts.pem_root_certs = MustRead(server.ca);
    opts.pem_key_cert_pairs.push_back({MustRead(server.key), MustRead(server.cert)});
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(opts), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }

  void TearDown() override { server_->Shutdown(); }

  std::string Address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Runs mamorictl with the admin credentials as flags.
  CtlResult Ctl(std::vector<std::string> args, const TlsPaths& creds) {
    for (const std::string& a : {std::string("--collector"), Address(), std::string("--ca"),
                                 creds.ca, std::string("--cert"), creds.cert, std::string("--key"),
                                 creds.key, std::string("--timeout"), std::string("5")}) {
      args.push_back(a);
    }
    return CtlRaw(args);
  }
  CtlResult Ctl(std::vector<std::string> args) { return Ctl(std::move(args), pki_.Admin()); }

  CtlResult CtlRaw(const std::vector<std::string>& args, CliEnvironment env = {}) {
    return RunCtl(args, env);
  }

  TestPki pki_;
  TempDir dir_;
  FakeAdminService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(AdminCommandsTest, StatusTable) {
  const CtlResult r = Ctl({"status", "--group", "osaka"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("NON-COMPLIANT"));
  EXPECT_THAT(r.out, HasSubstr("osaka/吹田"));
  EXPECT_THAT(r.out, HasSubstr("50.0"));
  EXPECT_EQ(service_.last_group(), "osaka");
  EXPECT_THAT(r.err, IsEmpty());
}

TEST_F(AdminCommandsTest, TerminalsWithFiltersAndJson) {
  CtlResult r = Ctl({"terminals", "--status", "non_compliant", "--group", "osaka"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("t-001"));
  EXPECT_EQ(service_.last_status(), v1::COMPLIANCE_STATUS_NON_COMPLIANT);

  r = Ctl({"terminals", "--output", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  v1::ListTerminalsResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &parsed).ok()) << r.out;
  EXPECT_EQ(parsed.terminals(0).terminal_id(), "t-001");
  EXPECT_EQ(parsed.total(), 1u);
}

TEST_F(AdminCommandsTest, TerminalDetailEscapesDeviceStrings) {
  CtlResult r = Ctl({"terminal", "t-001"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Evil\\x1b[2JDrive"));
  EXPECT_THAT(r.out, Not(HasSubstr("\x1b")));

  r = Ctl({"terminal", "t-404"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("collector refused: NOT_FOUND: no terminal t-404"));
}

TEST_F(AdminCommandsTest, EventsKindsAndLimit) {
  const CtlResult r =
      Ctl({"events", "--kind", "device_blocked", "--kind", "policy_applied", "--limit", "7"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("device_blocked"));
  EXPECT_EQ(service_.last_kinds(), 2);
  EXPECT_EQ(service_.last_limit(), 7u);
}

TEST_F(AdminCommandsTest, PolicyShow) {
  const CtlResult r = Ctl({"policy", "show", "--group", "osaka", "--version", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("# version:     2"));
  EXPECT_THAT(r.out, HasSubstr("name: fake"));
}

TEST_F(AdminCommandsTest, PolicyApplyValidatesLocallyFirst) {
  const std::string good = dir_.Write(
      "good.yaml",
      "name: test\ndefaults:\n  storage: block\nrules:\n  - name: block-phones\n    match:\n"
      "      class: still_image\n    action: block\n");
  CtlResult r = Ctl({"policy", "apply", good, "--group", "osaka/suita"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("version 5"));
  EXPECT_EQ(service_.last_group(), "osaka/suita");
  EXPECT_EQ(service_.applied_yaml(), MustRead(good));

  const int calls = service_.calls();
  const std::string bad =
      dir_.Write("bad.yaml",
                 "name: broken\ndefaults:\n  storage: block\nrules:\n  - name: r1\n    match:\n"
                 "      vid_pid: \"zz:1\"\n    action: allow\n");
  r = Ctl({"policy", "apply", bad, "--group", "osaka"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("bad.yaml:7"));
  EXPECT_EQ(service_.calls(), calls);  // the collector was never contacted

  r = Ctl({"policy", "apply", dir_.File("missing.yaml"), "--group", "osaka"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr(dir_.File("missing.yaml") + ": cannot open"));
  EXPECT_EQ(service_.calls(), calls);
}

TEST_F(AdminCommandsTest, PolicyApplyDryRunShowsDiffAndChangedDecisions) {
  const std::string good = dir_.Write(
      "new.yaml", "name: test\nrules:\n  - name: r\n    match: {class: hid}\n    action: allow\n");
  CtlResult r = Ctl({"policy", "apply", good, "--group", "osaka/suita", "--dry-run"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(service_.last_dry_run());
  EXPECT_EQ(service_.last_group(), "osaka/suita");
  EXPECT_THAT(r.out, HasSubstr("Dry run: nothing was stored."));
  EXPECT_THAT(r.out, HasSubstr("version 4 of osaka (inherited)"));
  EXPECT_THAT(r.out, HasSubstr("-name: old\n+name: test\n"));
  EXPECT_THAT(r.out, HasSubstr("OLD RULE"));
  EXPECT_THAT(r.out, HasSubstr("registered-media"));
  EXPECT_THAT(r.out, HasSubstr("0781:5581"));
  EXPECT_THAT(r.out, HasSubstr("Evil\\x1b[2JStick"));
  EXPECT_THAT(r.out, Not(HasSubstr("\x1b")));
  EXPECT_THAT(r.out, Not(HasSubstr("Applied")));

  r = Ctl({"policy", "apply", good, "--group", "osaka/quiet", "--dry-run"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("(no device would change decision)"));

  r = Ctl({"policy", "apply", good, "--group", "osaka", "--dry-run", "--output", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  v1::ApplyPolicyResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &parsed).ok()) << r.out;
  EXPECT_EQ(parsed.version(), 0u);
  EXPECT_EQ(parsed.dry_run().current_version(), 4u);
  EXPECT_FALSE(parsed.dry_run().current_inherited());
  ASSERT_EQ(parsed.dry_run().changes_size(), 1);
  EXPECT_EQ(parsed.dry_run().changes(0).new_decision().action(), v1::ACTION_BLOCK);

  // Without --dry-run nothing changed: a real apply, the same message.
  r = Ctl({"policy", "apply", good, "--group", "osaka"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(service_.last_dry_run());
  EXPECT_EQ(r.out, "Applied " + good + " to group osaka: version 5\n");

  r = Ctl({"policy", "apply", good, "--group", "osaka", "--output", "yaml"});
  EXPECT_EQ(r.code, 2);
}

TEST_F(AdminCommandsTest, PolicyHistoryTableAndJson) {
  CtlResult r = Ctl({"policy", "history", "--group", "osaka", "--limit", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(service_.last_group(), "osaka");
  EXPECT_EQ(service_.last_limit(), 2u);
  EXPECT_THAT(r.out, HasSubstr("APPLIED BY"));
  EXPECT_THAT(r.out, HasSubstr("mamori://admin/alice"));
  EXPECT_THAT(r.out, HasSubstr("strict"));
  EXPECT_THAT(r.out, Not(HasSubstr("\x1b")));
  EXPECT_THAT(r.out, Not(HasSubstr("\x07")));
  EXPECT_LT(r.out.find("mamori://admin/alice"), r.out.find("mamori://admin/bob"));

  r = Ctl({"policy", "history", "--group", "osaka", "--output", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  v1::PolicyHistoryResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &parsed).ok()) << r.out;
  ASSERT_EQ(parsed.entries_size(), 2);
  EXPECT_EQ(parsed.entries(0).version(), 7u);

  r = Ctl({"policy", "history", "--group", "nara"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("(group nara has no policy of its own)"));

  const int calls = service_.calls();
  EXPECT_EQ(Ctl({"policy", "history"}).code, 2);
  EXPECT_EQ(Ctl({"policy", "history", "--group", "osaka", "--limit", "0"}).code, 2);
  EXPECT_EQ(service_.calls(), calls);
}

TEST_F(AdminCommandsTest, RefusalIsReported) {
  service_.Deny();
  const CtlResult r = Ctl({"status"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "mamorictl: collector refused: PERMISSION_DENIED: admin certificate required\n");
  EXPECT_THAT(r.out, IsEmpty());
}

TEST_F(AdminCommandsTest, TerminalCertificateIsNotAnAdmin) {
  const TlsPaths terminal = pki_.IssueTerminal("t-sneaky", "osaka");
  const CtlResult r = Ctl({"status"}, terminal);
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("tls.cert_file " + terminal.cert +
                               ": not an admin certificate (identity mamori://terminal/t-sneaky)"));
  EXPECT_EQ(service_.calls(), 0);
}

TEST_F(AdminCommandsTest, UnreachableCollector) {
  const TlsPaths admin = pki_.Admin();
  server_->Shutdown();
  const CtlResult r = CtlRaw({"status", "--collector", Address(), "--ca", admin.ca, "--cert",
                              admin.cert, "--key", admin.key, "--timeout", "5"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot reach collector at " + Address() + ": "));
}

TEST_F(AdminCommandsTest, ServerNameIsVerified) {
  const TlsPaths admin = pki_.Admin();
  CtlResult r = CtlRaw({"status", "--collector", Address(), "--ca", admin.ca, "--cert", admin.cert,
                        "--key", admin.key, "--server-name", "localhost"});
  EXPECT_EQ(r.code, 0) << r.err;
  r = CtlRaw({"status", "--collector", Address(), "--ca", admin.ca, "--cert", admin.cert, "--key",
              admin.key, "--server-name", "impostor.example", "--timeout", "5"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot reach collector"));
}

TEST_F(AdminCommandsTest, ConfigFileFromEnvironment) {
  const TlsPaths admin = pki_.Admin();
  const std::string config = dir_.Write(
      "ctl.yaml", "collector:\n  address: " + Address() + "\n  server_name: localhost\ntls:\n" +
                      "  ca_file: " + admin.ca + "\n  cert_file: " + admin.cert +
                      "\n  key_file: " + admin.key + "\n");
  CliEnvironment env;
  env.config_path = config;
  CtlResult r = CtlRaw({"status"}, env);
  EXPECT_EQ(r.code, 0) << r.err;
  // A flag overrides the file: this address has nothing listening.
  r = CtlRaw({"status", "--collector", "127.0.0.1:1", "--timeout", "5"}, env);
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot reach collector at 127.0.0.1:1"));
}

TEST_F(AdminCommandsTest, BadCredentialsNamedBeforeConnecting) {
  const TlsPaths expired = pki_.IssueExpiredTerminal("old");
  CtlResult r = Ctl({"status"}, TlsPaths{pki_.ca_file(), expired.cert, expired.key});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("tls.cert_file " + expired.cert + ": certificate expired on"));

  r = Ctl({"status"}, TlsPaths{pki_.ca_file(), pki_.Admin().cert, dir_.File("none.key")});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("tls.key_file " + dir_.File("none.key") + ": cannot open"));
  EXPECT_EQ(service_.calls(), 0);
}

}  // namespace
}  // namespace mamori::ctl
