# make demo  : render the full package for a sample signatory into outbox/demo/, take its deposit in, show its state
# make desk  : the regional desk (csac serve) on the demo's data, with a demo account (after make demo)
# make test  : every test, in parallel (what CI runs)
# make check : the quick loop while coding: each test once, no real watcher, relay or csac process
VENV   ?= .venv
PY     := $(VENV)/bin/python
CSAC   := $(VENV)/bin/csac
STAMP  := $(VENV)/.installed

.PHONY: demo desk test check lint bench bench-ocr bench-desk bench-web bench-load templates docs clean messages

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,heic]'
	touch $(STAMP)

DEMO   := outbox/demo

demo: $(STAMP)
	rm -rf $(DEMO)
	@echo "== 1. Produire le dossier complet d'un signataire d'exemple"
	$(CSAC) render all --beneficiary examples/beneficiaire.yaml --out $(DEMO)/rendu --date 2024-03-01 --state $(DEMO)/var
	@echo "== 2. Construire le dépôt qu'il renverrait : convention signée (PAdES, certificat jetable), annexe, EJ"
	$(CSAC) sample-deposit --beneficiary examples/beneficiaire.yaml --variant 2021-045-lot2 --out $(DEMO)/depot/depot-signe.zip
	@echo "== 3. Le recevoir : le vérifier et l'acheminer vers sa région"
	$(CSAC) intake $(DEMO)/depot/depot-signe.zip --outbox $(DEMO)/courrier --state $(DEMO)/var
	@echo "== Messages écrits (un Maildir par boîte aux lettres) :"
	@find $(DEMO)/courrier -type f ! -name '.*' | sort
	@echo "== 4. Le dépôt dans le journal de la démo (son propre dossier d'état, pas var/) :"
	$(CSAC) status --state $(DEMO)/var
	@echo "== Pour le revoir : $(CSAC) status --state $(DEMO)/var"
	@echo "   (et son dossier : $(CSAC) dossier list --state $(DEMO)/var)"

# The regional desk on the demo's journal: a Hauts-de-France account (the demo signatory's region) made
# once, then `csac serve` on 127.0.0.1 until Ctrl-C. A demo password, for this machine only.
DESK_USER     := demo.hdf
DESK_PASSWORD := bureau-de-demonstration
DESK_PORT     ?= 8000

desk: $(STAMP)
	@test -f $(DEMO)/var/journal.sqlite || $(MAKE) demo
	@$(CSAC) user list --state $(DEMO)/var --json | grep -q '"$(DESK_USER)"' || \
		echo "$(DESK_PASSWORD)" | $(CSAC) user add $(DESK_USER) --region Hauts-de-France --state $(DEMO)/var --password-stdin
	@echo "== Bureau régional : http://127.0.0.1:$(DESK_PORT)/bureau"
	@echo "   compte : $(DESK_USER)   mot de passe : $(DESK_PASSWORD)   (Ctrl-C pour arrêter)"
	$(CSAC) serve --host 127.0.0.1 --port $(DESK_PORT) --state $(DEMO)/var --outbox $(DEMO)/courrier --inbox $(DEMO)/depot/boite

# Tests write in RAM when the machine has some to spare (/dev/shm): the journal and the
# Maildirs fsync at every step, which costs nothing there and milliseconds on a disk.
# Tests keep Python's bytecode caches even where the environment turns them off: every xdist
# worker rewrites the asserts of each test file, and every csac process the tests start compiles
# pipeline/, otherwise (about 2 s per worker and 0.04 s per process).
unexport PYTHONDONTWRITEBYTECODE
TEST_TMP := $(shell test -d /dev/shm -a -w /dev/shm && echo /dev/shm)
PYTEST   := $(if $(TEST_TMP),TMPDIR=$(TEST_TMP) )$(PY) -m pytest
# Four workers on two cores: the watcher and relay tests spend much of their time waiting, and the
# others fill the cores meanwhile. Six were faster while the soak waited 43 s; since it waits 18 s,
# each worker more costs more CPU than it saves in waits (measured back to back, with another
# suite running beside: 3 workers 175 s / 215 s CPU, 4 156 s / 223 s, 6 171 s / 259 s).
# loadgroup keeps the tests sharing one watcher scenario (xdist_group) on one worker.
JOBS     ?= 4

# pytest exits 5 when it finds no test: make, and so CI, fail then.
test: $(STAMP)
	$(PYTEST) -q -rs -n $(JOBS) --dist loadgroup --durations=10

# worksteal: a worker that runs out of tests takes some queued on the other instead of waiting.
check: $(STAMP)
	$(PYTEST) -q -rs -n 2 --dist worksteal -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check pipeline tests testkit bench tools
	$(VENV)/bin/ruff format --check pipeline tests testkit bench tools

bench: $(STAMP)
	$(PY) bench/render.py
	$(PY) bench/intake.py

# 50 depositors at once on the web deposit page (`csac serve` and its watcher on loopback; about a minute)
bench-web: $(STAMP)
	$(PY) bench/deposit_load.py

# Issue 14's load test: 50 depositors at once while a regional team reads its list of 30,000 dossiers.
bench-load: $(STAMP)
	$(PY) bench/web_load.py

# The desk's list page with 30,000 dossiers, over HTTP on loopback (median and 95th percentile).
bench-desk: $(STAMP)
	$(PY) bench/desk_list.py

# Scans and phone photos of the four conventions read by OCR (needs Tesseract with `fra`; minutes).
# One OpenMP thread per Tesseract: on 2 cores its default threads cost several times the CPU.
bench-ocr: $(STAMP)
	OMP_THREAD_LIMIT=1 $(PY) bench/ocr.py

templates: $(STAMP)
	$(PY) tools/build_templates.py

# The README's page images (docs/*.png): the sample package as LibreOffice prints it. Needs
# LibreOffice Writer and Calc (libreoffice-writer-nogui libreoffice-calc-nogui) and, for Word's
# pagination, Carlito (fonts-crosextra-carlito).
docs: $(STAMP)
	$(PY) tools/page_images.py

clean:
	rm -rf $(VENV) outbox/demo

# One message of each kind csac sends, from real deposits (the README's examples)
messages: $(STAMP)
	$(PY) examples/messages.py
