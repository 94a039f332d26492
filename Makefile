# fun-ai-studio-runtime: the front door. `make run` starts the agent, `make test` passes the tests.
SHELL   := /bin/bash
BUILD   ?= build
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

DEB_PACKAGES = build-essential cmake pkg-config curl ca-certificates libpoco-dev libyaml-cpp-dev \
               nlohmann-json3-dev libcurl4-openssl-dev libboost-dev libboost-test-dev prometheus-cpp-dev podman runc busybox-static \
               catatonit rpm cpio procps systemd clang libclang-rt-dev docker-registry apache2-utils openssl iproute2 wrk debootstrap prometheus \
               libmongoc-dev python3-jsonschema
RPM_PACKAGES = gcc-c++ make cmake curl poco-devel yaml-cpp-devel json-devel libcurl-devel boost-devel prometheus-cpp-devel \
               podman runc busybox catatonit rpm-build cpio procps-ng systemd clang compiler-rt \
               docker-distribution httpd-tools openssl iproute wrk debootstrap golang-github-prometheus \
               mongo-c-driver-devel python3-jsonschema

.PHONY: all build deps test-deps test run clean bench rpm test-asan test-podman5 test-userns fuzz
SANITIZER_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
                UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 FUNAI_LOAD_SECONDS=10

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
	@# Apps run in user namespaces of their own: Podman takes their ids from the user "containers".
	@SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); grep -qs '^containers:' /etc/subuid && grep -qs '^containers:' /etc/subgid \
	  || $$SUDO etc/dev/subid-range.sh /

# What the tests need beyond the build: FerretDB, their MongoDB-protocol server, built once from
# the Go module proxy (test/install_ferretdb.sh: with this machine's Go, or a Go it fetches).
test-deps: deps
	@SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO test/install_ferretdb.sh

$(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

test: test-deps build
	cd $(BUILD) && ctest --output-on-failure --timeout 600 -LE userns

# RUNTIME_APP_USERNS=auto on Podman 4.3 (opt-in; see the README's threat model for why it is not in
# `make test` yet).
test-userns: test-deps build
	cd $(BUILD) && ctest --output-on-failure --timeout 600 -L userns

# Every suite that talks to Podman (CTest label "podman"), against Podman 5.4 from a Debian 13 root
# filesystem (built once, cached in /var/cache/fun-ai-runtime) in a network namespace of its own.
test-podman5: test-deps build
	test/podman5.sh run bash -c 'cd $(BUILD) && ctest --output-on-failure --timeout 600 -L podman'

# Builds only what it runs (the agent), then etc/dev/run-local.sh: a demo image, a Podman API if
# none answers, the agent in the foreground; Ctrl-C removes what the run deployed.
run: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS) --target fun-ai-runtime-agent
	FUNAI_AGENT_BINARY=$(abspath $(BUILD))/agent/fun-ai-runtime-agent etc/dev/run-local.sh

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

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer (the agent binary too).
# Built with clang when there is one: it compiles the instrumented code in half gcc's time.
SANITIZE_CXX := $(shell command -v clang++ >/dev/null 2>&1 && echo "CC=clang CXX=clang++")
test-asan: test-deps
	$(SANITIZE_CXX) cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Sanitize -DFUNAI_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && $(SANITIZER_ENV) ctest --output-on-failure --timeout 900 -E 'rpm_package|make_run' -LE userns

# libFuzzer (clang) on request parsing and validation, the strict HTTP head parser (answers and
# requests, and the waker's rewrite of them), the env-file parser and the routing file reader, FUZZ_SECONDS each. New corpus entries stay in build-fuzz/corpus; crashes are written to
# build-fuzz/crash-*. Keep a fixed crash's input in test/fuzz/corpus/<target>/ (replayed by make test).
FUZZ_SECONDS ?= 60
fuzz:
	@command -v clang++ >/dev/null 2>&1 || { echo "make fuzz needs clang (apt-get install clang libclang-rt-dev)"; exit 1; }
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFUNAI_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS) --target fuzz_request fuzz_http_head fuzz_env_file fuzz_route_file
	@for t in request http_head env_file route_file; do \
	  mkdir -p build-fuzz/corpus/$$t && cp -n test/fuzz/corpus/$$t/* build-fuzz/corpus/$$t/ ; \
	  echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	  build-fuzz/test/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix=build-fuzz/crash-$$t- build-fuzz/corpus/$$t 2>&1 | grep -E '^(#[0-9]+ +DONE|INFO: Running|==[0-9]+==ERROR|SUMMARY|Done)' ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

# Speed and memory next to raw Podman, measured in the same run (BENCH_N=10, BENCH_APPS=100).
bench: deps build
	BUILD=$(abspath $(BUILD)) test/bench/run_bench.sh

clean:
	@# containers/storage keeps its overlay directory mounted after the dev Podman service exits
	@grep -o " $(CURDIR)/run/[^ ]*" /proc/mounts 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf $(BUILD) build-asan build-fuzz run
