# drivesynth: `make demo` and `make test` work on a fresh machine with Python 3.11.
# Every install goes through requirements/lock.txt (exact versions, sha256 hashes).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements/lock.txt
PIP := $(BIN)/python -m pip

.PHONY: install test test-fast demo lint lock check-install clean browser

$(BIN)/python:
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "drivesynth: the lock is for Python 3.11; run make PY=python3.11")'
	$(PY) -m venv $(VENV)

# The lock holds every package of every extra with its hashes; --no-deps so that nothing
# outside it can come in, then the project itself (editable, no build isolation: the
# build backend is in the lock too), then pip's own consistency check.
$(STAMP): $(BIN)/python $(LOCK) pyproject.toml
	$(PIP) install -q --require-hashes --no-deps -r $(LOCK)
	$(PIP) install -q --no-deps --no-build-isolation -e .
	$(PIP) check
	touch $(STAMP)

install: $(STAMP)

# Regenerate the locks from pyproject.toml (keeps current pins where they still fit):
# lock.txt for everything, edge-lock.txt (a subset, same versions) for a board.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml requirements/build.in --all-extras \
	  --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  --index-url https://pypi.org/simple --no-header --emit-index-url -o $(LOCK)
	$(BIN)/uv pip compile pyproject.toml requirements/build.in --extra edge \
	  --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  --index-url https://pypi.org/simple --no-header --emit-index-url -c $(LOCK) \
	  -o requirements/edge-lock.txt

check-install: $(STAMP)
	$(BIN)/python scripts/check_install.py

lint: $(STAMP)
	$(BIN)/ruff check .

# Debian's chromium for the viewer's browser tests (tests/datagen/test_view_browser.py),
# installed with apt-get when missing and we are root; otherwise those tests skip, saying so.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else echo "drivesynth: no /usr/bin/chromium and not root: the browser tests will skip"; fi

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/python scripts/check_install.py
	$(BIN)/python -m pytest -q -ra --durations=15

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not gpu"

demo: $(STAMP)
	$(BIN)/python scripts/demo.py --out report

clean:
	rm -rf report runs .pytest_cache
