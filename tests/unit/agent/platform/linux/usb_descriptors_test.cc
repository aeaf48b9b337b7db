#include "agent/platform/linux/usb_descriptors.h"

#include <gtest/gtest.h>

#include "tests/unit/agent/platform/linux/linux_fixture.h"

namespace mamori {
namespace {

using namespace mamori::testing;

TEST(UsbDescriptorsTest, Keyboard) {
  auto d = ParseUsbDescriptors(KeyboardDescriptors());
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d->complete);
  EXPECT_EQ(d->vendor_id, 0x046d);
  EXPECT_EQ(d->product_id, 0xc31c);
  EXPECT_EQ(d->device_class, 0);
  EXPECT_EQ(d->num_configurations, 1);
  ASSERT_EQ(d->interfaces.size(), 1u);
  EXPECT_EQ(d->interfaces[0], (UsbInterfaceDescriptor{.configuration_value = 1,
                                                      .number = 0,
                                                      .alternate = 0,
                                                      .cls = 0x03,
                                                      .subclass = 0x01,
                                                      .protocol = 0x01}));
}

TEST(UsbDescriptorsTest, ReleaseNumberAndInterfaceStringIndex) {
  // The release number is part of the modalias drivers match; the string
  // index tells an interface without a name from one whose name is unread.
  const std::string bytes = DeviceDescriptor(0, 0x18d1, 0x4ee2) +
                            ConfigDescriptor(1, 2,
                                             InterfaceDescriptor(0, 0, 0xff, 0xff, 0x00, 5) +
                                                 InterfaceDescriptor(1, 0, 0xff, 0x42, 0x01));
  auto d = ParseUsbDescriptors(bytes);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->bcd_device, 0x0100);
  ASSERT_EQ(d->interfaces.size(), 2u);
  EXPECT_EQ(d->interfaces[0].string_index, 5);
  EXPECT_EQ(d->interfaces[1].string_index, 0);
}

TEST(UsbDescriptorsTest, Stick) {
  auto d = ParseUsbDescriptors(StickDescriptors());
  ASSERT_TRUE(d.ok()) << d.error().message;
  ASSERT_EQ(d->interfaces.size(), 1u);
  EXPECT_EQ(d->interfaces[0].cls, 0x08);
  EXPECT_EQ(d->interfaces[0].subclass, 0x06);
  EXPECT_EQ(d->interfaces[0].protocol, 0x50);
}

TEST(UsbDescriptorsTest, CompositeAndSeveralConfigurationsAndAlternates) {
  const std::string bytes =
      DeviceDescriptor(0, 1, 2, 2) +
      ConfigDescriptor(1, 2,
                       InterfaceDescriptor(0, 0, 0x03, 1, 1) + EndpointDescriptor(0x81) +
                           InterfaceDescriptor(1, 0, 0x08, 6, 0x50) +
                           InterfaceDescriptor(1, 1, 0x08, 6, 0x62)) +
      ConfigDescriptor(2, 1, InterfaceDescriptor(0, 0, 0xff, 0xff, 0));
  auto d = ParseUsbDescriptors(bytes);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d->complete);
  ASSERT_EQ(d->interfaces.size(), 4u);
  EXPECT_EQ(d->interfaces[2].alternate, 1);
  EXPECT_EQ(d->interfaces[2].protocol, 0x62);
  EXPECT_EQ(d->interfaces[3].configuration_value, 2);
  EXPECT_EQ(d->interfaces[3].cls, 0xff);
}

TEST(UsbDescriptorsTest, RefusesWhatIsNotADeviceDescriptor) {
  EXPECT_FALSE(ParseUsbDescriptors("").ok());
  EXPECT_FALSE(ParseUsbDescriptors(KeyboardDescriptors().substr(0, 17)).ok());
  std::string wrong_type = KeyboardDescriptors();
  wrong_type[1] = 2;
  EXPECT_FALSE(ParseUsbDescriptors(wrong_type).ok());
  std::string wrong_len = KeyboardDescriptors();
  wrong_len[0] = 9;
  EXPECT_FALSE(ParseUsbDescriptors(wrong_len).ok());
}

TEST(UsbDescriptorsTest, DeviceDescriptorAloneIsComplete) {
  auto d = ParseUsbDescriptors(DeviceDescriptor(0x09, 1, 2));
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->complete);
  EXPECT_EQ(d->device_class, 0x09);
  EXPECT_TRUE(d->interfaces.empty());
}

TEST(UsbDescriptorsTest, TruncatedConfigurationKeepsWhatCameBefore) {
  const std::string full = CompositeDescriptors();
  // Cut inside the storage interface: the keyboard interface survives.
  const std::size_t cut = 18 + 9 + 9 + 7 + 4;
  auto d = ParseUsbDescriptors(full.substr(0, cut));
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_FALSE(d->complete);
  ASSERT_EQ(d->interfaces.size(), 1u);
  EXPECT_EQ(d->interfaces[0].cls, 0x03);
}

TEST(UsbDescriptorsTest, WrongLengthsEndTheWalk) {
  // wTotalLength smaller than the configuration descriptor.
  std::string small_total = KeyboardDescriptors();
  small_total[18 + 2] = 4;
  small_total[18 + 3] = 0;
  auto d = ParseUsbDescriptors(small_total);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->complete);
  EXPECT_TRUE(d->interfaces.empty());

  // A descriptor claiming more bytes than remain.
  std::string long_desc = KeyboardDescriptors();
  long_desc[18 + 9] = static_cast<char>(200);
  d = ParseUsbDescriptors(long_desc);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->complete);
  EXPECT_TRUE(d->interfaces.empty());

  // Garbage after the last configuration.
  d = ParseUsbDescriptors(KeyboardDescriptors() + "\x05");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->complete);
  EXPECT_EQ(d->interfaces.size(), 1u);
}

TEST(UsbDescriptorsTest, ZeroLengthDescriptorsTerminate) {
  // A configuration full of zero bytes, claiming 64 KiB.
  std::string body(2000, '\0');
  std::string bytes = DeviceDescriptor(0, 1, 2) + ConfigDescriptor(1, 1, body);
  bytes[18 + 2] = static_cast<char>(0xff);
  bytes[18 + 3] = static_cast<char>(0xff);
  auto d = ParseUsbDescriptors(bytes);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->complete);
  EXPECT_TRUE(d->interfaces.empty());

  // bLength 1 (a header cannot be shorter than 2).
  std::string one = KeyboardDescriptors();
  one[18 + 9] = 1;
  d = ParseUsbDescriptors(one);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->complete);
}

TEST(UsbDescriptorsTest, ShortInterfaceDescriptorsAreSkippedLikeTheKernel) {
  const std::string body = std::string{5, 4, 0, 0, 0} + InterfaceDescriptor(1, 0, 0x08, 6, 0x50);
  auto d = ParseUsbDescriptors(DeviceDescriptor(0, 1, 2) + ConfigDescriptor(1, 2, body));
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->complete);
  ASSERT_EQ(d->interfaces.size(), 1u);
  EXPECT_EQ(d->interfaces[0].cls, 0x08);
}

TEST(UsbDescriptorsTest, HugeInputIsBounded) {
  std::string body;
  for (int i = 0; i < 3000; ++i) body += InterfaceDescriptor(0, 0, 3, 1, 1);
  std::string bytes = DeviceDescriptor(0, 1, 2);
  // Split into configurations that each fit wTotalLength.
  for (std::size_t off = 0; off < body.size(); off += 9 * 7000) {
    bytes += ConfigDescriptor(1, 1, body.substr(off, 9 * 7000));
  }
  auto d = ParseUsbDescriptors(bytes);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->complete);
  EXPECT_EQ(d->interfaces.size(), kMaxUsbInterfaceEntries);
}

TEST(UsbDescriptorsTest, NeverThrowsOnCorruptions) {
  const std::string good = CompositeDescriptors();
  for (std::size_t n = 0; n <= good.size(); ++n) {
    EXPECT_NO_THROW((void)ParseUsbDescriptors(std::string_view(good).substr(0, n)));
  }
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (int b : {0x00, 0x01, 0x02, 0x09, 0xff}) {
      std::string m = good;
      m[i] = static_cast<char>(b);
      EXPECT_NO_THROW((void)ParseUsbDescriptors(m));
    }
  }
}

TEST(UsbDescriptorsTest, HashIsHexSha256OfTheRawBytes) {
  EXPECT_EQ(DescriptorHash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(DescriptorHash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace mamori
