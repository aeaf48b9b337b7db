# Entry points. `make demo` runs Mamori; `make test` runs the whole test suite.
# Both install the Debian packages they need first (packaging/dev/setup.sh).

JOBS ?= $(shell nproc)

# ccache hits across checkouts in other folders (CI builds a fresh clone):
# paths below the checkout are hashed relative to it.
export CCACHE_BASEDIR ?= $(CURDIR)

.PHONY: all setup build release asan fuzz windows packages demo test test-debug test-asan test-fuzz test-windows bench clean help

all: build

help:
	@echo "make demo       build and start a collector with three simulated agents"
	@echo "make test       build and run the whole test suite (debug, ASan+UBSan, fuzz targets, Windows agent under Wine)"
	@echo "make build      debug build (build/debug)"
	@echo "make release    optimised build (build/release)"
	@echo "make packages   Debian packages mamori-collector, mamori-agent, mamori-ctl (build/packages)"
	@echo "make windows    cross-build the Windows agent, its dependencies and its MSI (build/windows)"
	@echo "make bench      build release and run the benchmarks in tests/bench"
	@echo "make clean      remove build/ and demo/"

setup:
	@packaging/dev/setup.sh

build: setup
	cmake --preset debug >/dev/null
	cmake --build --preset debug -j $(JOBS)

release: setup
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

asan: setup
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS)

fuzz: setup
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j $(JOBS)

# The Windows agent: its dependency stack cross-built from Debian's source
# packages (cached outside the work tree, see packaging/windows/deps), then
# the agent, its tests and the MSI with mingw-w64. Its tests run under Wine
# against the collector of the debug build.
windows: setup
	packaging/windows/deps/build-deps.sh
	MAMORI_MINGW_DEPS="$$(packaging/windows/deps/build-deps.sh --print-prefix)" \
	  cmake --preset windows >/dev/null
	cmake --build --preset windows -j $(JOBS)

# The Debian packages, built by dpkg-buildpackage in a staged copy of the
# tree (packaging/debian/build-packages.sh), into build/packages.
packages: setup
	JOBS=$(JOBS) packaging/debian/build-packages.sh build/packages

demo: release
	packaging/dev/demo.sh build/release

test-debug: build
	ctest --preset debug -j $(JOBS)

test-asan: asan
	ctest --preset asan -j $(JOBS)

test-fuzz: fuzz
	ctest --preset fuzz -j $(JOBS)

test-windows: windows build
	ctest --preset windows -j $(JOBS)

test: test-debug test-asan test-fuzz test-windows

bench: release
	tests/bench/run.sh build/release

clean:
	rm -rf build demo
