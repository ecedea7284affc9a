# Switchyard: the two commands are `make demo` and `make test`. Both install missing Debian
# packages (scripts/install-deps.sh holds the one list), configure, build, then run.
BUILD_DIR  ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)
WERROR     ?= ON
PREFIX     ?= /usr

.PHONY: all deps configure build test demo bench bench-compare fuzz format clean package install

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSY_WERROR=$(WERROR) \
	  -DCMAKE_INSTALL_PREFIX=$(PREFIX)

build: configure
	cmake --build $(BUILD_DIR) -j$(JOBS)

# The whole suite: unit + integration tests through ctest (with the private MariaDB the
# database tests need), then a short libFuzzer run of the HTTP/1 parser.
test: build
	bash scripts/run-tests.sh $(BUILD_DIR)

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

fuzz: deps
	bash tests/fuzz/run.sh 60

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD_DIR) build-fuzz var
