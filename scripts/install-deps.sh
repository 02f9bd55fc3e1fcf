#!/usr/bin/env bash
# Installs everything virtlab needs on a Debian 12 host (as root): Debian packages, the npm dependencies and the
# test guest image. Safe to run again: each part is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  libvirt-daemon-system libvirt-clients libvirt-daemon-driver-qemu qemu-system-x86 qemu-utils virtinst
  openssh-server openssh-client dnsmasq-base iproute2 iptables nftables iputils-ping busybox-static tini tcpdump iperf3
  mtools syslinux syslinux-common fdisk
  mmdebstrap e2fsprogs   # the vm provider builds its machine image with these
)

# --test: also what the test suite needs (headless Chromium renders the HTML reports; the slow tier boots VMs
# from the machine image; the Ansible tests run ansible-playbook; gitlab-ci-local, which runs the generated GitLab
# pipeline in a test, copies the project with rsync). --vm: the machine image of the vm provider
# (otherwise built on the first vm run); python3-jsonschema checks the published lab schema with another validator.
# --ansible: ansible-core, for labs whose playbooks run with real Ansible.
MODE=${1:-}
[ "$MODE" = "--test" ] && PACKAGES+=(chromium ansible-core sudo python3-jsonschema rsync openssl)
[ "$MODE" = "--ansible" ] && PACKAGES+=(ansible-core sudo)

if [ "$(id -u)" != 0 ]; then echo "install-deps: run this as root (it installs Debian packages)" >&2; exit 3; fi

missing=()
for p in "${PACKAGES[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts libvirtd and dnsmasq for the host's default network; virtlab runs its own, one per machine.

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "install-deps: virtlab needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 3
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
bash scripts/build-guest-image.sh >/dev/null
if [ "$MODE" = "--test" ] || [ "$MODE" = "--vm" ]; then bash scripts/build-vm-image.sh >/dev/null; fi
echo "install-deps: ready" >&2
