# fun-ai-studio-runtime: the front door. `make run` starts the agent, `make test` passes the tests.
BUILD   ?= build
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

DEB_PACKAGES = build-essential cmake pkg-config curl ca-certificates libpoco-dev libyaml-cpp-dev \
               nlohmann-json3-dev libcurl4-openssl-dev libboost-test-dev podman runc busybox-static \
               catatonit rpm systemd
RPM_PACKAGES = gcc-c++ make cmake curl poco-devel yaml-cpp-devel json-devel libcurl-devel boost-devel \
               podman runc busybox catatonit rpm-build systemd

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

clean:
	rm -rf $(BUILD) build-asan run
