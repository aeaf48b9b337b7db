#pragma once

#include <string>
#include <string_view>

#include "common/base/result.h"

namespace mamori {

// Whole-file reads and atomic writes of configuration, keys and
// certificates. Paths are UTF-8. One implementation per OS:
// file_io_posix.cc, file_io_win32.cc.

// Reads a whole file; the error names the path and the OS reason.
Result<std::string> ReadFileToString(const std::string& path);

// Writes atomically (temp file, flushed to disk, renamed over `path`, the
// directory synced where the OS allows) with the given permissions. On
// Windows `mode` is not used: the file inherits its folder's ACL.
Status WriteFileAtomic(const std::string& path, std::string_view data, unsigned mode = 0644);

}  // namespace mamori
