#include "common/device/usb_ids.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace mamori {
namespace {

constexpr auto kFingerprintVendors = std::to_array<uint16_t>({
    0x04f3,  // ELAN Microelectronics
    0x05ba,  // DigitalPersona (U.are.U)
    0x06cb,  // Synaptics (incl. Validity after 2013)
    0x08ff,  // AuthenTec
    0x1162,  // SecuGen
    0x138a,  // Validity Sensors
    0x147e,  // UPEK
    0x1491,  // Futronic
    0x1c7a,  // Egis Technology (LighTuning)
    0x27c6,  // Goodix
    0x2808,  // FocalTech Systems
});

// Reader chips that present a mass-storage interface (0x08/0x06/0x50); the
// Realtek RTS5129/5139-style readers with a vendor-specific interface are
// found through their kernel driver (rtsx_usb, ums_realtek) instead.
constexpr auto kCardReaders = std::to_array<std::pair<uint16_t, uint16_t>>({
    {0x0bda, 0x0153},  // Realtek 3-in-1 card reader
    {0x0bda, 0x0158},  // Realtek USB 2.0 multicard reader
    {0x0bda, 0x0177},  // Realtek USB 2.0 card reader
    {0x0bda, 0x0184},  // Realtek RTS5182 card reader
    {0x0bda, 0x0307},  // Realtek USB 3.0 card reader
    {0x0bda, 0x0316},  // Realtek USB 3.0 card reader
    {0x05e3, 0x0723},  // Genesys Logic GL827L SD/MMC/MS reader
    {0x05e3, 0x0727},  // Genesys Logic microSD reader/writer
    {0x05e3, 0x0736},  // Genesys Logic microSD reader/writer
    {0x05e3, 0x0743},  // Genesys Logic SDXC/SDHC reader
    {0x05e3, 0x0751},  // Genesys Logic microSD reader
    {0x058f, 0x6362},  // Alcor Micro flash card reader/writer
    {0x058f, 0x6366},  // Alcor Micro multi flash reader
    {0x058f, 0x6377},  // Alcor Micro AU6377 reader
    {0x058f, 0x6335},  // Alcor Micro SD/MMC reader
    {0x05ac, 0x8406},  // Apple internal memory card reader
    {0x8564, 0x4000},  // Transcend RDF5/RDF8 reader
    {0x14cd, 0x125c},  // Super Top SD card reader
    {0x14cd, 0x1212},  // Super Top microSD reader
});

constexpr auto kCardReaderWords = std::to_array<std::string_view>({
    "CARD READER",
    "CARDREADER",
    "SD READER",
    "MULTI-CARD",
    "MULTICARD",
    "FLASH READER",
});

bool ContainsUpper(std::string_view text, std::string_view word) {
  if (word.size() > text.size()) return false;
  for (std::size_t i = 0; i + word.size() <= text.size(); ++i) {
    bool same = true;
    for (std::size_t j = 0; j < word.size() && same; ++j) {
      same = std::toupper(static_cast<unsigned char>(text[i + j])) == word[j];
    }
    if (same) return true;
  }
  return false;
}

}  // namespace

bool IsFingerprintSensorVendor(uint16_t vendor_id) {
  return std::find(kFingerprintVendors.begin(), kFingerprintVendors.end(), vendor_id) !=
         kFingerprintVendors.end();
}

bool IsMemoryCardReader(uint16_t vendor_id, uint16_t product_id, std::string_view product) {
  if (std::find(kCardReaders.begin(), kCardReaders.end(), std::pair{vendor_id, product_id}) !=
      kCardReaders.end()) {
    return true;
  }
  // Strings are bounded by the caller (sysfs attribute limit); the scan is
  // linear in them.
  return std::any_of(kCardReaderWords.begin(), kCardReaderWords.end(),
                     [&](std::string_view w) { return ContainsUpper(product, w); });
}

}  // namespace mamori
