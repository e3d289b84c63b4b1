# SPDX-License-Identifier: MIT
# Thin wrapper over CMake.
#
#   make             build everything into build/
#   make run         build, then start build/sockit serve
#   make test        the whole suite: the normal build, then again under
#                    ASan+UBSan (clang), the threaded tests under TSan, and
#                    short fuzz runs (clang's libFuzzer)
#   make test-quick  the normal build's suite only
#   make install     build, then install under $(DESTDIR)$(PREFIX)
#                    (PREFIX defaults to /usr/local)
#
# A plain `make` builds with warnings as warnings (SK_WERROR=OFF); the test
# targets, which CI runs, build with -Werror.
MAKEFLAGS += --no-print-directory
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
PREFIX ?= /usr/local
DESTDIR ?=
# What the test configurations add: warnings are errors.
TEST_FLAGS = -DSK_WERROR=ON $(CMAKE_FLAGS)
CTEST_FLAGS ?=
CTEST = ctest --output-on-failure -j $(JOBS) $(CTEST_FLAGS)

# Sanitizer runs: the threaded tests are the ones TSan is for.
TSAN_TESTS ?= unit\.(server|loop)|integration\.serve

.PHONY: all run test test-quick test-asan test-tsan test-fuzz deps clean install

all: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# What a build needs (scripts/install-deps.sh build installs it on Debian):
# cmake, a C compiler, pkg-config, and OpenSSL 3's development files.
BUILD_PREREQS = command -v cmake >/dev/null && command -v cc >/dev/null && \
	command -v pkg-config >/dev/null && pkg-config --atleast-version=3.0 libssl
CHECK_PREREQS = @$(BUILD_PREREQS) || scripts/install-deps.sh build

$(BUILD)/CMakeCache.txt:
	$(CHECK_PREREQS)
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

run: all
	$(BUILD)/sockit serve

deps:
	scripts/install-deps.sh test

test-quick: deps
	$(CHECK_PREREQS)
	cmake -S . -B $(BUILD) $(TEST_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && $(CTEST)

test: test-quick test-asan test-tsan test-fuzz

# Each configuration has a build directory of its own, next to build/.
$(BUILD)-asan/CMakeCache.txt:
	CC=clang cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug \
	    -DSK_SANITIZE=address,undefined $(TEST_FLAGS)
$(BUILD)-tsan/CMakeCache.txt:
	CC=clang cmake -S . -B $(BUILD)-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DSK_SANITIZE=thread $(TEST_FLAGS)
$(BUILD)-fuzz/CMakeCache.txt:
	CC=clang cmake -S . -B $(BUILD)-fuzz -DSK_FUZZ=ON $(TEST_FLAGS)

test-asan: deps $(BUILD)-asan/CMakeCache.txt
	cmake --build $(BUILD)-asan -j $(JOBS)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(CTEST) -E '^fuzz\.'

test-tsan: deps $(BUILD)-tsan/CMakeCache.txt
	cmake --build $(BUILD)-tsan -j $(JOBS)
	cd $(BUILD)-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	    $(CTEST) -R '$(TSAN_TESTS)'

test-fuzz: deps $(BUILD)-fuzz/CMakeCache.txt
	cmake --build $(BUILD)-fuzz -j $(JOBS)
	cd $(BUILD)-fuzz && $(CTEST) -R '^fuzz\.'

# The prefix is set at configure time (sockit.pc and the CMake package
# record it), so install reconfigures with this PREFIX first.
install: all
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
	DESTDIR=$(DESTDIR) cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan $(BUILD)-fuzz
