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

# $(call apt_need,CHECK,PACKAGES): installs the Debian PACKAGES unless the shell CHECK passes.
apt_need = @{ $(1); } >/dev/null 2>&1 || { \
	echo "installing $(2)"; $(APT_INSTALL) $(2) >/dev/null; }

# $(call pip_need,CHECK,PACKAGE): installs the Python PACKAGE unless the shell CHECK passes.
pip_need = @{ $(1); } >/dev/null 2>&1 || { \
	echo "installing $(2)"; \
	python3 -m pip install -q $(2) 2>/dev/null \
	|| python3 -m pip install -q --break-system-packages $(2); }

# The tests start private Redis servers, clusters (redis-cli creates them) and a TLS server
# (openssl makes its certificates); install what the machine lacks.
redis-server:
	$(call apt_need,command -v redis-server && command -v redis-cli && command -v openssl,redis-server redis-tools openssl)

# One end-to-end test presses the payer page's button in a real headless browser.
chromium:
	$(call apt_need,command -v chromium,chromium)

# promtool checks the alert rules and a real /metrics scrape (Debian's prometheus package).
promtool:
	$(call apt_need,command -v promtool,prometheus)

podman:
	$(call apt_need,command -v podman,podman)

# deploy/check.sh reads the image's JSON answers with jq.
jq:
	$(call apt_need,command -v jq,jq)

# Validates the Kubernetes manifests against the API schemas it ships (offline once installed).
kubernetes-validate:
	$(call pip_need,command -v kubernetes-validate,kubernetes-validate)

# tests/openapi.rs validates /openapi.json against the OpenAPI 3.1 schema with this package.
openapi-validator:
	$(call pip_need,python3 -c "import openapi_spec_validator",openapi-spec-validator)

# Overhead and capacity on loopback; prints a table and writes bench/results.json.
bench: redis-server
	$(CARGO) build --release -p payrouter -p payrouter-bench
	./target/release/payrouter-bench
