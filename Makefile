# The two commands a new user needs are `make run` and `make test`; both install what they need.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_GEN  := -G Ninja
EXAMPLE    ?= examples/hello.yaml

.PHONY: deps configure build run test test-unit test-asan format-check bench lint format clean

deps:
	@scripts/install-deps

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo

configure: $(BUILD)/build.ninja

build: deps configure
	cmake --build $(BUILD) -j $(JOBS)

# Until the server lands, `make run` runs an example workflow with the real CLI.
run: build
	$(BUILD)/trellis run $(EXAMPLE) --output text

# The tests run against a throwaway PostgreSQL server (scripts/with-postgres), one per run.
test-unit: build
	cd $(BUILD) && $(CURDIR)/scripts/with-postgres ctest --output-on-failure -j $(JOBS)

$(ASAN_BUILD)/build.ninja: | deps
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DTRELLIS_SANITIZE=ON -DTRELLIS_BUILD_BENCH=OFF

# The unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(CURDIR)/scripts/with-postgres ctest --output-on-failure -j $(JOBS)

# clang-format must leave every file as it is (CONVENTIONS.md: CI checks the format).
format-check: deps
	@out=$$(clang-format --dry-run $$(git ls-files 'src/*.cpp' 'src/*.h' 'tests/*.cpp' 'tests/*.h' 'bench/*.cpp') 2>&1); \
	if [ -n "$$out" ]; then echo "$$out" | grep warning: | head -20; echo "format-check: run 'make format'"; exit 1; fi

test: format-check test-unit test-asan

# Prints one JSON object: the engine benchmarks (pinned to one core: engine_steps_per_sec and every
# benchmark's counters), then durable throughput on SQLite and on a throwaway PostgreSQL server
# (sqlite_workflows_per_sec, postgres_workflows_per_sec, with details).
bench: build
	taskset -c 0 $(BUILD)/bench/trellis_bench > $(BUILD)/bench/engine.json
	scripts/with-postgres $(BUILD)/bench/trellis_durable_bench --include $(BUILD)/bench/engine.json

lint: configure
	scripts/lint $(BUILD)

format:
	clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.h' 'tests/*.cpp' 'tests/*.h' 'bench/*.cpp')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
