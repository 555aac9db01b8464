#!/usr/bin/env bash
# Builds payrouter's image (deploy/Containerfile) without any base image: the release binary
# is built on the host, staged in target/image/rootfs with the shared libraries `ldd` names
# (the loader, libc, libm, libgcc_s), glibc's NSS modules for host names (`files`, `dns`), a
# minimal nsswitch.conf and passwd, and `podman build` copies that directory.
# Prints the image tag on the last line. IMAGE_TAG overrides the tag.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
tag=${IMAGE_TAG:-localhost/payrouter:$version}
command -v podman >/dev/null || { echo "image.sh: podman is needed (make image installs it)" >&2; exit 1; }

cargo build --release --locked --bin payrouter >&2
bin=target/release/payrouter
stage=target/image
rm -rf "$stage"
mkdir -p "$stage/rootfs/etc"
# Debug line tables stay beside the image (target/image/payrouter.debug, for symbolising a
# backtrace); the shipped binary keeps its symbols, so backtraces still name functions.
objcopy --only-keep-debug "$bin" "$stage/payrouter.debug"
objcopy --strip-debug --add-gnu-debuglink="$stage/payrouter.debug" "$bin" "$stage/rootfs/payrouter"
chmod 0755 "$stage/rootfs/payrouter"

# Every library the loader maps, at the path the binary asks for (install follows symlinks).
libs=$(ldd "$bin" | grep -o '/[^ ]*' | sort -u)
for lib in $libs; do
    install -D -m 0755 "$lib" "$stage/rootfs$lib"
done
# getaddrinfo (tokio's resolver for Redis, reqwest's for providers) loads these by name.
libdir=$(dirname "$(printf '%s\n' $libs | grep '/libc\.so')")
for module in libnss_files.so.2 libnss_dns.so.2; do
    if [ -e "$libdir/$module" ]; then
        install -D -m 0755 "$libdir/$module" "$stage/rootfs$libdir/$module"
    fi
done
cat > "$stage/rootfs/etc/nsswitch.conf" <<'NSS'
passwd: files
group: files
hosts: files dns
NSS
echo 'payrouter:x:65532:65532:payrouter:/nonexistent:/nonexistent' > "$stage/rootfs/etc/passwd"
echo 'payrouter:x:65532:' > "$stage/rootfs/etc/group"

previous=$(podman image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
podman build --quiet --layers=false -f deploy/Containerfile \
    --build-arg "VERSION=$version" --build-arg "COMMIT=$commit" \
    -t "$tag" "$stage" >&2
# The image this tag named before is left untagged: remove it rather than let rebuilds pile up.
if [ -n "$previous" ] && [ "$previous" != "$(podman image inspect --format '{{.Id}}' "$tag")" ]; then
    podman rmi "$previous" >/dev/null 2>&1 || true
fi
echo "binary: $(du -h "$stage/rootfs/payrouter" | cut -f1) (with line tables: $(du -h "$bin" | cut -f1)), image: $(podman image inspect --format '{{.Size}}' "$tag" | numfmt --to=iec)" >&2
echo "$tag"
