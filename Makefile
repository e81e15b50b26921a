# parley: the two commands (see README.md).
#   make run    install dependencies, build the server binary only, serve on 127.0.0.1:8080 with ./data
#   make cluster  the same on a local cluster: Kafka, PostgreSQL, 3 instances, nginx on :8080
#   make test   install dependencies, build Release, ASan+UBSan and TSan (unit tests), run every test
#               (and the fuzzers, built with clang in build-fuzz, for PARLEY_FUZZ_SECONDS each)
JOBS ?= $(shell nproc)
LISTEN ?= 127.0.0.1:8080
DATA ?= ./data

.PHONY: all deps build build-server build-asan build-tsan build-fuzz run cluster test fuzz unit integration browser bench format clean

all: build

deps:
	./scripts/install-deps

build/CMakeCache.txt:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release

build-asan/CMakeCache.txt:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARLEY_SANITIZE=ON

build-tsan/CMakeCache.txt:
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARLEY_TSAN=ON

# Only the fuzz targets and the libraries they test are compiled in this one (see cmake/fuzz.cmake).
build-fuzz/CMakeCache.txt:
	cmake -S . -B build-fuzz -DPARLEY_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: build/CMakeCache.txt
	cmake --build build -j $(JOBS)

# Only the server binary (and the libraries it links): what `make run` and `make cluster` need.
# The tests and benchmarks are built by `make test` and `make bench` (the `build` target).
build-server: build/CMakeCache.txt
	cmake --build build -j $(JOBS) --target parley

build-asan: build-asan/CMakeCache.txt
	cmake --build build-asan -j $(JOBS)

# ThreadSanitizer: the unit tests of the threaded parts (the gateway, the cluster core). Not the Kafka
# adapter's: Debian's librdkafka is not instrumented and its test crashes at its first handle under TSan.
TSAN_TESTS = gateway_test cluster_core_test
build-tsan: build-tsan/CMakeCache.txt
	cmake --build build-tsan -j $(JOBS) --target $(TSAN_TESTS)

build-fuzz: build-fuzz/CMakeCache.txt
	cmake --build build-fuzz -j $(JOBS) --target fuzzers

run: deps build-server
	./build/parley serve --listen $(LISTEN) --data $(DATA)

# A local cluster: a real Kafka (BROKERS), a throwaway PostgreSQL, three instances, a persister and
# nginx on $(LISTEN) balancing them (scripts/cluster). Ctrl-C stops everything.
BROKERS ?= 3
cluster: deps build-server
	./scripts/cluster start --brokers $(BROKERS) --listen $(LISTEN)

test: deps build build-asan build-tsan build-fuzz
	./scripts/run-tests

fuzz: deps build-fuzz
	./scripts/run-fuzz

bench: deps build
	./scripts/run-bench

format:
	clang-format -i $$(git ls-files '*.h' '*.cpp')

clean:
	rm -rf build build-asan build-tsan build-fuzz
