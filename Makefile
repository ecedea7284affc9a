# Switchyard: the two commands are `make demo` and `make test`. Both install missing Debian
# packages (scripts/install-deps.sh holds the one list), configure, build, then run.
BUILD_DIR  ?= build
ASAN_DIR   ?= build-asan
TSAN_DIR   ?= build-tsan
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)
WERROR     ?= ON
PREFIX     ?= /usr
# make fuzz: seconds per fuzz target, and which targets (default: all of tests/fuzz)
FUZZ_SECONDS ?= 600
FUZZ         ?=

.PHONY: all deps configure build build-programs build-asan build-tsan test test-normal test-sanitize \
        test-asan test-tsan test-fuzz demo bench bench-compare fuzz format clean \
        package install

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSY_WERROR=$(WERROR) \
	  -DCMAKE_INSTALL_PREFIX=$(PREFIX)

build: configure
	cmake --build $(BUILD_DIR) -j$(JOBS)

# The normal tree's programs without the unit test executables: what `make test` needs from it
# (the bench smoke runs these; the unit tests run in the ASan tree). A later `make build` or
# `make demo` builds the rest of the same tree.
build-programs: configure
	cmake --build $(BUILD_DIR) -j$(JOBS) --target switchyard switchyardctl switchyard-bench switchyard-wsbench \
	  directory_bench sy-gen-docs

# AddressSanitizer + UndefinedBehaviorSanitizer: the whole tree, -O1 (fast enough to run the
# integration tests, quicker to build than -O2), -g1 (line tables are all a report needs).
build-asan: deps
	cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DSY_WERROR=$(WERROR) -DSY_SANITIZE=address
	cmake --build $(ASAN_DIR) -j$(JOBS)

# ThreadSanitizer: only the unit tests of code that runs on several threads (SY_TSAN_TESTS in
# tests/CMakeLists.txt) and the libraries they link.
build-tsan: deps
	cmake -S . -B $(TSAN_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DSY_WERROR=$(WERROR) -DSY_SANITIZE=thread
	cmake --build $(TSAN_DIR) -j$(JOBS) --target tsan_tests

# The whole suite (docs/testing.md): the normal build's bench smoke tests, the unit and
# integration tests under ASan+UBSan (they run once, there: CI time), the threaded unit tests
# under TSan, and a short run of every fuzzer. One private MariaDB serves them all.
# `make test-normal` runs the unit and integration tests against the normal build.
test: build-programs build-asan build-tsan
	bash scripts/run-tests.sh --bench $(BUILD_DIR) --asan $(ASAN_DIR) --tsan $(TSAN_DIR) --fuzz

# Parts of it.
test-normal: build
	bash scripts/run-tests.sh --normal $(BUILD_DIR)
test-sanitize: build-asan build-tsan
	bash scripts/run-tests.sh --asan $(ASAN_DIR) --tsan $(TSAN_DIR)
test-asan: build-asan
	bash scripts/run-tests.sh --asan $(ASAN_DIR)
test-tsan: build-tsan
	bash scripts/run-tests.sh --tsan $(TSAN_DIR)
test-fuzz: deps
	bash scripts/run-tests.sh --fuzz

demo: build
	SY_BUILD_DIR=$(BUILD_DIR) bash scripts/demo.sh

# The bench harness (bench/README.md): one scenario, everything started and stopped by the
# harness, results.json + report.html under var/bench/. SCENARIO=steady, redirect_storm, ...
SCENARIO ?= migration
bench: build
	bench/run bench/scenarios/$(SCENARIO).yaml --build $(BUILD_DIR)

# Proxy-vs-proxy ratios on one request shape (HAProxy, nginx): the former `make bench`.
bench-compare: build
	bench/compare --switchyard $(BUILD_DIR)/proxy/switchyard

# The Debian package (packaging/CMakeLists.txt, docs/packaging.md): build/package/*.deb.
package: build
	cd $(BUILD_DIR) && cpack -G DEB

# FHS install (PREFIX=/usr: /usr/sbin, /etc/switchyard, /lib/systemd/system); stage it with
# DESTDIR=/some/root.
install: build
	cmake --install $(BUILD_DIR)

# Long fuzzer runs: `make fuzz FUZZ_SECONDS=3600 FUZZ="h2 config"`; findings are in
# build-fuzz/artifacts/ (tests/fuzz/run.sh).
fuzz: deps
	SY_FUZZ_KEEP_CORPUS=1 bash tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ)

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(TSAN_DIR) build-fuzz build-fuzz.configure.log var
