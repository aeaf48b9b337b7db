#include "common/base/unique_resource.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace mamori {
namespace {

std::vector<int> closed;

struct CountingTraits {
  using Handle = int;
  static Handle Invalid() { return -1; }
  static bool IsValid(Handle h) { return h >= 0; }
  static void Close(Handle h) { closed.push_back(h); }
};
using Unique = UniqueResource<CountingTraits>;

class UniqueResourceTest : public ::testing::Test {
 protected:
  void SetUp() override { closed.clear(); }
};

TEST_F(UniqueResourceTest, ClosesOnceOnScopeExit) {
  { Unique u(3); }
  EXPECT_EQ(closed, std::vector<int>{3});
}

TEST_F(UniqueResourceTest, InvalidIsNeverClosed) {
  { Unique u; }
  { Unique u(-1); }
  EXPECT_TRUE(closed.empty());
}

TEST_F(UniqueResourceTest, MoveTransfersOwnership) {
  {
    Unique a(1);
    Unique b(std::move(a));
    EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): checking the moved-from state
    EXPECT_EQ(b.get(), 1);
    Unique c(2);
    c = std::move(b);  // closes 2
    EXPECT_EQ(closed, std::vector<int>{2});
  }
  EXPECT_EQ(closed, (std::vector<int>{2, 1}));
}

TEST_F(UniqueResourceTest, ReleaseAndReset) {
  Unique u(5);
  EXPECT_EQ(u.release(), 5);
  EXPECT_FALSE(u);
  u.reset(6);
  u.reset(7);
  EXPECT_EQ(closed, std::vector<int>{6});
  *u.out() = 8;  // out() closes 7 first
  EXPECT_EQ(closed, (std::vector<int>{6, 7}));
  EXPECT_EQ(u.get(), 8);
}

}  // namespace
}  // namespace mamori
