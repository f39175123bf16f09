# Everything runs in a virtual environment this Makefile makes (.venv, ignored by git), so `make demo` and
# `make test` work from any fresh shell, whatever python3 has installed.
PYTHON ?= python3
VENV ?= .venv
VPYTHON = $(VENV)/bin/python
VPIP = $(VPYTHON) -m pip
TORCH_VERSION ?= 2.13.0
# PyTorch's CPU-only builds: without it, `pip install torch` on Linux pulls the CUDA build (several GB)
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
VIDEO_DIR ?=
DEMO_OUT ?= demo_out

.PHONY: install install-torch demo test bench eval-sintel clean

install: $(VENV)/.installed
$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(VPYTHON) || $(PYTHON) -m venv $(VENV)
	# torch, CPU build: a CPU wheel pip already finds without an index (a local wheel folder, as on the
	# project's machines), else PyTorch's CPU index; then the toolkit with its torch, test, demo and
	# ray extras (so that `make test` runs the --engine ray tests too)
	$(VPIP) install -q --no-index --no-deps "torch==$(TORCH_VERSION)" 2>/dev/null \
	  || $(VPIP) install -q "torch==$(TORCH_VERSION)" --index-url $(TORCH_INDEX) --extra-index-url https://pypi.org/simple
	$(VPIP) install -q -e ".[torch,test,demo,ray]"
	touch $@

demo: install
	$(VPYTHON) scripts/demo.py --out $(DEMO_OUT) $(if $(VIDEO_DIR),--video-dir $(VIDEO_DIR),)

test: install
	$(VPYTHON) -m pytest -q tests

bench: install
	$(VPYTHON) scripts/bench_maskgen.py

eval-sintel: install
	$(VPYTHON) scripts/eval_occlusion_sintel.py

clean:
	rm -rf $(DEMO_OUT) $(VENV) .installed build *.egg-info .pytest_cache
