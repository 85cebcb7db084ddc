# The two set-up commands are `make demo` and `make test`; each installs what it needs first.
.PHONY: demo test setup lint stop bench

setup:
	@bash scripts/setup.sh

demo: setup
	@bash scripts/demo.sh

test: setup
	@bash scripts/test.sh

# The benchmark set (scripts/bench.sh): a dated results file under tests/benchmarks/results/, see BENCHMARKS.md.
bench: setup
	@bash scripts/bench.sh

lint: setup
	.venv/bin/ruff check soc collectors tests
	.venv/bin/mypy

stop:
	.venv/bin/soc opensearch stop
