#include "server/accounts/qr_code.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>
#include <vector>

namespace mamori::web {
namespace {

constexpr std::string_view kUri =
    "otpauth://totp/Mamori:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Mamori&"
    "algorithm=SHA1&digits=6&period=30";

// The 7x7 finder pattern whose top-left module is (x0, y0): a dark ring, a
// light ring, a dark 3x3 centre, and the light separator beside it.
void ExpectFinderAt(const QrMatrix& qr, int x0, int y0) {
  for (int dy = 0; dy < 7; ++dy) {
    for (int dx = 0; dx < 7; ++dx) {
      const int ring = std::max(std::abs(dx - 3), std::abs(dy - 3));
      const bool want_dark = ring != 2;
      EXPECT_EQ(qr.Dark(x0 + dx, y0 + dy), want_dark)
          << "finder at (" << x0 << "," << y0 << "), module (" << dx << "," << dy << ")";
    }
  }
}

// Decodes the module matrix back out of the SVG path, to check that the
// drawing is exactly the symbol, offset by the quiet zone.
std::vector<bool> ModulesOfPath(const std::string& d, int size) {
  std::vector<bool> dark(static_cast<std::size_t>(size * size), false);
  static const std::regex kRun(R"(M(\d+) (\d+)h(\d+)v1h-(\d+)z)");
  std::size_t covered = 0;
  for (auto it = std::sregex_iterator(d.begin(), d.end(), kRun); it != std::sregex_iterator();
       ++it) {
    const int x = std::stoi((*it)[1]);
    const int y = std::stoi((*it)[2]);
    const int run = std::stoi((*it)[3]);
    EXPECT_EQ(run, std::stoi((*it)[4]));
    for (int i = 0; i < run; ++i) dark[static_cast<std::size_t>(y * size + x + i)] = true;
    covered += static_cast<std::size_t>(it->length());
  }
  EXPECT_EQ(covered, d.size()) << "path has commands other than runs: " << d;
  return dark;
}

TEST(QrCodeTest, MatrixHasFinderPatternsAtThreeCorners) {
  auto qr = EncodeQr(kUri);
  ASSERT_TRUE(qr.ok()) << qr.error().message;
  EXPECT_GE(qr->version, 1);
  EXPECT_EQ(qr->width, 17 + 4 * qr->version);
  ASSERT_EQ(qr->dark.size(), static_cast<std::size_t>(qr->width * qr->width));
  ExpectFinderAt(*qr, 0, 0);
  ExpectFinderAt(*qr, qr->width - 7, 0);
  ExpectFinderAt(*qr, 0, qr->width - 7);
  // No finder in the fourth corner: its outer ring is not all dark.
  bool ring_dark = true;
  for (int i = 0; i < 7; ++i) {
    ring_dark = ring_dark && qr->Dark(qr->width - 7 + i, qr->width - 7) &&
                qr->Dark(qr->width - 7, qr->width - 7 + i);
  }
  EXPECT_FALSE(ring_dark);
  // Timing pattern between the top finders: alternating, dark first.
  for (int x = 8; x < qr->width - 8; ++x) EXPECT_EQ(qr->Dark(x, 6), x % 2 == 0) << x;
}

TEST(QrCodeTest, SameInputSameSymbolAndLongerInputLargerVersion) {
  auto a = EncodeQr(kUri);
  auto b = EncodeQr(kUri);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->dark, b->dark);
  auto small = EncodeQr("HELLO");
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->version, 1);
  EXPECT_EQ(small->width, 21);
  EXPECT_GT(a->version, small->version);
}

TEST(QrCodeTest, SvgIsWellFormedWithOnlyARectAndOnePath) {
  auto qr = EncodeQr(kUri);
  ASSERT_TRUE(qr.ok());
  const std::string svg = QrSvg(*qr, 5);
  const int size = qr->width + 2 * kQrQuietZone;
  const std::string n = std::to_string(size);

  // Every tag, in order: only svg, rect and path, properly nested.
  static const std::regex kTag(R"(<(/?)([a-zA-Z]+)([^<>]*?)(/?)>)");
  std::vector<std::string> tags;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), kTag); it != std::sregex_iterator();
       ++it) {
    tags.push_back((*it)[1].str() + (*it)[2].str() + (*it)[4].str());
  }
  EXPECT_EQ(tags, (std::vector<std::string>{"svg", "rect/", "path/", "/svg"})) << svg;
  EXPECT_EQ(std::regex_replace(svg, kTag, ""), "\n");
  EXPECT_TRUE(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" ")) << svg;
  EXPECT_NE(svg.find("viewBox=\"0 0 " + n + " " + n + "\""), std::string::npos);
  EXPECT_NE(svg.find("width=\"" + std::to_string(size * 5) + "\""), std::string::npos);
  EXPECT_NE(svg.find("shape-rendering=\"crispEdges\""), std::string::npos);
  for (const char* banned : {"script", "href", "onload", "onerror", "style", "<!", "&"}) {
    EXPECT_EQ(svg.find(banned), std::string::npos) << banned;
  }

  // The path draws exactly the dark modules, offset by the quiet zone.
  const auto d_start = svg.find(" d=\"") + 4;
  const std::string d = svg.substr(d_start, svg.find('"', d_start) - d_start);
  const std::vector<bool> drawn = ModulesOfPath(d, size);
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) {
      const bool inside = x >= kQrQuietZone && y >= kQrQuietZone && x < kQrQuietZone + qr->width &&
                          y < kQrQuietZone + qr->width;
      const bool want = inside && qr->Dark(x - kQrQuietZone, y - kQrQuietZone);
      ASSERT_EQ(drawn[static_cast<std::size_t>(y * size + x)], want) << x << "," << y;
    }
  }
}

// The terminal text as (column, row) -> drawn, from its half blocks.
std::vector<std::vector<bool>> DrawnCells(const std::string& text, int* lines) {
  std::vector<std::vector<bool>> rows;
  *lines = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);
    EXPECT_NE(end, std::string::npos) << "last line has no newline";
    if (end == std::string::npos) break;
    std::vector<bool> top, bottom;
    for (std::size_t i = pos; i < end;) {
      if (text[i] == ' ') {
        top.push_back(false);
        bottom.push_back(false);
        i += 1;
        continue;
      }
      const std::string glyph = text.substr(i, 3);
      if (glyph == "\u2588") {
        top.push_back(true);
        bottom.push_back(true);
      } else if (glyph == "\u2580") {
        top.push_back(true);
        bottom.push_back(false);
      } else if (glyph == "\u2584") {
        top.push_back(false);
        bottom.push_back(true);
      } else {
        ADD_FAILURE() << "unexpected character at byte " << i;
        return rows;
      }
      i += 3;
    }
    rows.push_back(top);
    rows.push_back(bottom);
    ++*lines;
    pos = end + 1;
  }
  return rows;
}

TEST(QrCodeTest, TerminalTextHasQuietZoneTwoRowsPerLineAndDrawsLightModules) {
  auto qr = EncodeQr(kUri);
  ASSERT_TRUE(qr.ok());
  const int size = qr->width + 2 * kQrQuietZone;
  for (const auto style : {QrTerminalStyle::kLightTextOnDark, QrTerminalStyle::kDarkTextOnLight}) {
    const bool light_drawn = style == QrTerminalStyle::kLightTextOnDark;
    int lines = 0;
    const auto cells = DrawnCells(QrTerminalText(*qr, style), &lines);
    EXPECT_EQ(lines, (size + 1) / 2);
    ASSERT_EQ(cells.size(), static_cast<std::size_t>(2 * lines));
    for (int y = 0; y < 2 * lines; ++y) {
      ASSERT_EQ(cells[static_cast<std::size_t>(y)].size(), static_cast<std::size_t>(size));
      for (int x = 0; x < size; ++x) {
        const bool drawn = cells[static_cast<std::size_t>(y)][static_cast<std::size_t>(x)];
        if (y >= size) {
          EXPECT_FALSE(drawn) << "below the symbol";
          continue;
        }
        const bool inside = x >= kQrQuietZone && y >= kQrQuietZone &&
                            x < kQrQuietZone + qr->width && y < kQrQuietZone + qr->width;
        const bool dark = inside && qr->Dark(x - kQrQuietZone, y - kQrQuietZone);
        ASSERT_EQ(drawn, dark != light_drawn) << x << "," << y;
      }
    }
  }
  // On a dark terminal the quiet zone is drawn: the first line is all full blocks.
  const std::string text = QrTerminalText(*qr);
  std::string full_line;
  for (int i = 0; i < size; ++i) full_line += "\u2588";
  EXPECT_EQ(text.substr(0, text.find('\n')), full_line);
}

TEST(QrCodeTest, EmptyOrTooLongInputIsAClearError) {
  auto empty = EncodeQr("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidArgument);

  const std::string too_long(kQrMaxBytes + 1, 'a');
  auto refused = EncodeQr(too_long);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("2332 bytes is too long for a QR code"), std::string::npos)
      << refused.error().message;

  // The largest symbol holds exactly the documented capacity of bytes,
  // control and non-ASCII bytes included.
  std::string biggest(kQrMaxBytes, 'a');
  biggest[0] = '\0';
  biggest[1] = static_cast<char>(0xff);
  auto largest = EncodeQr(biggest);
  ASSERT_TRUE(largest.ok()) << largest.error().message;
  EXPECT_EQ(largest->version, 40);
  EXPECT_EQ(largest->width, 177);
}

}  // namespace
}  // namespace mamori::web
