#!/usr/bin/env bash
# Installs every build and test dependency of Mamori from Debian 12 packages.
# Idempotent: packages already present are left alone, so a second run is quick.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git clang-format
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libboost-dev libboost-program-options-dev
  libssl-dev openssl
  libspdlog-dev libfmt-dev
  libsqlite3-dev sqlite3
  libyaml-cpp-dev
  libqrencode-dev
  libgtest-dev libgmock-dev googletest
  libbenchmark-dev
  procps
  # Real-kernel enforcement test: Debian's kernel booted under QEMU with a
  # busybox initramfs; python3 drives QMP and the guest console.
  qemu-system-x86 busybox-static linux-image-amd64 kmod xz-utils cpio python3
  # The shipped udev rule, replayed by `udevadm test` (ctest udev_rule).
  udev util-linux
  # Fuzz targets (libFuzzer).
  clang libclang-rt-14-dev
  # Windows agent: mingw-w64 cross compiler (posix threads) and 64-bit Wine
  # to run its tests (wine64 is the loader, wine the launcher scripts).
  g++-mingw-w64-x86-64-posix wine wine64
  # The Windows agent's dependency stack, cross-built from Debian's source
  # packages (packaging/windows/deps/build-deps.sh): dpkg-source unpacks
  # them, zlib comes prebuilt for mingw-w64, and the host's -dev packages
  # above fix the versions.
  dpkg-dev libz-mingw-w64-dev patch perl
  # re2's Unicode tables are generated from Unicode's data, as Debian's own
  # build of re2 does (its source package drops the generated files).
  unicode-data python3-six
  # The agent's MSI: wixl builds it (packaging/windows), msitools' msiinfo
  # and msidump inspect it.
  wixl msitools
  # Debian packages (make packages, ctest -L packaging): debhelper and
  # po-debconf build them, lintian checks them, debootstrap makes the clean
  # root they are installed into, systemd's systemd-analyze verifies and
  # scores the units, man-db renders the man pages.
  debhelper po-debconf fakeroot lintian debootstrap debconf systemd man-db
  # The boot test of the installed packages (packages_vm): mkfs.ext4 -d.
  e2fsprogs
)

# Browser tests (tests/browser): Debian's chromium driven by playwright-core
# from npm, and a Japanese font so screenshots of the Japanese pages are
# legible. npm comes with nodejs on machines that use NodeSource's build:
# only ask Debian for nodejs/npm when there is no npm at all.
packages+=(chromium fonts-ipafont-gothic)
if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi

# playwright-core at the version pinned in tests/browser/package-lock.json;
# it uses /usr/bin/chromium and downloads no browser.
install_browser_test_deps() {
  local dir
  dir="$(cd "$(dirname "$0")/../.." && pwd)/tests/browser"
  if [[ ! -d "$dir/node_modules/playwright-core" || "$dir/package-lock.json" -nt "$dir/node_modules" ]]; then
    echo "setup: npm ci in tests/browser"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  install_browser_test_deps
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_browser_test_deps
echo "setup: done"
