# importgate: demo, tests, lint.
#
#   make demo   build the binary and check the seed example (broken and fixed), FROM python:3.12-slim
#   make test   lints, then cargo test --workspace (Docker-backed tests skip without a daemon unless
#               IMPORTGATE_REQUIRE_DOCKER=1)
#   make lint   rustfmt + clippy
#
# make demo takes python:3.12-slim from the engine when it has it, else pulls it (from
# PULL_FROM, a registry mirror such as 127.0.0.1:5000, when set), else builds a stand-in with the
# official image's layout from this machine's CPython 3.12 (tests/support/mkbase.py --official).
# BIN=path/to/importgate checks with that binary instead of building the release one.

CARGO        ?= cargo
PYTHON       ?= python3
RELEASE_BIN  := target/release/importgate
BIN          ?= $(RELEASE_BIN)
DEMO_DIR     := target/demo
IMAGE        := python:3.12-slim
PULL_FROM    ?=
PULL_TIMEOUT ?= 30
SITE         := /usr/local/lib/python3.12/site-packages

.PHONY: all demo demo-base demo-docker demo-oci test lint build

all: build

build:
	$(CARGO) build --release -p importgate

demo: $(if $(filter $(RELEASE_BIN),$(BIN)),build)
	@if docker info >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory demo-docker; \
	else \
		echo "== no Docker daemon: checking OCI archives instead"; \
		$(MAKE) --no-print-directory demo-oci; \
	fi

# The base the examples start FROM: the engine's, else pulled, else a stand-in, said on one line.
demo-base:
	@mkdir -p $(DEMO_DIR)
	@if docker image inspect $(IMAGE) >/dev/null 2>&1; then \
		echo "== $(IMAGE) from the engine"; \
	else \
		src="$(if $(PULL_FROM),$(PULL_FROM)/$(IMAGE),$(IMAGE))"; \
		if timeout $(PULL_TIMEOUT) docker pull -q "$$src" >/dev/null 2>$(DEMO_DIR)/pull.err \
			&& { [ "$$src" = "$(IMAGE)" ] || docker tag "$$src" $(IMAGE); }; then \
			echo "== $(IMAGE) pulled from $$src"; \
		else \
			why=$$(tr '\n' ' ' < $(DEMO_DIR)/pull.err | sed 's/ *$$//'); \
			[ -n "$$why" ] || why="no answer within $(PULL_TIMEOUT) s"; \
			$(PYTHON) tests/support/mkbase.py --layout slim --python 3.12 --official \
				>/dev/null 2>$(DEMO_DIR)/mkbase.err \
				|| { cat $(DEMO_DIR)/mkbase.err >&2; exit 2; }; \
			echo "== $(IMAGE) is not in the engine and \`docker pull $$src\` failed ($$why): using a stand-in built from this machine's CPython 3.12 with the official image's layout"; \
		fi; \
	fi

demo-docker: demo-base
	@echo; echo "== importgate check --context examples/seed-app   (core/ and services/ without __init__.py)"
	@$(BIN) check --context examples/seed-app --tag importgate-demo/seed-app; echo "exit code: $$?"
	@echo; echo "== importgate check --context examples/seed-app-fixed"
	@$(BIN) check --context examples/seed-app-fixed --tag importgate-demo/seed-app-fixed; echo "exit code: $$?"

demo-oci:
	@mkdir -p $(DEMO_DIR)
	@for app in seed-app seed-app-fixed; do \
		$(PYTHON) tests/support/mkbase.py --layout slim --python 3.12 --official \
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
