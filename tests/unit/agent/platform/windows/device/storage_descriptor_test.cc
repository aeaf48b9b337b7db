#include "agent/platform/windows/device/storage_descriptor.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace mamori {
namespace {

// Builds STORAGE_DEVICE_DESCRIPTOR bytes as a driver returns them: the
// fixed part, then the strings (each NUL-terminated) at the offsets
// recorded in it.
class Descriptor {
 public:
  Descriptor(uint32_t bus, bool removable) : bytes_(36, 0) {
    Put(0, 40);        // Version
    bytes_[8] = 0x00;  // DeviceType: direct access
    bytes_[10] = removable ? 1 : 0;
    Put(28, bus);
  }
  Descriptor& String(std::size_t offset_field, const std::string& s, bool nul = true) {
    Put(offset_field, static_cast<uint32_t>(bytes_.size()));
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    if (nul) bytes_.push_back(0);
    return *this;
  }
  Descriptor& Put(std::size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes_[at + i] = static_cast<uint8_t>(v >> (8 * i));
    return *this;
  }
  // Size = the bytes built so far, unless set otherwise.
  std::vector<uint8_t> Bytes(std::optional<uint32_t> size = std::nullopt) {
    std::vector<uint8_t> out = bytes_;
    const uint32_t v = size ? *size : static_cast<uint32_t>(out.size());
    for (int i = 0; i < 4; ++i) out[4 + i] = static_cast<uint8_t>(v >> (8 * i));
    return out;
  }

  static constexpr std::size_t kVendor = 12;
  static constexpr std::size_t kProduct = 16;
  static constexpr std::size_t kRevision = 20;
  static constexpr std::size_t kSerial = 24;

 private:
  std::vector<uint8_t> bytes_;
};

TEST(StorageDescriptorTest, SdCardWithStrings) {
  const auto bytes = Descriptor(kStorageBusSd, true)
                         .String(Descriptor::kVendor, "")
                         .String(Descriptor::kProduct, "SD16G")
                         .String(Descriptor::kRevision, "8.0")
                         .String(Descriptor::kSerial, "0x1234abcd")
                         .Bytes();
  const auto p = ParseStorageDeviceDescriptor(bytes);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->bus_type, kStorageBusSd);
  EXPECT_TRUE(p->removable_media);
  EXPECT_EQ(p->vendor, "");
  EXPECT_EQ(p->product, "SD16G");
  EXPECT_EQ(p->revision, "8.0");
  EXPECT_EQ(p->serial, "0x1234abcd");
}

TEST(StorageDescriptorTest, ScsiPaddingIsTrimmed) {
  const auto bytes = Descriptor(kStorageBusUsb, true)
                         .String(Descriptor::kVendor, "SanDisk ")
                         .String(Descriptor::kProduct, "Ultra           ")
                         .String(Descriptor::kSerial, "   ")
                         .Bytes();
  const auto p = ParseStorageDeviceDescriptor(bytes);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->vendor, "SanDisk");
  EXPECT_EQ(p->product, "Ultra");
  EXPECT_EQ(p->serial, "");    // only padding
  EXPECT_EQ(p->revision, "");  // offset 0: absent
}

TEST(StorageDescriptorTest, FixedPartOnly) {
  // An old driver that stops after BusType (32 bytes).
  auto bytes = Descriptor(kStorageBusNvme, false).Bytes(32);
  bytes.resize(32);
  const auto p = ParseStorageDeviceDescriptor(bytes);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->bus_type, kStorageBusNvme);
  EXPECT_FALSE(p->removable_media);
}

TEST(StorageDescriptorTest, TruncatedBuffersAreErrors) {
  const auto full = Descriptor(kStorageBusSd, true).String(Descriptor::kSerial, "S").Bytes();
  for (std::size_t n = 0; n < 32; ++n) {
    const std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    const auto p = ParseStorageDeviceDescriptor(cut);
    ASSERT_FALSE(p.ok()) << n;
    EXPECT_NE(p.error().message.find("shorter than its fixed part"), std::string::npos);
  }
}

TEST(StorageDescriptorTest, StringCutOffByTheReturnedSizeIsAbsent) {
  const auto full = Descriptor(kStorageBusSd, true).String(Descriptor::kSerial, "ABCDEFGH").Bytes();
  // Returned fewer bytes than the driver wanted: the serial has no NUL.
  const std::vector<uint8_t> cut(full.begin(), full.end() - 3);
  const auto p = ParseStorageDeviceDescriptor(cut);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->bus_type, kStorageBusSd);
  EXPECT_EQ(p->serial, "");
}

TEST(StorageDescriptorTest, SizeFieldBoundsTheData) {
  auto d = Descriptor(kStorageBusSd, true);
  d.String(Descriptor::kProduct, "READER");
  const std::size_t product_end = d.Bytes().size();
  d.String(Descriptor::kSerial, "SERIAL");
  const auto bytes = d.Bytes(static_cast<uint32_t>(product_end));  // the serial lies past Size
  const auto p = ParseStorageDeviceDescriptor(bytes);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->product, "READER");
  EXPECT_EQ(p->serial, "");
  // A Size too small for the fixed part is not trusted at all.
  const auto tiny = ParseStorageDeviceDescriptor(Descriptor(kStorageBusSd, true).Bytes(8));
  EXPECT_FALSE(tiny.ok());
  // A huge Size cannot extend the data past what was returned.
  const auto huge = ParseStorageDeviceDescriptor(
      Descriptor(kStorageBusSd, true).String(Descriptor::kSerial, "X", false).Bytes(0xFFFFFFFF));
  ASSERT_TRUE(huge.ok());
  EXPECT_EQ(huge->serial, "");
}

TEST(StorageDescriptorTest, OffsetsOutsideTheStringAreaAreAbsent) {
  auto d = Descriptor(kStorageBusSd, true).String(Descriptor::kSerial, "OK");
  const auto size = static_cast<uint32_t>(d.Bytes().size());
  for (uint32_t offset : {1u, 12u, 35u, size, size + 1, 0x7FFFFFFFu, 0xFFFFFFFFu}) {
    d.Put(Descriptor::kVendor, offset);
    const auto p = ParseStorageDeviceDescriptor(d.Bytes());
    ASSERT_TRUE(p.ok()) << offset;
    EXPECT_EQ(p->vendor, "") << offset;
    EXPECT_EQ(p->serial, "OK");
  }
}

TEST(StorageDescriptorTest, MissingNulAtTheEndIsAbsent) {
  const auto bytes =
      Descriptor(kStorageBusSd, true).String(Descriptor::kSerial, "NOEND", false).Bytes();
  const auto p = ParseStorageDeviceDescriptor(bytes);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->serial, "");
}

TEST(StorageDescriptorTest, OverlongStringIsDroppedNotCut) {
  const std::string just_fits(kMaxStorageStringBytes, 'A');
  const std::string too_long(kMaxStorageStringBytes + 1, 'B');
  const auto p = ParseStorageDeviceDescriptor(Descriptor(kStorageBusSd, true)
                                                  .String(Descriptor::kProduct, just_fits)
                                                  .String(Descriptor::kSerial, too_long)
                                                  .Bytes());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->product, just_fits);
  EXPECT_EQ(p->serial, "");
}

TEST(StorageDescriptorTest, NonAsciiBytesAreKeptRaw) {
  const std::string raw = "\xFF\xFE\x01\x1B[31m\xE2\x80\xAE";
  const auto p = ParseStorageDeviceDescriptor(
      Descriptor(kStorageBusSd, true).String(Descriptor::kSerial, raw).Bytes());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->serial, raw);  // sanitized where shown or stored, not here
}

TEST(StorageDescriptorTest, StringsMayShareBytes) {
  // Two offsets into the same string: a driver may do it, nothing breaks.
  auto d = Descriptor(kStorageBusSd, true).String(Descriptor::kSerial, "SHARED");
  const auto bytes = d.Put(Descriptor::kProduct, 38).Bytes();  // "ARED"
  const auto p = ParseStorageDeviceDescriptor(bytes);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->serial, "SHARED");
  EXPECT_EQ(p->product, "ARED");
}

TEST(StorageDescriptorTest, EveryPrefixOfAValidDescriptorIsSafe) {
  const auto full = Descriptor(kStorageBusMmc, true)
                        .String(Descriptor::kVendor, "V")
                        .String(Descriptor::kProduct, "PRODUCT")
                        .String(Descriptor::kRevision, "1.0")
                        .String(Descriptor::kSerial, "SERIAL")
                        .Bytes();
  for (std::size_t n = 0; n <= full.size(); ++n) {
    const std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    const auto p = ParseStorageDeviceDescriptor(cut);
    EXPECT_EQ(p.ok(), n >= 32) << n;
    if (p.ok()) {
      // A string is either complete or absent, never a prefix.
      EXPECT_TRUE(p->serial.empty() || p->serial == "SERIAL") << n;
      EXPECT_TRUE(p->product.empty() || p->product == "PRODUCT") << n;
    }
  }
}

TEST(StorageDescriptorTest, ClassOfNonUsbDisk) {
  const auto cls = [](uint32_t bus, bool removable) {
    StorageProperties p;
    p.bus_type = bus;
    p.removable_media = removable;
    return ClassOfNonUsbDisk(p);
  };
  EXPECT_EQ(cls(kStorageBusSd, true), DeviceClass::kCardReader);
  EXPECT_EQ(cls(kStorageBusSd, false), DeviceClass::kCardReader);  // eMMC: system check decides
  EXPECT_EQ(cls(kStorageBusMmc, false), DeviceClass::kCardReader);
  EXPECT_EQ(cls(kStorageBus1394, false), DeviceClass::kMassStorage);
  EXPECT_EQ(cls(kStorageBusUsb, false), DeviceClass::kMassStorage);
  EXPECT_EQ(cls(kStorageBusSata, true), DeviceClass::kMassStorage);  // hot-plug bay
  EXPECT_EQ(cls(kStorageBusSata, false), std::nullopt);
  EXPECT_EQ(cls(kStorageBusNvme, false), std::nullopt);
  EXPECT_EQ(cls(kStorageBusScsi, false), std::nullopt);
  EXPECT_EQ(cls(kStorageBusRaid, false), std::nullopt);
  EXPECT_EQ(cls(0x0F, false), std::nullopt);  // file-backed virtual (a mounted VHD)
}

TEST(StorageDescriptorTest, BusNames) {
  EXPECT_EQ(StorageBusName(kStorageBusSd), "sd");
  EXPECT_EQ(StorageBusName(kStorageBusNvme), "nvme");
  EXPECT_EQ(StorageBusName(0x7E), "bus 0x7e");
  EXPECT_EQ(StorageBusName(std::numeric_limits<uint32_t>::max()), "bus 0xffffffff");
}

}  // namespace
}  // namespace mamori
