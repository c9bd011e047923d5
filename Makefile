# make demo : render the full package for a sample signatory into outbox/demo/
# make test : run the test suite
VENV   ?= .venv
PY     := $(VENV)/bin/python
CSAC   := $(VENV)/bin/csac
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench templates clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(CSAC) render all --beneficiary examples/beneficiaire.yaml --out outbox/demo --date 2024-03-01

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check pipeline tests bench tools
	$(VENV)/bin/ruff format --check pipeline tests bench tools

bench: $(STAMP)
	$(PY) bench/render.py

templates: $(STAMP)
	$(PY) tools/build_templates.py

clean:
	rm -rf $(VENV) outbox/demo
