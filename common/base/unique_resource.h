#pragma once

#include <utility>

namespace mamori {

// Sole owner of an OS handle, closed by Traits::Close when it goes out of
// scope: file descriptors (agent/platform/posix/unique_fd.h) and Windows
// handles (agent/platform/windows/win32/handles.h). Traits say what "no
// handle" is, because Windows is not consistent: CreateFile and
// SetupDiGetClassDevs fail with INVALID_HANDLE_VALUE, most other APIs with
// NULL. Portable, so the ownership rules are tested with counting traits.
//
//   struct Traits {
//     using Handle = ...;
//     static Handle Invalid();
//     static bool IsValid(Handle h);
//     static void Close(Handle h);  // only called when IsValid(h)
//   };
template <typename Traits>
class UniqueResource {
 public:
  using Handle = typename Traits::Handle;

  UniqueResource() = default;
  explicit UniqueResource(Handle h) : h_(h) {}
  ~UniqueResource() { reset(); }

  UniqueResource(const UniqueResource&) = delete;
  UniqueResource& operator=(const UniqueResource&) = delete;
  UniqueResource(UniqueResource&& other) noexcept : h_(other.release()) {}
  UniqueResource& operator=(UniqueResource&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }

  Handle get() const { return h_; }
  bool valid() const { return Traits::IsValid(h_); }
  explicit operator bool() const { return valid(); }

  // Gives up ownership without closing.
  Handle release() { return std::exchange(h_, Traits::Invalid()); }

  // Closes the current handle (if any) and owns `h`.
  void reset(Handle h = Traits::Invalid()) {
    const Handle old = std::exchange(h_, h);
    if (Traits::IsValid(old)) Traits::Close(old);
  }

  // For APIs that return a handle through an out-parameter
  // (RegOpenKeyExW(..., key.out())): closes the current handle first.
  Handle* out() {
    reset();
    return &h_;
  }

 private:
  Handle h_ = Traits::Invalid();
};

}  // namespace mamori
