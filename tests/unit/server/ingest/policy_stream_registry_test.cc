#include "server/ingest/policy_stream_registry.h"

#include <gtest/gtest.h>

#include <vector>

namespace mamori {
namespace {

class FakeStream final : public PolicyStreamRegistry::Stream {
 public:
  void Close(const grpc::Status& status) override { closes.push_back(status); }
  std::vector<grpc::Status> closes;
};

TEST(PolicyStreamRegistryTest, ANewStreamBeyondTheBoundClosesTheTerminalsOldest) {
  PolicyStreamRegistry registry(2);
  FakeStream a, b, c, other;
  registry.Add("t-1", "ipv4:127.0.0.1:1", &a);
  registry.Add("t-1", "ipv4:127.0.0.1:2", &b);
  registry.Add("t-2", "ipv4:127.0.0.1:3", &other);
  EXPECT_EQ(registry.Count("t-1"), 2u);
  EXPECT_TRUE(a.closes.empty());

  registry.Add("t-1", "ipv4:127.0.0.1:4", &c);
  ASSERT_EQ(a.closes.size(), 1u);
  EXPECT_EQ(a.closes[0].error_code(), grpc::StatusCode::ABORTED);
  EXPECT_TRUE(b.closes.empty());
  EXPECT_TRUE(c.closes.empty());
  EXPECT_TRUE(other.closes.empty());  // another terminal is not touched
  EXPECT_EQ(registry.Count("t-1"), 2u);
  EXPECT_EQ(registry.Count("t-2"), 1u);

  // The closed stream's own removal later finds nothing to remove.
  registry.Remove("t-1", &a);
  EXPECT_EQ(registry.Count("t-1"), 2u);
  registry.Remove("t-1", &b);
  registry.Remove("t-1", &c);
  EXPECT_EQ(registry.Count("t-1"), 0u);
}

TEST(PolicyStreamRegistryTest, AHundredStreamsOfOneTerminalLeaveTwoOpen) {
  PolicyStreamRegistry registry(2);
  std::vector<FakeStream> streams(100);
  for (auto& s : streams) registry.Add("t-hostile", "ipv4:127.0.0.1:1", &s);
  EXPECT_EQ(registry.Count("t-hostile"), 2u);
  for (std::size_t i = 0; i < streams.size(); ++i) {
    EXPECT_EQ(streams[i].closes.size(), i < 98 ? 1u : 0u) << i;
  }
}

}  // namespace
}  // namespace mamori
