# Thin wrapper over CMake.  `make` builds everything into build/,
# `make run` starts the daemon, `make test` builds and runs the test suite.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
CTEST_FLAGS ?=

.PHONY: all run test clean deps

all: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

$(BUILD)/CMakeCache.txt:
	@command -v cmake >/dev/null || scripts/install-deps.sh build
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

run: all
	$(BUILD)/sockit serve

deps:
	scripts/install-deps.sh test

test: all
	scripts/install-deps.sh test
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_FLAGS)

clean:
	rm -rf $(BUILD)
