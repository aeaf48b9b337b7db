#include "server/policy/text_diff.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace mamori {
namespace {

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (line.ends_with('\r')) line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

struct Op {
  char kind;          // ' ', '-' or '+'
  std::size_t index;  // line in `before` for ' ' and '-', in `after` for '+'
};

// Edit script for a[0..n) -> b[0..m) by longest common subsequence, removals
// before additions within a change. The caller bounds n * m.
void LcsOps(const std::vector<std::string_view>& a, std::size_t a0, std::size_t n,
            const std::vector<std::string_view>& b, std::size_t b0, std::size_t m,
            std::vector<Op>* ops) {
  // lcs[i][j] = length of the LCS of a[i..n) and b[j..m).
  std::vector<uint32_t> lcs((n + 1) * (m + 1), 0);
  auto at = [&](std::size_t i, std::size_t j) -> uint32_t& { return lcs[i * (m + 1) + j]; };
  for (std::size_t i = n; i-- > 0;) {
    for (std::size_t j = m; j-- > 0;) {
      at(i, j) =
          a[a0 + i] == b[b0 + j] ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
    }
  }
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[a0 + i] == b[b0 + j]) {
      ops->push_back({' ', a0 + i});
      ++i;
      ++j;
    } else if (j == m || (i < n && at(i + 1, j) >= at(i, j + 1))) {
      ops->push_back({'-', a0 + i++});
    } else {
      ops->push_back({'+', b0 + j++});
    }
  }
}

// "start,count" of a hunk side; like diff -u, an empty side names the line
// before it.
std::string Range(std::size_t before_hunk, std::size_t count) {
  const std::size_t start = count == 0 ? before_hunk : before_hunk + 1;
  return std::to_string(start) + "," + std::to_string(count);
}

}  // namespace

TextDiff DiffLines(std::string_view before, std::string_view after, std::string_view before_name,
                   std::string_view after_name, const TextDiffOptions& options) {
  const std::vector<std::string_view> a = SplitLines(before);
  const std::vector<std::string_view> b = SplitLines(after);

  std::size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) ++prefix;
  std::size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
         a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
    ++suffix;
  }
  const std::size_t n = a.size() - prefix - suffix;
  const std::size_t m = b.size() - prefix - suffix;

  TextDiff diff;
  if (n == 0 && m == 0) return diff;

  std::vector<Op> ops;
  ops.reserve(a.size() + b.size());
  for (std::size_t i = 0; i < prefix; ++i) ops.push_back({' ', i});
  // n * m would overflow only far beyond any bound; compare by division.
  if (n != 0 && m != 0 && n > options.max_cells / m) {
    diff.whole_replacement = true;
    for (std::size_t i = 0; i < n; ++i) ops.push_back({'-', prefix + i});
    for (std::size_t j = 0; j < m; ++j) ops.push_back({'+', prefix + j});
  } else {
    LcsOps(a, prefix, n, b, prefix, m, &ops);
  }
  for (std::size_t i = 0; i < suffix; ++i) ops.push_back({' ', a.size() - suffix + i});

  // Lines of `before` and `after` consumed before each op, for hunk headers.
  std::vector<std::size_t> a_pos(ops.size() + 1, 0);
  std::vector<std::size_t> b_pos(ops.size() + 1, 0);
  for (std::size_t k = 0; k < ops.size(); ++k) {
    a_pos[k + 1] = a_pos[k] + (ops[k].kind != '+' ? 1 : 0);
    b_pos[k + 1] = b_pos[k] + (ops[k].kind != '-' ? 1 : 0);
    if (ops[k].kind == '-') ++diff.removed;
    if (ops[k].kind == '+') ++diff.added;
  }

  diff.text = "--- " + std::string(before_name) + "\n+++ " + std::string(after_name) + "\n";
  const std::size_t ctx = options.context;
  std::size_t k = 0;
  while (k < ops.size()) {
    while (k < ops.size() && ops[k].kind == ' ') ++k;
    if (k == ops.size()) break;
    const std::size_t start = k > ctx ? k - ctx : 0;
    // Extend over changes separated by at most 2 * context unchanged lines.
    std::size_t last_change = k;
    std::size_t scan = k + 1;
    while (scan < ops.size()) {
      if (ops[scan].kind != ' ') {
        last_change = scan;
      } else if (scan - last_change > 2 * ctx) {
        break;
      }
      ++scan;
    }
    const std::size_t end = std::min(ops.size(), last_change + 1 + ctx);
    diff.text += "@@ -" + Range(a_pos[start], a_pos[end] - a_pos[start]) + " +" +
                 Range(b_pos[start], b_pos[end] - b_pos[start]) + " @@\n";
    for (std::size_t h = start; h < end; ++h) {
      const std::string_view line = ops[h].kind == '+' ? b[ops[h].index] : a[ops[h].index];
      diff.text += ops[h].kind;
      diff.text += line;
      diff.text += '\n';
    }
    k = end;
  }
  return diff;
}

}  // namespace mamori
