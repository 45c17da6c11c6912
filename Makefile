# importgate: demo, tests, lint.
#
#   make demo   build the binary and check the seed example (broken and fixed)
#   make test   lints, then cargo test --workspace (Docker-backed tests skip without a daemon unless
#               IMPORTGATE_REQUIRE_DOCKER=1)
#   make lint   rustfmt + clippy

CARGO     ?= cargo
PYTHON    ?= python3
BIN       := target/release/importgate
DEMO_DIR  := target/demo
BASE      := importgate-test/python:3.12-slim
SITE      := /usr/local/lib/python3.12/site-packages

.PHONY: all demo demo-docker demo-oci test lint build

all: build

build:
	$(CARGO) build --release -p importgate

demo: build
	@if docker info >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory demo-docker; \
	else \
		echo "== no Docker daemon: checking OCI archives instead"; \
		$(MAKE) --no-print-directory demo-oci; \
	fi

demo-docker:
	$(PYTHON) tests/support/mkbase.py --layout slim --python 3.12
	@echo; echo "== importgate check --context examples/seed-app   (core/ and services/ without __init__.py)"
	@$(BIN) check --context examples/seed-app --tag importgate-demo/seed-app; echo "exit code: $$?"
	@echo; echo "== importgate check --context examples/seed-app-fixed"
	@$(BIN) check --context examples/seed-app-fixed --tag importgate-demo/seed-app-fixed; echo "exit code: $$?"

demo-oci:
	@mkdir -p $(DEMO_DIR)
	@for app in seed-app seed-app-fixed; do \
		$(PYTHON) tests/support/mkbase.py --layout slim --python 3.12 \
			--oci-out $(DEMO_DIR)/$$app.oci.tar --tag importgate-demo/$$app:latest \
			--app examples/$$app/vendor/site-packages:$(SITE) \
			--app examples/$$app/backend:/app \
			--workdir /app --cmd '["python", "main.py"]' || exit 2; \
	done
	@echo; echo "== importgate check oci-archive:$(DEMO_DIR)/seed-app.oci.tar"
	@$(BIN) check oci-archive:$(DEMO_DIR)/seed-app.oci.tar; echo "exit code: $$?"
	@echo; echo "== importgate check oci-archive:$(DEMO_DIR)/seed-app-fixed.oci.tar"
	@$(BIN) check oci-archive:$(DEMO_DIR)/seed-app-fixed.oci.tar; echo "exit code: $$?"

test: lint
	$(CARGO) test --workspace

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# make bench   time/RSS of `importgate check` on a >500 MB image (docs/performance.md)
.PHONY: bench
bench:
	bench/run.sh
