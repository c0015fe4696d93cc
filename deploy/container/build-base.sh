#!/usr/bin/env bash
# Build a Debian base image with Python from Debian packages (no registry needed) and import it into podman.
#
#   deploy/container/build-base.sh [IMAGE]        default IMAGE: localhost/debian-python:bookworm
#
# The Containerfile's default base is docker.io/library/python:3.12-slim. Where that registry is unreachable (or
# policy wants an image built from the distribution's own packages), build this base and pass it in:
#
#   podman build --build-arg BASE=localhost/debian-python:bookworm ...   (deploy/container/check-container.sh does)
#
# Needs: root (or mmdebstrap's unshare mode with subuids), mmdebstrap, podman, and an APT mirror. The hooks check, in
# the new tree (chroot), that python3 is >= 3.11 and that `python3 -m venv` works and gives the venv a pip: exactly
# what the Containerfile's build stage does.
# Environment: SUITE (bookworm), MIRROR (http://deb.debian.org/debian), MODE (auto), BASE_TARBALL (where the rootfs tarball goes; kept if set).
# What the image has: python3 (3.11 on bookworm), python3-venv (so `python3 -m venv` works, and the venv gets pip
# from ensurepip), ca-certificates, and Debian's minbase (bash, coreutils, passwd for useradd). No docs, man pages,
# locales or APT lists.
set -euo pipefail

IMAGE=${1:-localhost/debian-python:bookworm}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
MODE=${MODE:-auto}
PACKAGES=${PACKAGES:-python3,python3-venv,ca-certificates}

for tool in mmdebstrap podman; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found (apt-get install $tool)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tarball=${BASE_TARBALL:-$work/rootfs.tar}

mirrors=("deb $MIRROR $SUITE main")
if [ "$SUITE" = bookworm ]; then
  mirrors+=("deb $MIRROR $SUITE-updates main" "deb http://deb.debian.org/debian-security $SUITE-security main")
fi

start=$(date +%s)
mmdebstrap --mode="$MODE" --variant=minbase --include="$PACKAGES" \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/apt/* "$1"/var/log/dpkg.log' \
  --customize-hook='chroot "$1" python3 -c "import sys; assert sys.version_info >= (3, 11), sys.version"' \
  --customize-hook='chroot "$1" sh -c "python3 -m venv /tmp/v && /tmp/v/bin/python -m pip --version && python3 --version && rm -rf /tmp/v"' \
  "$SUITE" "$tarball" "${mirrors[@]}"

podman import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' \
  --message "Debian $SUITE minbase + $PACKAGES (mmdebstrap $(mmdebstrap --version | awk '{print $2}'))" \
  "$tarball" "$IMAGE" >/dev/null
echo "built $IMAGE in $(( $(date +%s) - start )) s; $(podman image inspect --format '{{.Size}}' "$IMAGE") bytes"
