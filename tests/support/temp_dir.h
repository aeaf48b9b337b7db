#pragma once

#include <string>
#include <string_view>

namespace mamori::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it
// when the object goes out of scope. Hermetic tests put every file they
// create here.
//
//   TempDir dir;
//   const std::string policy = dir.Write("policy.yaml", "rules: []\n");
//
// Failures to create or write throw std::runtime_error: GoogleTest reports
// the message as a test failure, a benchmark aborts with it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Absolute path, without a trailing slash.
  const std::string& path() const { return path_; }

  // path() + "/" + name; `name` may contain subdirectories (not created).
  std::string File(std::string_view name) const;

  // Writes `content` to File(name) with mode 0600 and returns that path.
  std::string Write(std::string_view name, std::string_view content) const;

 private:
  std::string path_;
};

}  // namespace mamori::testing
