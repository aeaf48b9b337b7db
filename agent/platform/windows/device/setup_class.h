#pragma once

#include <string_view>

namespace mamori {

// Device setup classes (devguid.h), lower-case as SetupAPI reads them into
// DriverBinding::setup_class and as Group Policy writes them into the
// device installation restrictions. One home for the GUIDs the agent
// classifies by (function_class.h) or denies (device_install_restrictions.h).
inline constexpr std::string_view kDiskDriveSetupClass = "{4d36e967-e325-11ce-bfc1-08002be10318}";
inline constexpr std::string_view kCdRomSetupClass = "{4d36e965-e325-11ce-bfc1-08002be10318}";
inline constexpr std::string_view kWpdSetupClass = "{eec5ad98-8080-425f-922a-dabf3de3f69a}";
inline constexpr std::string_view kImageSetupClass = "{6bdd1fc6-810f-11d0-bec7-08002be2092f}";
inline constexpr std::string_view kNetSetupClass = "{4d36e972-e325-11ce-bfc1-08002be10318}";
inline constexpr std::string_view kBluetoothSetupClass = "{e0cbf06c-cd8b-4647-bb8a-263b43f0f974}";
inline constexpr std::string_view kPortsSetupClass = "{4d36e978-e325-11ce-bfc1-08002be10318}";
inline constexpr std::string_view kModemSetupClass = "{4d36e96d-e325-11ce-bfc1-08002be10318}";
inline constexpr std::string_view kSmartCardReaderSetupClass =
    "{50dd5230-ba8a-11d1-bf5d-0000f805f530}";
inline constexpr std::string_view kBiometricSetupClass = "{53d29ef7-377c-4d14-864b-eb3a85769359}";
inline constexpr std::string_view kPrinterSetupClass = "{4d36e979-e325-11ce-bfc1-08002be10318}";

}  // namespace mamori
