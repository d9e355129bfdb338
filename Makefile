# The two commands of the README: `make run` and `make test`. Both install what is missing
# (scripts/deps.sh) and build with CMake.
BUILD ?= build
JOBSCTL = $(BUILD)/apps/jobsctl/jobsctl

.PHONY: run test build deps format clean

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

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf build build-asan build-fuzz
