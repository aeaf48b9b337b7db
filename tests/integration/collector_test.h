#pragma once

// The setting most integration tests share: a running collector and an
// admin client for it.

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "tests/integration/harness.h"

namespace mamori::testing {

class CollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    collector_ = std::make_unique<CollectorProcess>(pki_, dir_);
    ASSERT_TRUE(collector_->Start()) << collector_->Log();
    admin_ = collector_->Admin(pki_.Admin());
  }

  // The terminal as the admin API shows it; nullopt while it is unknown.
  std::optional<v1::TerminalDetail> Terminal(const std::string& id) {
    grpc::ClientContext ctx;
    v1::GetTerminalRequest req;
    req.set_terminal_id(id);
    v1::TerminalDetail out;
    if (!admin_->GetTerminal(WithDeadline(&ctx), req, &out).ok()) return std::nullopt;
    return out;
  }

  TempDir dir_;
  TestPki pki_;
  std::unique_ptr<CollectorProcess> collector_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

// A policy whose media ledger registers the stick `serial` (0781:5581) and
// whose rule `registered-sticks` allows registered media.
inline std::string RegisteredStickPolicy(const std::string& name, const std::string& serial) {
  return "name: " + name +
         "\nregistered_media:\n"
         "  - serial: \"" +
         serial +
         "\"\n"
         "    vid_pid: \"0781:5581\"\n"
         "    owner: 山田太郎\n"
         "    department: 保険課\n"
         "rules:\n"
         "  - name: registered-sticks\n"
         "    match:\n"
         "      registered_media: true\n"
         "    action: allow\n";
}

}  // namespace mamori::testing
