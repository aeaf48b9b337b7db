#include "tests/support/temp_dir.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "common/crypto/credentials.h"

namespace mamori::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = (base != nullptr && *base != '\0') ? base : "/tmp";
  while (templ.size() > 1 && templ.back() == '/') templ.pop_back();
  templ += "/mamori-test-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + templ + ": " + std::strerror(errno));
  }
  path_ = std::move(templ);
}

TempDir::~TempDir() {
  std::error_code ec;  // a destructor must not throw; a leftover dir is harmless
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::File(std::string_view name) const { return path_ + "/" + std::string(name); }

std::string TempDir::Write(std::string_view name, std::string_view content) const {
  std::string file = File(name);
  if (Status s = WriteFileAtomic(file, content, 0600); !s) {
    throw std::runtime_error(s.error().message);
  }
  return file;
}

}  // namespace mamori::testing
