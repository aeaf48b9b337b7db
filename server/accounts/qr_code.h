#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace mamori::web {

// QR codes for TOTP enrolment: the otpauth URI as an image in the dashboard
// and as text in mamorictl's terminal output. Encoding is libqrencode's;
// this module only draws its module matrix.

// Light modules around the symbol, as ISO/IEC 18004 requires for readers.
constexpr int kQrQuietZone = 4;
// Byte-mode capacity of the largest symbol (version 40) at level M.
constexpr std::size_t kQrMaxBytes = 2331;

// One symbol: `width` x `width` modules, row by row, true = dark.
struct QrMatrix {
  int version = 0;
  int width = 0;
  std::vector<bool> dark;

  bool Dark(int x, int y) const { return dark[static_cast<std::size_t>(y * width + x)]; }
};

// Encodes `text` as bytes (8-bit mode, error correction level M, the
// smallest version that fits). kInvalidArgument when it is empty or longer
// than a QR code holds.
Result<QrMatrix> EncodeQr(std::string_view text);

// A standalone SVG document: a white square with the quiet zone, the dark
// modules as one path, `pixels_per_module` pixels per module. No script,
// no external reference, no text, so it can be shown through an <img>.
std::string QrSvg(const QrMatrix& qr, int pixels_per_module = 5);

// Which modules a terminal draws with its text colour.
enum class QrTerminalStyle {
  // Light modules are drawn and dark ones left as background: readable on
  // the usual light-on-dark terminal, where drawing the dark modules would
  // give an inverted code many cameras do not read.
  kLightTextOnDark,
  // Dark modules are drawn: for dark text on a light background (or paper).
  kDarkTextOnLight,
};

// The symbol with its quiet zone in Unicode half blocks (U+2580, U+2584,
// U+2588), two module rows per line, each line ending in '\n'.
std::string QrTerminalText(const QrMatrix& qr,
                           QrTerminalStyle style = QrTerminalStyle::kLightTextOnDark);

}  // namespace mamori::web
