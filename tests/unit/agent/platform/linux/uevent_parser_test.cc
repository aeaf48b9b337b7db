#include "agent/platform/linux/uevent_parser.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/agent/platform/linux/linux_fixture.h"

namespace mamori {
namespace {

using testing::KernelUevent;

constexpr std::string_view kDevpath = "/devices/pci0000:00/0000:00:14.0/usb1/1-2";

std::string Raw(std::string_view s) { return std::string(s); }

// Fields joined the kernel's way: each NUL-terminated.
std::string Msg(std::initializer_list<std::string_view> fields) {
  std::string m;
  for (std::string_view f : fields) {
    m += f;
    m.push_back('\0');
  }
  return m;
}

TEST(UeventParserTest, ParsesAKernelUsbDeviceUevent) {
  const std::string msg =
      KernelUevent("add", Raw(kDevpath), "usb", "usb_device", 4711, "bus/usb/001/004");
  auto ev = ParseUevent(msg);
  ASSERT_TRUE(ev.ok()) << ev.error().message;
  EXPECT_EQ(ev->action, "add");
  EXPECT_EQ(ev->devpath, kDevpath);
  EXPECT_EQ(ev->subsystem, "usb");
  EXPECT_EQ(ev->devtype, "usb_device");
  EXPECT_EQ(ev->devname, "bus/usb/001/004");
  EXPECT_EQ(ev->seqnum, 4711u);
  EXPECT_EQ(ev->vars.at("SUBSYSTEM"), "usb");
}

TEST(UeventParserTest, ParsesABlockUeventWithoutDevtypeOrSeqnum) {
  const std::string m = Msg({"change@/devices/virtual/block/loop0", "ACTION=change",
                             "DEVPATH=/devices/virtual/block/loop0", "SUBSYSTEM=block"});
  auto ev = ParseUevent(m);
  ASSERT_TRUE(ev.ok()) << ev.error().message;
  EXPECT_EQ(ev->devtype, "");
  EXPECT_EQ(ev->seqnum, 0u);
}

TEST(UeventParserTest, ValuesKeepRawBytes) {
  std::string m = KernelUevent("add", Raw(kDevpath), "usb", "usb_device");
  m += "PRODUCT=<script>\x01\xff\xfe";
  m.push_back('\0');
  auto ev = ParseUevent(m);
  ASSERT_TRUE(ev.ok()) << ev.error().message;
  EXPECT_EQ(ev->vars.at("PRODUCT"), "<script>\x01\xff\xfe");
}

TEST(UeventParserTest, RefusesUdevRebroadcasts) {
  std::string m = "libudev";
  m.push_back('\0');
  m += "\xfe\xed\xca\xfe junk";
  auto ev = ParseUevent(m);
  ASSERT_FALSE(ev.ok());
  EXPECT_NE(ev.error().message.find("libudev"), std::string::npos);
}

TEST(UeventParserTest, RefusesMalformedMessagesWithAClearReason) {
  const std::string good = KernelUevent("add", Raw(kDevpath), "usb", "usb_device");
  struct Case {
    std::string bytes;
    std::string reason;
  };
  std::string no_at = good;
  no_at[3] = '#';
  const std::vector<Case> cases = {
      {"", "empty"},
      {"add@/devices/x", "NUL"},                 // no NUL at all
      {good.substr(0, good.size() - 1), "NUL"},  // last field cut
      {good.substr(0, good.size() - 5), "NUL"},  // truncated mid-field
      {no_at, "'@'"},                            // header without '@'
      {Msg({"add@/d", "ACTION=add", "SUBSYSTEM=usb"}), "DEVPATH"},
      {Msg({"add@/d", "DEVPATH=/d", "SUBSYSTEM=usb"}), "ACTION"},
      {Msg({"add@/d", "ACTION=add", "DEVPATH=/d"}), "SUBSYSTEM"},
      {Msg({"add@/d", "ACTION=add", "DEVPATH=/d", "SUBSYSTEM=usb", "NOEQUALS"}), "KEY=VALUE"},
      {Msg({"add@/d", "ACTION=add", "ACTION=add", "DEVPATH=/d", "SUBSYSTEM=usb"}), "duplicate"},
      {Msg({"add@/d", "ACTION=remove", "DEVPATH=/d", "SUBSYSTEM=usb"}), "header"},
      {Msg({"add@/d", "ACTION=add", "DEVPATH=/e", "SUBSYSTEM=usb"}), "header"},
      {Msg({"add@/d", "ACTION=add", "DEVPATH=/d", "SUBSYSTEM=usb", ""}), "empty field"},
      {Msg({"add@/d", "ACTION=add", "DEVPATH=/d", "SUBSYSTEM=usb", "SEQNUM=12a"}), "SEQNUM"},
      {KernelUevent("add", "/devices/../../etc", "usb", ""), "clean"},
      {KernelUevent("add", "devices/x", "usb", ""), "clean"},
      {KernelUevent("add", "/devices//x", "usb", ""), "clean"},
      {KernelUevent("add", "/devices/./x", "usb", ""), "clean"},
      {KernelUevent("ADD", "/devices/x", "usb", ""), "ACTION"},
      {KernelUevent("add", std::string("/devices/\x01x"), "usb", ""), "clean"},
  };
  for (const Case& c : cases) {
    auto ev = ParseUevent(c.bytes);
    ASSERT_FALSE(ev.ok()) << "accepted: " << ::testing::PrintToString(c.bytes);
    EXPECT_NE(ev.error().message.find(c.reason), std::string::npos)
        << ev.error().message << " for " << ::testing::PrintToString(c.bytes);
  }
}

TEST(UeventParserTest, RefusesHugeMessages) {
  std::string m = KernelUevent("add", Raw(kDevpath), "usb", "usb_device");
  m += "PRODUCT=" + std::string(kMaxUeventBytes, 'A');
  m.push_back('\0');
  auto ev = ParseUevent(m);
  ASSERT_FALSE(ev.ok());
  EXPECT_NE(ev.error().message.find("limit"), std::string::npos);
}

TEST(UeventParserTest, NeverThrowsOnArbitraryBytes) {
  // A cheap stand-in for the fuzz target: every prefix and every single-byte
  // corruption of a valid message.
  const std::string good = KernelUevent("add", Raw(kDevpath), "usb", "usb_device", 99, "sda");
  for (std::size_t n = 0; n <= good.size(); ++n) {
    EXPECT_NO_THROW((void)ParseUevent(std::string_view(good).substr(0, n)));
  }
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (int b : {0x00, 0x3d, 0x40, 0x2f, 0xff}) {
      std::string m = good;
      m[i] = static_cast<char>(b);
      EXPECT_NO_THROW((void)ParseUevent(m));
    }
  }
}

}  // namespace
}  // namespace mamori
