# The two commands of the README: `make run` and `make test`. Both install what is missing
# (scripts/deps.sh) and build with CMake.
BUILD ?= build
JOBSCTL = $(BUILD)/apps/jobsctl/jobsctl

.PHONY: run test build deps format clean release install deb

deps:
	@scripts/deps.sh

# make run builds only jobsd and jobsctl (scripts/deps.sh installs only what they need); a build
# folder that make test configured keeps its tests.
build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  $(if $(wildcard $(BUILD)/CMakeCache.txt),,-DJOBS_TESTS=OFF -DJOBS_BENCH=OFF) >/dev/null
	@cmake --build $(BUILD)

run: build
	@scripts/run.sh

test:
	@scripts/test.sh

# make install [PREFIX=/usr/local] [DESTDIR=...] and make deb (build-deb/jobs_<version>_<arch>.deb)
# build jobsd and jobsctl without tests in build-release, with Debian's hardening flags
# (dpkg-buildflags). Release at -O2, as Debian builds and as the tests run (GCC 12 at -O3 also
# warns falsely, -Wrestrict); no -g, as the binaries are installed stripped.
RELEASE = build-release
PREFIX ?= /usr/local
buildflags = $(filter-out -g -O2,$(shell DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get $(1)))

release: deps
	@cmake -S . -B $(RELEASE) -G Ninja -DCMAKE_BUILD_TYPE=Release -DJOBS_TESTS=OFF -DJOBS_BENCH=OFF \
	  -DCMAKE_INSTALL_PREFIX=$(PREFIX) "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" \
	  "-DCMAKE_CXX_FLAGS=$(call buildflags,CPPFLAGS) $(call buildflags,CXXFLAGS)" \
	  "-DCMAKE_EXE_LINKER_FLAGS=$(call buildflags,LDFLAGS)" >/dev/null
	@cmake --build $(RELEASE)

install: release
	DESTDIR="$(DESTDIR)" cmake --install $(RELEASE) --strip

deb: PREFIX = /usr
deb: release
	rm -f build-deb/jobs_*.deb
	cd $(RELEASE) && cpack -G DEB -B $(CURDIR)/build-deb
	@ls -l build-deb/jobs_*.deb

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf build build-asan build-fuzz build-release build-deb
