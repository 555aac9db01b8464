# payrouter: `make run` to start it, `make test` to check it.

CARGO ?= cargo

.PHONY: run test bench lint redis-server chromium

# The demo profile: simulated providers in-process, pretty logs, the embedded store.
run:
	PAYROUTER_PROFILE=demo $(CARGO) run --release --bin payrouter

test: redis-server chromium
	$(CARGO) test --workspace

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The tests start private Redis servers; install Redis when the machine has none.
redis-server:
	@command -v redis-server >/dev/null || { \
		echo "installing redis-server"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	}

# One end-to-end test presses the payer page's button in a real headless browser.
chromium:
	@command -v chromium >/dev/null || { \
		echo "installing chromium"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	}

# Overhead and capacity on loopback; prints a table and writes bench/results.json.
bench: redis-server
	$(CARGO) build --release -p payrouter -p payrouter-bench
	./target/release/payrouter-bench
