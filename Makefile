# numalab: two commands on a fresh machine with python3 (3.11) and make.
#   make report   execute every notebook and write offline HTML reports into reports/
#   make test     run the whole suite (unit, property, notebooks under nbval, browser test)
#   make notebooks  re-execute every notebook in place, storing its outputs
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.numalab-installed

.PHONY: all report test lab bench venv clean truth notebooks

all: report

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { echo "error: '$(PYTHON) -m venv' failed; on Debian install python3-venv" >&2; exit 2; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

report: $(STAMP)
	$(VENV)/bin/numalab report --out reports

# notebooks run under strict nbval: stored outputs are compared (see notebooks/README.md)
test: $(STAMP)
	PYTHONHASHSEED=0 $(PY) -m pytest tests --doctest-modules numalab --nbval notebooks --nbval-sanitize-with notebooks/nbval-sanitize.cfg

# re-execute every notebook in place, storing its outputs (each file replaced atomically)
notebooks: $(STAMP)
	$(PY) tools/store_notebook_outputs.py

# as root (a container, a fresh VM) Jupyter refuses to start without --allow-root: pass it then
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/ $$(test "$$(id -u)" -eq 0 && echo --allow-root)

bench: $(STAMP)
	$(PY) benchmarks/run.py

truth: $(STAMP)
	$(PY) ../shared/tools/kernel_truth_check.py

clean:
	rm -rf $(VENV) reports .pytest_cache .hypothesis
