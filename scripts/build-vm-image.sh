#!/usr/bin/env bash
# Builds the machine image of the `vm` provider offline from Debian packages: Debian with systemd, openssh-server,
# libvirt, QEMU and virtinst, Open vSwitch, iperf3, tcpdump and ethtool, and every requested Debian kernel package.
# No loop mounts: mmdebstrap makes a root folder, `mkfs.ext4 -d` turns it into a filesystem, qemu-img into a qcow2.
# The kernels and their initramfs are copied out next to it, since the VM boots them directly (-kernel/-initrd).
# Downloaded .debs are kept between builds. Cached by its inputs (this script, the files under vm-image/, the suite,
# the kernel list).
#
# usage: scripts/build-vm-image.sh [--force] [--suite SUITE] [KERNEL ...]    prints the image folder on stdout
#   KERNEL: a Debian kernel package (linux-image-...), or the absolute path of a kernel .deb of your own (make
#           bindeb-pkg): installed into the image with its modules, its initramfs made there
#   suites: bookworm (default: libvirt 9.0, QEMU 7.2, kernels 6.1 and 6.12), bookworm-backports (bookworm with
#           libvirt 11.3, QEMU 10.0 and kernel 6.12 from backports), trixie (Debian 13: libvirt 11.3, QEMU 10.0,
#           kernel 6.12)
#   default kernels: bookworm linux-image-cloud-amd64 (6.1) and linux-image-6.12-cloud-amd64; otherwise
#           linux-image-cloud-amd64
# env:   VIRTLAB_CACHE (default $VIRTLAB_HOME/cache, VIRTLAB_HOME defaulting to /var/lib/virtlab)
#        VIRTLAB_MIRROR (default http://deb.debian.org/debian), VIRTLAB_SECURITY_MIRROR
#
# The folder holds disk.qcow2, vmlinuz-<version>, initrd.img-<version>, kernels.tsv: one line per kernel,
# "<version>\t<package>\t<meta packages that chose it>", and packages.tsv: "<package>\t<version>" of libvirt, QEMU
# and the other packages a lab's outcome depends on.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE_DIR=${VIRTLAB_CACHE:-${VIRTLAB_HOME:-/var/lib/virtlab}/cache}
MIRROR=${VIRTLAB_MIRROR:-http://deb.debian.org/debian}
SECURITY=${VIRTLAB_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
say() { echo "vm-image: $*" >&2; }
die() { echo "vm-image: error: $*" >&2; exit 3; }

FORCE=
SUITE=bookworm
while [ $# -gt 0 ]; do
  case $1 in
    --force) FORCE=1; shift ;;
    --suite) [ $# -ge 2 ] || die "--suite needs a value"; SUITE=$2; shift 2 ;;
    *) break ;;
  esac
done
# the suite: where its packages come from, which release apt prefers, what it adds, its default kernels
APT_DEFAULT=
EXTRA=
case $SUITE in
  bookworm)
    DIST=bookworm
    SOURCES=("deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" "deb $SECURITY bookworm-security main")
    DEFAULT_KERNELS=(linux-image-cloud-amd64 linux-image-6.12-cloud-amd64) ;;
  bookworm-backports)
    DIST=bookworm
    SOURCES=("deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" "deb $SECURITY bookworm-security main"
      "deb $MIRROR bookworm-backports main")
    APT_DEFAULT=bookworm-backports
    DEFAULT_KERNELS=(linux-image-cloud-amd64) ;;
  trixie)
    DIST=trixie
    SOURCES=("deb $MIRROR trixie main" "deb $MIRROR trixie-updates main" "deb $SECURITY trixie-security main")
    DEFAULT_KERNELS=(linux-image-cloud-amd64) ;;
  *) die "unknown suite \"$SUITE\" (bookworm, bookworm-backports or trixie)" ;;
esac
# libvirt 10.4 and later pick nftables for their firewall rules when nft is installed, as a distribution install has it
[ "$SUITE" = bookworm ] || EXTRA=nftables,
DEBS=$CACHE_DIR/debs/$DIST
KERNELS=("$@")
[ ${#KERNELS[@]} -gt 0 ] || KERNELS=("${DEFAULT_KERNELS[@]}")
NAMES=()
LOCAL_DEBS=()
for k in "${KERNELS[@]}"; do
  if [[ $k == /*.deb ]]; then
    [[ $k =~ ^/[A-Za-z0-9._/+~-]+$ ]] || die "\"$k\": a kernel .deb's path may hold letters, digits and ._/+~- only"
    [ -f "$k" ] && [ -r "$k" ] || die "no kernel package file $k"
    [[ $(dpkg-deb -f "$k" Package 2>/dev/null) == linux-image-* ]] || die "$k is not a kernel package (its Package field is not linux-image-...)"
    LOCAL_DEBS+=("$k")
  else
    [[ $k =~ ^linux-image-[a-z0-9.+-]+$ ]] || die "\"$k\" is not a Debian kernel package name (linux-image-...) nor the absolute path of a .deb"
    NAMES+=("$k")
  fi
done
for b in mmdebstrap mkfs.ext4 qemu-img tar sha256sum dpkg-deb; do
  command -v "$b" >/dev/null || die "missing $b (bash scripts/install-deps.sh installs it)"
done

SORTED=$(printf '%s\n' "${KERNELS[@]}" | sort -u | tr '\n' ' ')
# a local .deb counts by its content, not its path
LOCAL_SUMS=$(for d in "${LOCAL_DEBS[@]}"; do sha256sum "$d" | cut -c1-16; done | sort | tr '\n' ' ')
INPUTS="script=$(cat "$0" "$HERE"/vm-image/* | sha256sum | cut -c1-16) suite=$SUITE kernels=$SORTED${LOCAL_SUMS:+debs=$LOCAL_SUMS}"
KEY=$(echo "$INPUTS" | sha256sum | cut -c1-12)
OUT=$CACHE_DIR/vm-images/$KEY
up_to_date() { [ -z "$FORCE" ] && [ -f "$OUT/disk.qcow2" ] && [ -s "$OUT/kernels.tsv" ] && [ -s "$OUT/packages.tsv" ]; }
if up_to_date; then
  say "up to date ($OUT)"
  echo "$OUT"
  exit 0
fi

mkdir -p "$DEBS" "$CACHE_DIR/vm-images"
# two labs started at once on a cold cache: one builds, the other waits for it and uses the result
exec 9> "$CACHE_DIR/vm-images/.lock-$KEY"
if ! flock -n 9; then
  say "waiting for another build of the same image"
  flock 9
  if up_to_date; then echo "$OUT"; exit 0; fi
fi
WORK=$(mktemp -d "$CACHE_DIR/vm-images/.build-$KEY.XXXXXX")
# local kernel .debs: copied (frozen for this build) to a folder of this build's own that has the same path inside the
# new root, where dpkg reads them; removed from the image afterwards
STAGE=
trap 'rm -rf "$WORK" ${STAGE:+"$STAGE"}' EXIT
LOCAL_ARGS=()
if [ ${#LOCAL_DEBS[@]} -gt 0 ]; then
  STAGE=$(mktemp -d /tmp/virtlab-kernel-debs-XXXXXX)
  staged=
  for d in "${LOCAL_DEBS[@]}"; do
    cp "$d" "$STAGE/"
    LOCAL_ARGS+=(--include="$STAGE/${d##*/}")
    staged+="$STAGE/${d##*/} "
  done
  LOCAL_ARGS+=(--setup-hook="mkdir -p \"\$1$STAGE\"" --setup-hook="copy-in $staged$STAGE"
    --customize-hook="rm -rf \"\$1$STAGE\"")
fi
say "building the $SUITE machine image with kernels: $SORTED(a few minutes on a cold cache; packages are kept in $DEBS)"
T0=$(date +%s)

PKGS=systemd-sysv,udev,dbus,kmod,initramfs-tools,openssh-server,openssh-sftp-server,iproute2,iputils-ping,procps,
PKGS+=dnsmasq-base,iptables,ebtables,tcpdump,libvirt-daemon-system,libvirt-clients,qemu-system-x86,qemu-utils,virtinst,
# what the host-network step kinds and the throughput checks use inside a VM machine
PKGS+=openvswitch-switch,iperf3,ethtool,bridge-utils,
# what real Ansible needs on a machine it provisions (provisioner: ansible)
PKGS+=python3,python3-apt,sudo,
PKGS+=$EXTRA
PKGS+=$(IFS=,; echo "${NAMES[*]}")

APTOPTS=(--aptopt='APT::Install-Recommends "false"')
[ -z "$APT_DEFAULT" ] || APTOPTS+=(--aptopt="APT::Default-Release \"$APT_DEFAULT\"")
mmdebstrap --mode=root --variant=minbase --format=directory "${APTOPTS[@]}" \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --include="$PKGS" "${LOCAL_ARGS[@]}" --skip=essential/unlink \
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
  --setup-hook="sync-in $DEBS /var/cache/apt/archives/" \
  --customize-hook="sync-out /var/cache/apt/archives $DEBS" \
  --customize-hook="copy-in $HERE/vm-image/virtlab-seed /usr/local/sbin/" \
  --customize-hook="copy-in $HERE/vm-image/virtlab-seed.service /etc/systemd/system/" \
  --customize-hook="upload $HERE/vm-image/customize.sh /tmp/customize.sh" \
  --customize-hook='chroot "$1" sh /tmp/customize.sh && rm "$1"/tmp/customize.sh' \
  "$DIST" "$WORK/root" "${SOURCES[@]}" >&2 \
  || die "mmdebstrap failed (see above)"

# the kernels: which package each /boot/vmlinuz-* came from, and which of the requested meta packages chose it
: > "$WORK/kernels.tsv"
for v in "$WORK"/root/boot/vmlinuz-*; do
  ver=${v##*/vmlinuz-}
  pkg=$(chroot "$WORK/root" dpkg-query -S "/boot/vmlinuz-$ver" | cut -d: -f1)
  metas=
  for k in "${KERNELS[@]}"; do
    [ "$k" = "$pkg" ] && continue
    # a local .deb chose the kernel its Package names
    if [[ $k == /*.deb ]]; then
      [ "$(dpkg-deb -f "$k" Package)" = "$pkg" ] && metas+="$k,"
      continue
    fi
    chroot "$WORK/root" dpkg-query -W -f='${Depends}\n' "$k" 2>/dev/null | tr ',|' '\n\n' | awk '{print $1}' | grep -qx "$pkg" && metas+="$k,"
  done
  printf '%s\t%s\t%s\n' "$ver" "$pkg" "${metas%,}" >> "$WORK/kernels.tsv"
  cp "$v" "$WORK/vmlinuz-$ver"
  cp "$WORK/root/boot/initrd.img-$ver" "$WORK/initrd.img-$ver" || die "no initramfs for $ver"
done
[ -s "$WORK/kernels.tsv" ] || die "no kernel was installed"
# the exact versions of what a lab's outcome depends on (the report names them; `virtlab doctor` lists them)
chroot "$WORK/root" dpkg-query -W -f='${Package}\t${Version}\n' libvirt-daemon qemu-system-x86 iptables nftables \
  dnsmasq-base openvswitch-switch 2>/dev/null | awk -F'\t' '$2 != ""' > "$WORK/packages.tsv" || true
[ -s "$WORK/packages.tsv" ] || die "cannot read the installed packages' versions"

SIZE_MB=$(( $(du -sm "$WORK/root" | cut -f1) * 13 / 10 + 600 ))
mkfs.ext4 -q -F -L virtlab-root -d "$WORK/root" "$WORK/disk.raw" "${SIZE_MB}M" || die "mkfs.ext4 -d failed"
rm -rf "$WORK/root"
qemu-img convert -q -f raw -O qcow2 "$WORK/disk.raw" "$WORK/disk.qcow2"
rm -f "$WORK/disk.raw"
echo "$INPUTS" > "$WORK/inputs"
rm -rf "$OUT"
mv "$WORK" "$OUT"
[ -z "$STAGE" ] || rm -rf "$STAGE"
trap - EXIT
chmod 755 "$OUT"
# older builds of the same suite and kernel list (an earlier version of this script, or an earlier content of a local
# kernel .deb at the same path) go, unless a live lab uses them (a build from before suites were named is bookworm)
for d in "$CACHE_DIR"/vm-images/*/; do
  d=${d%/}
  [ "$d" = "$OUT" ] && continue
  other=$(sed -n 's/^script=[^ ]* //p' "$d/inputs" 2>/dev/null | sed 's/debs=.*//')
  [[ $other == kernels=* ]] && other="suite=bookworm $other"
  [ "$other" = "suite=$SUITE kernels=$SORTED" ] || continue
  if grep -qsF "$d" "${VIRTLAB_HOME:-/var/lib/virtlab}"/state/*.json; then continue; fi
  say "removing the outdated image $d"
  rm -rf "$d"
done
say "built in $(( $(date +%s) - T0 )) s: $(du -sh "$OUT/disk.qcow2" | cut -f1) ($OUT)"
echo "$OUT"
