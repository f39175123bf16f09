PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
VIDEO_DIR ?=
DEMO_OUT ?= demo_out

.PHONY: install demo test bench eval-sintel clean

install: .installed
.installed: setup.cfg pyproject.toml
	# the CPU build of torch first, pinned: an unpinned torch pulls several GB of CUDA packages
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[test,demo]"
	touch .installed

demo: install
	$(PYTHON) scripts/demo.py --out $(DEMO_OUT) $(if $(VIDEO_DIR),--video-dir $(VIDEO_DIR),)

test: install
	$(PYTHON) -m pytest -q tests

bench: install
	$(PYTHON) scripts/bench_maskgen.py

eval-sintel: install
	$(PYTHON) scripts/eval_occlusion_sintel.py

clean:
	rm -rf $(DEMO_OUT) .installed build *.egg-info .pytest_cache
