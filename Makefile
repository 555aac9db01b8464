# payrouter: `make run` to start it, `make test` to check it.

CARGO ?= cargo
APT_INSTALL = apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq

.PHONY: run test image bench lint redis-server chromium promtool podman jq kubernetes-validate openapi-validator

# The demo profile: simulated providers in-process, pretty logs, the embedded store.
run:
	PAYROUTER_PROFILE=demo $(CARGO) run --release --bin payrouter

# Every Rust test, then the deploy checks (alert rules, Kubernetes manifests, compose file,
# and the image built and run from its exported root filesystem).
test: redis-server chromium promtool podman jq kubernetes-validate openapi-validator
	$(CARGO) test --workspace
	deploy/check.sh

# The container image, FROM scratch, built without pulling anything (deploy/image.sh).
image: podman
	deploy/image.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The tests start private Redis servers, clusters (redis-cli creates them) and a TLS server
# (openssl makes its certificates); install what the machine lacks.
redis-server:
	@command -v redis-server >/dev/null && command -v redis-cli >/dev/null && command -v openssl >/dev/null || { \
		echo "installing redis-server, redis-tools, openssl"; $(APT_INSTALL) redis-server redis-tools openssl >/dev/null; }

# One end-to-end test presses the payer page's button in a real headless browser.
chromium:
	@command -v chromium >/dev/null || { \
		echo "installing chromium"; $(APT_INSTALL) chromium >/dev/null; }

# promtool checks the alert rules and a real /metrics scrape (Debian's prometheus package).
promtool:
	@command -v promtool >/dev/null || { \
		echo "installing prometheus (promtool)"; $(APT_INSTALL) prometheus >/dev/null; }

podman:
	@command -v podman >/dev/null || { \
		echo "installing podman"; $(APT_INSTALL) podman >/dev/null; }

# deploy/check.sh reads the image's JSON answers with jq.
jq:
	@command -v jq >/dev/null || { \
		echo "installing jq"; $(APT_INSTALL) jq >/dev/null; }

# Validates the Kubernetes manifests against the API schemas it ships (offline once installed).
kubernetes-validate:
	@command -v kubernetes-validate >/dev/null || { \
		echo "installing kubernetes-validate"; \
		python3 -m pip install -q kubernetes-validate 2>/dev/null \
		|| python3 -m pip install -q --break-system-packages kubernetes-validate; }

# tests/openapi.rs validates /openapi.json against the OpenAPI 3.1 schema with this package.
openapi-validator:
	@python3 -c "import openapi_spec_validator" 2>/dev/null || { \
		echo "installing openapi-spec-validator"; \
		python3 -m pip install -q openapi-spec-validator 2>/dev/null \
		|| python3 -m pip install -q --break-system-packages openapi-spec-validator; }

# Overhead and capacity on loopback; prints a table and writes bench/results.json.
bench: redis-server
	$(CARGO) build --release -p payrouter -p payrouter-bench
	./target/release/payrouter-bench
