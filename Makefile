# The two entry points of the README. Both bootstrap .venv (Python 3.11) from requirements.txt on first use.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install reproduce test lab strip clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "cam_lib pins wheels for Python 3.11; set PYTHON=/path/to/python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -r requirements.txt
	$(BIN)/python -m pip install --no-deps -e .
	@# the kernel gets the allocator policy of `python -m cam_lib` (cam_lib/__main__.py: freed memory kept for reuse)
	$(BIN)/python -m ipykernel install --sys-prefix --name cam-lib --display-name "Python (cam-lib)" \
		--env MALLOC_MMAP_THRESHOLD_ 1073741824 --env MALLOC_TRIM_THRESHOLD_ 2147483647
	@# notebooks/*.ipynb are committed without outputs (.gitattributes): in a git clone of this folder, strip them
	@# with a clean filter; elsewhere (no git, a tarball) nothing to do, and `make strip` / the tests still apply.
	if command -v git >/dev/null && [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ]; then \
		git config filter.nbstrip.clean '"$(abspath $(BIN))/python" -m cam_lib.nbstrip'; fi
	touch $(STAMP)

# The main job: the notebook series (Tables 1-5, figures) on the embedded benchmark, default profile, into
# results/ (tables/, figures/, executed/, README.md). Reruns skip the notebooks whose inputs are unchanged.
reproduce: install
	$(BIN)/python -m cam_lib reproduce --profile default

# The unit tests, then nbval over every notebook in the smoke profile (parameters injected by papermill into
# copies under build/nbval; only the cells tagged nbval-check-output are compared).
NBVAL := build/nbval
test: install
	$(BIN)/python -m pytest
	rm -rf $(NBVAL)
	$(BIN)/python -m cam_lib reproduce --profile smoke --device cpu --prepare $(NBVAL) --data-root $(NBVAL)/data \
		--results $(NBVAL)/results --checkpoints $(NBVAL)/checkpoints
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider -q $(NBVAL)/*.ipynb

# JupyterLab on the repository (notebooks/ and results/ in its file browser), notebooks on the cam-lib kernel
# (this venv's Python, preferred over kernels of the same name in the user's Jupyter folders).
lab: install
	JUPYTER_PREFER_ENV_PATH=1 $(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(if $(filter 0,$(shell id -u)),--allow-root)

# Remove outputs and execution counts from the stored notebooks (tests/test_project.py fails while any has them).
strip: install
	$(BIN)/python -m cam_lib.nbstrip notebooks/*.ipynb

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info build
