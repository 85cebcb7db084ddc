# The two set-up commands are `make demo` and `make test`; each installs what it needs first.
.PHONY: demo test setup lint stop bench collector-bundle

setup:
	@bash scripts/setup.sh

demo: setup
	@bash scripts/demo.sh

test: setup
	@bash scripts/test.sh

# The benchmark set (scripts/bench.sh): a dated results file under tests/benchmarks/results/, see BENCHMARKS.md.
bench: setup
	@bash scripts/bench.sh

# The collector's offline installer for agency servers: dist/soc-collector-<version>-offline.tar.gz
# (wheels for Debian 12, CPython 3.11, x86-64; install.sh; systemd unit; INSTALL.vi.txt, INSTALL.en.txt).
collector-bundle: setup
	@bash scripts/collector-bundle.sh

lint: setup
	.venv/bin/ruff check soc collectors tests
	.venv/bin/mypy

stop:
	.venv/bin/soc opensearch stop
