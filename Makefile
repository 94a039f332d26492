# fun-ai-studio-runtime: the front door. `make run` starts the agent, `make test` passes the tests.
BUILD   ?= build
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

DEB_PACKAGES = build-essential cmake pkg-config curl ca-certificates libpoco-dev libyaml-cpp-dev \
               nlohmann-json3-dev libcurl4-openssl-dev libboost-test-dev prometheus-cpp-dev podman runc busybox-static \
               catatonit rpm cpio systemd
RPM_PACKAGES = gcc-c++ make cmake curl poco-devel yaml-cpp-devel json-devel libcurl-devel boost-devel prometheus-cpp-devel \
               podman runc busybox catatonit rpm-build cpio systemd

.PHONY: all build deps test run clean bench rpm test-asan fuzz

all: build

deps:
	@if command -v apt-get >/dev/null 2>&1; then \
	  missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "Installing: $$missing"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	  fi; \
	elif command -v dnf >/dev/null 2>&1; then \
	  missing=$$(for p in $(RPM_PACKAGES); do rpm -q $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "Installing: $$missing"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO dnf install -y $$missing; \
	  fi; \
	else echo "Neither apt-get nor dnf found: install the packages listed in the README by hand"; exit 1; fi

$(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

test: deps build
	cd $(BUILD) && ctest --output-on-failure --timeout 600

run: deps build
	etc/dev/run-local.sh

VERSION := $(shell sed -n 's/.* VERSION \([0-9][0-9.]*\) .*/\1/p' CMakeLists.txt | head -n 1)
RPM_TOP := $(abspath $(BUILD))/rpm
# Debian's rpm database does not know the build dependencies that dpkg installed.
RPM_NODEPS := $(shell command -v dnf >/dev/null 2>&1 || echo --nodeps)

# Binary and source RPM from the working tree (tracked and new, not ignored, files).
rpm: deps
	rm -rf $(RPM_TOP) && mkdir -p $(RPM_TOP)/SOURCES
	git ls-files -co --exclude-standard | grep -v '^\.ci/' | \
	  tar --transform 's,^,fun-ai-studio-runtime-$(VERSION)/,' -czf $(RPM_TOP)/SOURCES/fun-ai-studio-runtime-$(VERSION).tar.gz -T -
	rpmbuild -ba $(RPM_NODEPS) --define "_topdir $(RPM_TOP)" --define "funai_version $(VERSION)" \
	  --define "_smp_mflags -j$(JOBS)" packaging/rpm/fun-ai-studio-runtime.spec
	@ls -1 $(RPM_TOP)/RPMS/*/*.rpm $(RPM_TOP)/SRPMS/*.rpm

# Speed and memory next to raw Podman, measured in the same run (BENCH_N=10, BENCH_APPS=100).
bench: deps build
	BUILD=$(abspath $(BUILD)) test/bench/run_bench.sh

clean:
	rm -rf $(BUILD) build-asan run
