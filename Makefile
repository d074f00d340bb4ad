# The two entry points of the README. Both bootstrap .venv (Python 3.11) from requirements.txt on first use.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install reproduce test clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "cam_lib pins wheels for Python 3.11; set PYTHON=/path/to/python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -r requirements.txt
	$(BIN)/python -m pip install --no-deps -e .
	touch $(STAMP)

# The main job. Until the notebook series lands: CAMs and boxes of the offline ImageNet network on the real
# photographs shipped in the scikit-image and matplotlib wheels, written under results/photos/.
reproduce: install
	$(BIN)/python -m cam_lib localize --data photos --model tf_efficientnet_lite0 --pretrained \
		--figures results/photos --json results/photos/predictions.json --no-progress

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
