#include "server/ingest/ingest_writer.h"

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <mutex>
#include <vector>

#include "server/store/store.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using testing::TempDir;

TerminalState State(const std::string& id, std::vector<std::string> device_ids) {
  TerminalState s;
  s.terminal_id = id;
  s.group = "osaka";
  s.last_report_ms = 1'000;
  for (auto& d : device_ids) {
    Device device;
    device.device_id = d;
    s.devices.push_back(device);
  }
  return s;
}

class IngestWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = OpenSqliteStore(dir_.File("c.db"), {});
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store).value();
  }

  // Holds the writer thread inside a commit until Release(), so everything
  // submitted meanwhile lands in the next group commit together.
  void Hold(IngestWriter& writer) {
    writer.Submit(
        [this]() -> Status {
          held_.set_value();
          release_.get_future().wait();
          return Status::Ok();
        },
        [](const Status&) {});
    held_.get_future().wait();
  }
  void Release() { release_.set_value(); }

  struct Outcome {
    std::mutex mu;
    std::vector<std::pair<std::string, Status>> results;
    std::promise<void> all;
    std::size_t expected = 0;
    IngestWriter::Done For(std::string name) {
      return [this, name](const Status& s) {
        std::lock_guard lock(mu);
        results.emplace_back(name, s);
        if (results.size() == expected) all.set_value();
      };
    }
  };

  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::promise<void> held_;
  std::promise<void> release_;
};

TEST_F(IngestWriterTest, OneBadWriteInAGroupCommitFailsAloneAndTheOthersCommit) {
  IngestWriter writer(store_.get(), 64, 1000);
  Hold(writer);
  Outcome out;
  out.expected = 3;
  Store* store = store_.get();
  writer.Submit([store] { return store->PutTerminalState(State("t-honest-1", {"a"})); },
                out.For("honest-1"), "t-honest-1");
  // The store refuses a snapshot listing one device twice.
  writer.Submit(
      [store] {
        return store->PutTerminalState(State("t-hostile", {"x", "x"}));
      },
      out.For("hostile"), "t-hostile");
  writer.Submit([store] { return store->PutTerminalState(State("t-honest-2", {"b"})); },
                out.For("honest-2"), "t-honest-2");
  Release();
  out.all.get_future().wait();
  for (auto& [name, status] : out.results) {
    EXPECT_EQ(status.ok(), name != "hostile") << name;
  }
  for (const char* id : {"t-honest-1", "t-honest-2"}) {
    auto t = store_->GetTerminal(id);
    ASSERT_TRUE(t.ok());
    EXPECT_TRUE(t->has_value()) << id;
  }
  auto hostile = store_->GetTerminal("t-hostile");
  ASSERT_TRUE(hostile.ok());
  EXPECT_FALSE(hostile->has_value());  // nothing of the failed write remains
}

TEST_F(IngestWriterTest, OneOwnerCannotTakeTheSharedQueue) {
  IngestWriter writer(store_.get(), 64, 1000, 3);
  Hold(writer);
  Outcome out;
  out.expected = 5;
  for (int i = 0; i < 4; ++i) {
    writer.Submit([] { return Status::Ok(); }, out.For("hostile-" + std::to_string(i)),
                  "t-hostile");
  }
  writer.Submit([] { return Status::Ok(); }, out.For("honest"), "t-honest");
  Release();
  out.all.get_future().wait();
  int refused = 0;
  for (auto& [name, status] : out.results) {
    if (name == "honest") {
      EXPECT_TRUE(status.ok());
    }
    if (!status.ok()) {
      EXPECT_EQ(status.error().code, ErrorCode::kResourceExhausted) << name;
      ++refused;
    }
  }
  EXPECT_EQ(refused, 1);
  // Once committed, the owner's share is free again.
  std::promise<Status> later;
  writer.Submit([] { return Status::Ok(); }, [&](const Status& s) { later.set_value(s); },
                "t-hostile");
  EXPECT_TRUE(later.get_future().get().ok());
}

}  // namespace
}  // namespace mamori
