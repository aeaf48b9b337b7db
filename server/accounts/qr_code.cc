#include "server/accounts/qr_code.h"

#include <qrencode.h>

#include <cerrno>
#include <memory>

namespace mamori::web {
namespace {

struct QrCodeFree {
  void operator()(QRcode* code) const { QRcode_free(code); }
};
using QrCodePtr = std::unique_ptr<QRcode, QrCodeFree>;

// Whether the module at (x, y) of the symbol with its quiet zone is dark;
// the quiet zone and anything beyond it are light.
bool DarkWithQuietZone(const QrMatrix& qr, int x, int y) {
  x -= kQrQuietZone;
  y -= kQrQuietZone;
  if (x < 0 || y < 0 || x >= qr.width || y >= qr.width) return false;
  return qr.Dark(x, y);
}

}  // namespace

Result<QrMatrix> EncodeQr(std::string_view text) {
  if (text.empty()) return MakeError(ErrorCode::kInvalidArgument, "nothing to encode as a QR code");
  if (text.size() > kQrMaxBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "text of " + std::to_string(text.size()) +
                                                      " bytes is too long for a QR code (at most " +
                                                      std::to_string(kQrMaxBytes) +
                                                      " bytes at error correction level M)");
  }
  errno = 0;
  QrCodePtr code(QRcode_encodeData(static_cast<int>(text.size()),
                                   reinterpret_cast<const unsigned char*>(text.data()), 0,
                                   QR_ECLEVEL_M));
  if (!code) {
    const int err = errno;
    if (err == ERANGE) {
      return MakeError(ErrorCode::kInvalidArgument, "text of " + std::to_string(text.size()) +
                                                        " bytes is too long for a QR code");
    }
    return MakeError(ErrorCode::kInternal, "libqrencode could not encode " +
                                               std::to_string(text.size()) + " bytes (errno " +
                                               std::to_string(err) + ")");
  }
  QrMatrix qr;
  qr.version = code->version;
  qr.width = code->width;
  const std::size_t n =
      static_cast<std::size_t>(code->width) * static_cast<std::size_t>(code->width);
  qr.dark.resize(n);
  // Bit 0 is the module's colour; the other bits say which part of the
  // symbol it belongs to.
  for (std::size_t i = 0; i < n; ++i) qr.dark[i] = (code->data[i] & 1) != 0;
  return qr;
}

std::string QrSvg(const QrMatrix& qr, int pixels_per_module) {
  const int size = qr.width + 2 * kQrQuietZone;
  const std::string n = std::to_string(size);
  const std::string px = std::to_string(size * pixels_per_module);
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + n + " " + n +
                    "\" width=\"" + px + "\" height=\"" + px +
                    "\" shape-rendering=\"crispEdges\"><rect width=\"" + n + "\" height=\"" + n +
                    "\" fill=\"#fff\"/><path fill=\"#000\" d=\"";
  // One subpath per horizontal run of dark modules keeps the path short.
  for (int y = 0; y < qr.width; ++y) {
    for (int x = 0; x < qr.width;) {
      if (!qr.Dark(x, y)) {
        ++x;
        continue;
      }
      int run = 1;
      while (x + run < qr.width && qr.Dark(x + run, y)) ++run;
      svg += "M" + std::to_string(x + kQrQuietZone) + " " + std::to_string(y + kQrQuietZone) + "h" +
             std::to_string(run) + "v1h-" + std::to_string(run) + "z";
      x += run;
    }
  }
  svg += "\"/></svg>\n";
  return svg;
}

std::string QrTerminalText(const QrMatrix& qr, QrTerminalStyle style) {
  static constexpr std::string_view kUpper = "\u2580";
  static constexpr std::string_view kLower = "\u2584";
  static constexpr std::string_view kFull = "\u2588";
  const int size = qr.width + 2 * kQrQuietZone;
  const bool draw_light = style == QrTerminalStyle::kLightTextOnDark;
  // Below the last row (an odd count) there is no module: leave it as
  // background whatever the style.
  const auto drawn = [&](int x, int y) {
    if (y >= size) return false;
    return DarkWithQuietZone(qr, x, y) != draw_light;
  };
  std::string out;
  for (int y = 0; y < size; y += 2) {
    for (int x = 0; x < size; ++x) {
      const bool top = drawn(x, y);
      const bool bottom = drawn(x, y + 1);
      if (top && bottom) {
        out += kFull;
      } else if (top) {
        out += kUpper;
      } else if (bottom) {
        out += kLower;
      } else {
        out += ' ';
      }
    }
    out += '\n';
  }
  return out;
}

}  // namespace mamori::web
