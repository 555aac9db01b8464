# payrouter: `make run` to start it, `make test` to check it.

CARGO ?= cargo

.PHONY: run test bench lint redis-server chromium openapi-validator

# The demo profile: simulated providers in-process, pretty logs, the embedded store.
run:
	PAYROUTER_PROFILE=demo $(CARGO) run --release --bin payrouter

test: redis-server chromium openapi-validator
	$(CARGO) test --workspace

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The tests start private Redis servers, clusters (redis-cli creates them) and a TLS server
# (openssl makes its certificates); install what the machine lacks.
redis-server:
	@command -v redis-server >/dev/null && command -v redis-cli >/dev/null && command -v openssl >/dev/null || { \
		echo "installing redis-server, redis-tools, openssl"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools openssl >/dev/null; \
	}

# One end-to-end test presses the payer page's button in a real headless browser.
chromium:
	@command -v chromium >/dev/null || { \
		echo "installing chromium"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	}

# tests/openapi.rs validates /openapi.json against the OpenAPI 3.1 schema with this package.
openapi-validator:
	@python3 -c "import openapi_spec_validator" 2>/dev/null || { \
		echo "installing openapi-spec-validator"; \
		python3 -m pip install -q openapi-spec-validator; \
	}

# Overhead and capacity on loopback; prints a table and writes bench/results.json.
bench: redis-server
	$(CARGO) build --release -p payrouter -p payrouter-bench
	./target/release/payrouter-bench
