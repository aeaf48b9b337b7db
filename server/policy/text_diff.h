#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mamori {

struct TextDiffOptions {
  // Unchanged lines shown around each change.
  std::size_t context = 3;
  // Bound on the work (lines of `before` times lines of `after`, after the
  // common prefix and suffix are trimmed). Beyond it the changed middle is
  // shown as a whole replacement instead of a minimal diff, so a huge or
  // hostile document cannot make the collector spend quadratic time.
  std::size_t max_cells = 4'000'000;
};

struct TextDiff {
  // Unified-diff-like text: "--- before_name", "+++ after_name", then hunks
  // "@@ -a,b +c,d @@" of " " context, "-" removed and "+" added lines, each
  // ending in '\n'. Empty when the documents have the same lines.
  std::string text;
  std::size_t added = 0;
  std::size_t removed = 0;
  // True when the bound was hit and the middle is a whole replacement.
  bool whole_replacement = false;
};

// Line diff of two text documents (a longest-common-subsequence diff).
// Lines end at '\n'; a trailing '\r' is ignored when comparing and never
// printed, so a CRLF copy of an LF document has no differences.
// A missing final newline does not count as a difference either.
TextDiff DiffLines(std::string_view before, std::string_view after,
                   std::string_view before_name = "current", std::string_view after_name = "new",
                   const TextDiffOptions& options = {});

}  // namespace mamori
