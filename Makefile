# The two commands of the README are `make run` and `make test`; the rest are steps of them.
JOBS ?= $(shell nproc)
CTEST_JOBS ?= $(shell echo $$(( $(JOBS) * 2 )))

.PHONY: all setup build run test test-release bench asan tsan fuzz format clean

all: build

setup:
	scripts/setup

# Release build of the gateway; the binary lands in bin/apisix-cpp.
build: setup
	cmake --preset release >/dev/null
	cmake --build build/release --target apisix-cpp -j $(JOBS)
	mkdir -p bin && cp build/release/bin/apisix-cpp bin/apisix-cpp

# Starts the gateway in the foreground on :9080 with a sample route and a sample upstream.
run: build
	scripts/run-sample

# Every test (unit, integration against the real binary, fuzz corpus replays) under
# AddressSanitizer + UndefinedBehaviorSanitizer; CTest's summary closes the output.
test: build
	cmake --preset asan >/dev/null
	cmake --build build/asan -j $(JOBS)
	APISIX_TEST_TIMEOUT_SCALE=3 ctest --test-dir build/asan -j $(CTEST_JOBS) --output-on-failure --timeout 600

# The same suite on the release build (quicker, no sanitizers).
test-release: build
	cmake --build build/release -j $(JOBS)
	ctest --test-dir build/release -j $(CTEST_JOBS) --output-on-failure --timeout 600

tsan: setup
	cmake --preset tsan >/dev/null
	cmake --build build/tsan -j $(JOBS)
	APISIX_TEST_TIMEOUT_SCALE=5 APISIX_TEST_BIG_BYTES=256m ctest --test-dir build/tsan -j $(JOBS) --output-on-failure --timeout 900

bench: build
	bench/run.sh

fuzz: setup
	cmake --preset fuzz >/dev/null
	cmake --build build/fuzz -j $(JOBS)

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf build bin run
