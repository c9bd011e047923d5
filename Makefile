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

DEMO   := outbox/demo

demo: $(STAMP)
	rm -rf $(DEMO)
	@echo "== 1. Render the package for a sample signatory"
	$(CSAC) render all --beneficiary examples/beneficiaire.yaml --out $(DEMO)/rendu --date 2024-03-01 --state $(DEMO)/var
	@echo "== 2. Build the deposit it would send back: convention signed (PAdES, throwaway certificate), annex, EJ"
	$(CSAC) sample-deposit --beneficiary examples/beneficiaire.yaml --variant 2021-045-lot2 --out $(DEMO)/depot/depot-signe.zip
	@echo "== 3. Take it in: check it and route it to its region"
	$(CSAC) intake $(DEMO)/depot/depot-signe.zip --outbox $(DEMO)/courrier --state $(DEMO)/var
	@echo "== Messages written (one Maildir per mailbox):"
	@find $(DEMO)/courrier -type f ! -name '.*' | sort

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check pipeline tests bench tools
	$(VENV)/bin/ruff format --check pipeline tests bench tools

bench: $(STAMP)
	$(PY) bench/render.py
	$(PY) bench/intake.py

templates: $(STAMP)
	$(PY) tools/build_templates.py

clean:
	rm -rf $(VENV) outbox/demo
