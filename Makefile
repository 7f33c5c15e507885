# seqgen — the two quick-start commands are `make demo` and `make test`; each installs first.
# Installs go into .venv (created on first use) with torch pinned by constraints.txt, so an
# unpinned dependency can never pull a multi-GB CUDA build. Re-running is a no-op unless a
# pyproject.toml or constraints.txt changed (the stamp file .venv/.seqgen-installed).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PLUGINS := $(sort $(dir $(wildcard plugins/*/pyproject.toml)))
STAMP  := $(VENV)/.seqgen-installed
THREADS ?= 1
export OMP_NUM_THREADS ?= 1

.PHONY: install demo test test-fast bench bench-train bench-srnn bench-alternator bench-langevin \
        quality quality-srnn quality-alternator quality-langevin quality-aae quality-play clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt $(wildcard plugins/*/pyproject.toml)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e ".[test]" $(addprefix -e ,$(PLUGINS))
	touch $(STAMP)

demo: install
	$(VENV)/bin/seqgen demo --out runs/demo

test: install
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

# Benchmarks and quality runs print their figures (with the command, threads and machine);
# they are not tests and are not part of `make test`.
bench: bench-train bench-srnn bench-alternator bench-langevin

bench-train: install
	$(PY) benchmarks/bench_train.py --threads $(THREADS)

bench-srnn: install
	$(PY) plugins/seqgen-srnn/benchmarks/bench_srnn.py --threads $(THREADS)

bench-alternator: install
	$(PY) plugins/seqgen-alternator/benchmarks/bench_alternator.py --threads $(THREADS)

bench-langevin: install
	$(PY) plugins/seqgen-langevin/benchmarks/bench_langevin.py --threads $(THREADS)

quality: quality-srnn quality-alternator quality-langevin quality-aae quality-play

quality-srnn: install
	$(PY) plugins/seqgen-srnn/benchmarks/quality_srnn.py --music-minutes 40 --text-minutes 10

quality-alternator: install
	$(PY) plugins/seqgen-alternator/benchmarks/quality_alternator.py --out runs/quality_alternator

quality-langevin: install
	$(PY) plugins/seqgen-langevin/benchmarks/quality_langevin.py --threads $(THREADS) --out runs/quality_langevin/samples.png --run-dir runs/quality_langevin

quality-aae: install
	$(PY) plugins/seqgen-aae/benchmarks/quality_aae.py --threads $(THREADS) --json runs/aae_quality.json

quality-play: install
	$(VENV)/bin/pip install -q -c constraints.txt -e ".[play]"
	$(PY) benchmarks/quality_play.py

clean:
	rm -rf runs .pytest_cache .hypothesis
