#pragma once

#include <string>
#include <string_view>

namespace mamori::ctl {

// Makes a string safe to print on a terminal. Device strings are attacker
// controlled: an ESC could rewrite the screen or the window title, a bidi
// override could make "block" read as "allow". So C0/C1 controls and DEL
// become "\xNN", invalid UTF-8 becomes U+FFFD (mamori::SanitizeDeviceString),
// and invisible format characters (bidi controls, zero-width characters,
// line/paragraph separators, BOM) become "\uNNNN".
std::string TerminalSafe(std::string_view text);

// The same for multi-line text (policy documents): '\n' is kept, every
// line is made safe on its own.
std::string TerminalSafeMultiline(std::string_view text);

// Columns `text` (valid UTF-8) takes on a terminal: East Asian wide and
// fullwidth characters count 2, combining marks 0, everything else 1.
int DisplayWidth(std::string_view text);

// Cuts `text` to at most `width` columns on a character boundary, marking
// a cut with "..." (ASCII, because U+2026 is ambiguous-width and takes two
// columns on many Japanese terminals).
std::string TruncateToWidth(std::string_view text, int width);

}  // namespace mamori::ctl
