# Quick start: `make demo` and `make test`. Both set up .venv on first use (python3 and make are all you need).
PYTHON ?= python3
CHROMIUM ?= /usr/bin/chromium
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_OUT := out/demo

.PHONY: setup demo test check-models clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[all]"
	$(BIN)/python -m compileall -q snapcheck >/dev/null
	touch $(STAMP)

setup: $(STAMP)

# The main job on the shipped default: check the trained cat generator in models/ (or, before one is
# shipped, export the `blog` configuration and check that).
demo: $(STAMP)
	@if ls models/*/*.tflite >/dev/null 2>&1; then \
	  $(BIN)/snapcheck check models/*/*.tflite models/*/*.onnx --ls-version 5.x; \
	else \
	  $(BIN)/snapcheck export --config blog --fp16 --format both --out $(DEMO_OUT) && \
	  $(BIN)/snapcheck check $(DEMO_OUT)/blog.tflite --ls-version 5.x; \
	fi
	@echo "Draw with the shipped generator: .venv/bin/snapcheck preview --open"

test: $(STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest -q

# The preview's browser test drives Debian's Chromium (Playwright never downloads a browser): as root,
# install it; otherwise say how (the browser test is skipped without it).
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "could not install chromium: the preview's browser test will be skipped"; \
	else \
	  echo "$(CHROMIUM) not found: sudo apt-get install chromium (the preview's browser test is skipped without it)"; \
	fi

# CI gate for shipped models: every model under models/ against the versions its card declares.
check-models: $(STAMP)
	$(BIN)/python -m snapcheck.models_gate models

clean:
	rm -rf $(VENV) out .pytest_cache
