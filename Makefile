# parley: the two commands (see README.md).
#   make run    install dependencies, build, serve on 127.0.0.1:8080 with ./data
#   make test   install dependencies, build Release and ASan+UBSan, run every test
JOBS ?= $(shell nproc)
LISTEN ?= 127.0.0.1:8080
DATA ?= ./data

.PHONY: all deps build build-asan run test unit integration browser bench format clean

all: build

deps:
	./scripts/install-deps

build/CMakeCache.txt:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release

build-asan/CMakeCache.txt:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARLEY_SANITIZE=ON

build: build/CMakeCache.txt
	cmake --build build -j $(JOBS)

build-asan: build-asan/CMakeCache.txt
	cmake --build build-asan -j $(JOBS)

run: deps build
	./build/parley serve --listen $(LISTEN) --data $(DATA)

test: deps build build-asan
	./scripts/run-tests

bench: deps build
	./scripts/run-bench

format:
	clang-format -i $$(git ls-files '*.h' '*.cpp')

clean:
	rm -rf build build-asan
