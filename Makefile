# The two commands a new user needs are `make run` and `make test`; both install what they need.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= $(ASAN_BUILD)
FUZZ_TIME  ?= 30
JOBS       ?= $(shell nproc)
CMAKE_GEN  := -G Ninja

.PHONY: deps configure build run test test-unit test-asan fuzz format-check bench lint format clean

deps:
	@scripts/install-deps

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo

configure: $(BUILD)/build.ninja

build: deps configure
	cmake --build $(BUILD) -j $(JOBS)

# `make run` serves the API at http://127.0.0.1:8080 on the embedded SQLite (./data/trellis.db).
run: build
	$(BUILD)/trellis server

# The tests run against a throwaway PostgreSQL server (scripts/with-postgres), one per run.
test-unit: build
	cd $(BUILD) && $(CURDIR)/scripts/with-postgres ctest --output-on-failure -j $(JOBS)

# One clang build serves both the sanitizer pass and the fuzzers (TRELLIS_FUZZ: ASan, UBSan and
# libFuzzer's coverage at -O1), so CI compiles the project twice, not three times.
$(ASAN_BUILD)/build.ninja: | deps
	CC=clang CXX=clang++ cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTRELLIS_FUZZ=ON -DTRELLIS_BUILD_BENCH=OFF

# The unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(CURDIR)/scripts/with-postgres ctest --output-on-failure -j $(JOBS)

# The libFuzzer targets (fuzz/README.md), built with clang in $(FUZZ_BUILD) (the sanitizer build): each runs once over its
# seed corpus, then fuzzes for FUZZ_TIME seconds. Crashing inputs go to $(FUZZ_BUILD)/fuzz/artifacts/.
fuzz: deps
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_TIME=$(FUZZ_TIME) JOBS=$(JOBS) scripts/fuzz

# clang-format must leave every file as it is (CONVENTIONS.md: CI checks the format).
format-check: deps
	@out=$$(clang-format --dry-run $$(git ls-files 'src/*.cpp' 'src/*.h' 'tests/*.cpp' 'tests/*.h' 'bench/*.cpp' 'fuzz/*.cpp') 2>&1); \
	if [ -n "$$out" ]; then echo "$$out" | grep warning: | head -20; echo "format-check: run 'make format'"; exit 1; fi

test: format-check test-unit test-asan fuzz

# Prints one JSON object: the engine benchmarks (pinned to one core: engine_steps_per_sec and every
# benchmark's counters), then durable throughput on SQLite and on a throwaway PostgreSQL server
# (sqlite_workflows_per_sec, postgres_workflows_per_sec, with details), then the HTTP figures of the
# real `trellis server` (http_webhook_workflows_per_sec_*, http_execute_wait_p99_ms_*, on PostgreSQL
# also with DESIGN.md's default commit points: *_postgres_default_commits;
# start_to_ready_ms, idle_rss_mb, with http_details). Each step merges the previous one's JSON.
bench: build
	taskset -c 0 $(BUILD)/bench/trellis_bench > $(BUILD)/bench/engine.json
	scripts/with-postgres $(BUILD)/bench/trellis_durable_bench --include $(BUILD)/bench/engine.json > $(BUILD)/bench/durable.json
	scripts/with-postgres $(BUILD)/bench/trellis_http_bench --trellis $(BUILD)/trellis --commit both --include $(BUILD)/bench/durable.json

lint: configure
	scripts/lint $(BUILD)

format:
	clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.h' 'tests/*.cpp' 'tests/*.h' 'bench/*.cpp' 'fuzz/*.cpp')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
