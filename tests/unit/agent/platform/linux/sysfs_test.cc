#include "agent/platform/linux/sysfs.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "agent/platform/linux/block_guard.h"
#include "agent/platform/linux/uevent_source.h"
#include "tests/unit/agent/platform/linux/linux_fixture.h"

namespace mamori {
namespace {

using testing::FixtureTree;

TEST(SysfsTest, ReadsWritesListsAndResolvesUnderTheRoot) {
  FixtureTree tree;
  tree.AddRootHub(1);
  SysfsImpl sysfs(tree.root());
  auto v = sysfs.Read("/bus/usb/devices/usb1/authorized_default", 16);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(*v, "1\n");
  EXPECT_EQ(TrimNewline(*v), "1");
  ASSERT_TRUE(sysfs.Write("/bus/usb/devices/usb1/authorized_default", "0").ok());
  EXPECT_EQ(*sysfs.Read("/bus/usb/devices/usb1/authorized_default", 16), "0");
  auto names = sysfs.List("/bus/usb/devices");
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"usb1"});
  auto real = sysfs.RealPath("/bus/usb/devices/usb1");
  ASSERT_TRUE(real.ok()) << real.error().message;
  EXPECT_EQ(*real, std::string(FixtureTree::kController) + "/usb1");
  EXPECT_TRUE(sysfs.Exists("/bus/usb/devices/usb1"));
  EXPECT_FALSE(sysfs.Exists("/bus/usb/devices/usb9"));
}

TEST(SysfsTest, ReadsAreBoundedAndErrorsNameThePath) {
  FixtureTree tree;
  tree.WriteFile("/big", std::string(10000, 'x'));
  SysfsImpl sysfs(tree.root());
  EXPECT_EQ(sysfs.Read("/big", 4096)->size(), 4096u);
  auto missing = sysfs.Read("/nope", 16);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("/nope"), std::string::npos);
  // Writes never create files: a missing attribute is an error.
  EXPECT_FALSE(sysfs.Write("/bus/usb/devices/usb1/authorized", "1").ok());
  EXPECT_FALSE(sysfs.Exists("/bus/usb/devices/usb1/authorized"));
}

TEST(SysfsTest, AnAttributeOfADeviceBeingRemovedIsGoneNotAFailure) {
  // ENODEV: the write reached a device the kernel is removing.
  EXPECT_EQ(SysfsErrorCode(ENODEV), ErrorCode::kNotFound);
  EXPECT_EQ(SysfsErrorCode(ENOENT), ErrorCode::kNotFound);
  EXPECT_EQ(SysfsErrorCode(EACCES), ErrorCode::kPermissionDenied);
  EXPECT_EQ(SysfsErrorCode(EPERM), ErrorCode::kPermissionDenied);
  // What the kernel refuses on a present device stays a failure.
  EXPECT_EQ(SysfsErrorCode(EINVAL), ErrorCode::kIo);
  EXPECT_EQ(SysfsErrorCode(EIO), ErrorCode::kIo);
}

TEST(SysfsTest, RealPathRefusesToLeaveTheRoot) {
  FixtureTree tree;
  SysfsImpl sysfs(tree.root());
  std::filesystem::create_directory_symlink("/", tree.root() + "/escape");
  EXPECT_FALSE(sysfs.RealPath("/escape/etc").ok());
}

TEST(BlockGuardTest, RefusesUnsafeNamesAndMissingNodes) {
  FixtureTree tree;
  SysfsImpl sysfs(tree.root());
  BlockGuardImpl guard(tree.dev_root(), sysfs);
  for (const char* bad : {"", ".", "..", "../sda", "sd a", "sd\x01"}) {
    EXPECT_FALSE(IsValidBlockName(bad)) << bad;
    EXPECT_FALSE(guard.SetReadOnly(bad).ok());
  }
  EXPECT_TRUE(IsValidBlockName("sdb1"));
  Status s = guard.SetReadOnly("sdz");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("sdz"), std::string::npos);
}

TEST(NetlinkUeventSourceTest, OpensAndStopsOnInterrupt) {
  NetlinkUeventSource source;
  Status s = source.Open();
  // The agent cannot work without this socket; neither may its test pass.
  ASSERT_TRUE(s.ok()) << "cannot open the kernel uevent socket: " << s.error().message;
  source.Interrupt();
  auto batch = source.Receive();
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  EXPECT_TRUE(batch->stopped);
  source.Close();
}

}  // namespace
}  // namespace mamori
