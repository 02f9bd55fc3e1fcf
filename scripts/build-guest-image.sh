#!/usr/bin/env bash
# Builds the virtlab test guest offline from Debian packages: a Debian cloud kernel plus a busybox initramfs that
# loads the virtio modules, gets an address with udhcpc on eth0, answers ping, carries iperf3 (the host's binary and
# the libraries it links, for throughput checks) and prints a ready line on the serial console. Also packs both into a small bootable qcow2 (MBR + FAT16 + SYSLINUX, no loop mounts) so the guest
# is launched the classic way (virt-install --import --disk ...). Cached: rebuilt only when an input changes.
#
# usage: scripts/build-guest-image.sh [--force]     prints the qcow2 path on stdout
# env:   VIRTLAB_CACHE (default $VIRTLAB_HOME/cache, VIRTLAB_HOME defaulting to /var/lib/virtlab),
#        GUEST_KERNEL_PKG (default: what linux-image-cloud-amd64 depends on)
set -euo pipefail

CACHE_DIR=${VIRTLAB_CACHE:-${VIRTLAB_HOME:-/var/lib/virtlab}/cache}
CACHE=$CACHE_DIR/images
DEBS=$CACHE_DIR/debs
OUT=$CACHE/cirros.qcow2
FORCE=${1:-}
say() { echo "guest-image: $*" >&2; }
die() { echo "guest-image: error: $*" >&2; exit 3; }

for b in busybox qemu-img sfdisk mformat mcopy syslinux dpkg-deb iperf3 ldd; do
  command -v "$b" >/dev/null || die "missing $b (apt-get install busybox-static qemu-utils fdisk mtools syslinux syslinux-common iperf3)"
done
MBR=/usr/lib/syslinux/mbr/mbr.bin
[ -f "$MBR" ] || die "missing $MBR (apt-get install syslinux-common)"
BUSYBOX=$(command -v busybox)
file_is_static=$(od -An -c -N 4 "$BUSYBOX" | tr -d ' \n')
[ "$file_is_static" = '177ELF' ] || die "$BUSYBOX is not an ELF binary"

mkdir -p "$CACHE" "$DEBS"

KPKG=${GUEST_KERNEL_PKG:-}
# the kernel chosen once is kept (asking apt costs about a second): --force or GUEST_KERNEL_PKG choose again
if [ -z "$KPKG" ] && [ "$FORCE" != "--force" ] && [ -s "$CACHE/kernel-pkg" ]; then KPKG=$(cat "$CACHE/kernel-pkg"); fi
if [ -z "$KPKG" ]; then
  KPKG=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}') || true
fi
if [ -z "$KPKG" ]; then
  # offline without package lists: use the newest kernel package already in the cache
  cached=$(ls -1 "$DEBS"/linux-image-*-cloud-amd64_*.deb 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$cached" ] || die "cannot find a Debian cloud kernel package (run apt-get update, or set GUEST_KERNEL_PKG)"
  KPKG=$(basename "$cached" | cut -d_ -f1)
fi

echo "$KPKG" > "$CACHE/kernel-pkg"
KDEB=$(ls -1 "$DEBS/${KPKG}"_*.deb 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$KDEB" ]; then
  say "downloading $KPKG (once; kept in $DEBS)"
  (cd "$DEBS" && apt-get download -q "$KPKG" >&2) || die "apt-get download $KPKG failed"
  KDEB=$(ls -1 "$DEBS/${KPKG}"_*.deb | sort -V | tail -1)
fi

SELF_SUM=$(sha256sum "$0" | cut -c1-16)
BB_SUM=$(sha256sum "$BUSYBOX" | cut -c1-16)
SL_VER=$(dpkg-query -W -f='${Version}' syslinux 2>/dev/null || echo unknown)
IPERF_VER=$(dpkg-query -W -f='${Version}' iperf3 2>/dev/null || sha256sum "$(command -v iperf3)" | cut -c1-16)
INPUTS="script=$SELF_SUM kernel=$(basename "$KDEB") busybox=$BB_SUM syslinux=$SL_VER iperf3=$IPERF_VER"
if [ "$FORCE" != "--force" ] && [ -f "$OUT" ] && [ "$(cat "$CACHE/cirros.inputs" 2>/dev/null)" = "$INPUTS" ]; then
  say "up to date ($INPUTS)"
  echo "$OUT"
  exit 0
fi

WORK=$(mktemp -d "$CACHE/.build-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
say "building from $(basename "$KDEB")"
dpkg-deb -x "$KDEB" "$WORK/k"
KVER=$(ls "$WORK/k/lib/modules")
MODDIR="$WORK/k/lib/modules/$KVER"
cp "$WORK/k/boot/vmlinuz-$KVER" "$WORK/vmlinuz"

# virtio NIC (and its dependencies), in dependency order; read depends= from each module (no modules.dep here)
declare -A DONE=()
ORDER=()
modpath() { find "$MODDIR" -name "$1.ko" -o -name "$1.ko.xz" | head -1; }
add_mod() {
  local m=${1//-/_} p deps d
  [ -n "${DONE[$m]:-}" ] && return 0
  DONE[$m]=1
  p=$(modpath "$m"); [ -n "$p" ] || p=$(modpath "${1//_/-}")
  [ -n "$p" ] || return 0 # built into the kernel
  case "$p" in *.xz) xz -dc "$p" > "$WORK/$m.ko" ;; *) cp "$p" "$WORK/$m.ko" ;; esac
  deps=$(grep -a -o 'depends=[a-z0-9_,-]*' "$WORK/$m.ko" | head -1 | cut -d= -f2 | tr ',' ' ')
  for d in $deps; do add_mod "$d"; done
  ORDER+=("$m")
}
for m in virtio virtio_ring virtio_pci virtio_net; do add_mod "$m"; done

R=$WORK/root
mkdir -p "$R"/{bin,dev,proc,sys,etc,lib/modules,run,tmp}
cp "$BUSYBOX" "$R/bin/busybox"
for m in "${ORDER[@]}"; do mv "$WORK/$m.ko" "$R/lib/modules/"; done
# iperf3 and every library it links (with the loader), at the paths the binary looks for them
IPERF=$(readlink -f "$(command -v iperf3)")
mkdir -p "$R/usr/bin"
cp "$IPERF" "$R/usr/bin/iperf3"
for lib in $(ldd "$IPERF" | grep -o '/[^ ]*'); do
  mkdir -p "$R$(dirname "$lib")"
  cp -L "$lib" "$R$lib"
done
echo "${ORDER[*]}" > "$R/etc/modules"

cat > "$R/etc/udhcpc.script" <<'EOS'
#!/bin/busybox sh
# udhcpc hook: configure eth0 and announce readiness on the serial console
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    # the first NIC owns the default route; a NIC attached later must not steal it
    if [ -n "$router" ] && { [ "$interface" = eth0 ] || ! ip route | grep -q '^default'; }; then
      ip route replace default via "${router%% *}" dev "$interface"
    fi
    [ -n "$hostname" ] && hostname "$hostname"
    mac=$(cat /sys/class/net/$interface/address)
    echo "=== network info ===" > /dev/console
    echo "virtlab-guest ready hostname=$(hostname) ip=$ip mac=$mac iface=$interface" > /dev/console
    ;;
esac
exit 0
EOS

cat > "$R/init" <<'EOS'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /etc/modules); do insmod /lib/modules/$m.ko; done
hostname cirros
ip link set lo up
# nap: a pause without a fork (read with a timeout on a FIFO nobody writes). Under TCG every fork costs; the watch
# loops below ran the sleep applet (a fork) five times a second: ~4% of a host core per idle guest, 16 guests ~0.7 core
mkfifo /run/nap; exec 9<>/run/nap
nap() { read -t "$1" _ <&9; }
i=0; while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do nap 0.1; i=$((i+1)); done
echo "virtlab-guest booted mac=$(cat /sys/class/net/eth0/address)" > /dev/console
# DHCP on every NIC, including ones attached later (virsh attach-interface)
dhcp() { ip link set "$1" up; udhcpc -i "$1" -s /etc/udhcpc.script -b -t 30 -T 1 -A 2 -x hostname:cirros -p "/run/udhcpc.$1.pid" >/dev/null 2>&1; }
# a static address from the kernel command line (virtlab.ip=A.B.C.D/NN virtlab.gw=G) replaces DHCP on eth0
SIP=; SGW=
for a in $(cat /proc/cmdline); do case "$a" in virtlab.ip=*) SIP=${a#*=} ;; virtlab.gw=*) SGW=${a#*=} ;; esac; done
if [ -n "$SIP" ]; then
  ip link set eth0 up
  ip addr add "$SIP" dev eth0
  [ -n "$SGW" ] && ip route add default via "$SGW"
  echo "=== network info ===" > /dev/console
  echo "virtlab-guest ready hostname=$(hostname) ip=${SIP%/*} mac=$(cat /sys/class/net/eth0/address) iface=eth0 static" > /dev/console
else
  dhcp eth0
fi
: > /run/dhcp.eth0
# IPv6: once SLAAC's address on eth0 has passed duplicate detection (scope 00 global, flag 40 tentative cleared),
# say so on the console (/proc/net/if_inet6: address, index, prefix length, scope, flags, name); a LAN without
# router advertisements never gets one, and the watch ends after a minute
( i=0; while [ $i -lt 80 ]; do
    while read -r a _ _ scope flags n; do
      if [ "$n" = eth0 ] && [ "$scope" = 00 ] && [ $((0x$flags & 0x40)) -eq 0 ]; then
        echo "virtlab-guest ipv6 ip6=$a iface=eth0" > /dev/console; exit 0
      fi
    done < /proc/net/if_inet6
    # every 0.2 s for 5 s (when a router answers, SLAAC is done within a few seconds), then every second
    if [ $i -lt 25 ]; then nap 0.2; else nap 1; fi; i=$((i+1))
  done ) &
( while true; do
    for d in /sys/class/net/eth*; do n=${d##*/}; [ -e "/run/dhcp.$n" ] && continue; : > "/run/dhcp.$n"; dhcp "$n"; done
    nap 1
  done ) &
# a root shell on the serial console (the console executor uses it); respawn when it exits
while true; do setsid sh -c 'exec sh </dev/ttyS0 >/dev/ttyS0 2>&1'; done
EOS
chmod 0755 "$R/init" "$R/etc/udhcpc.script"
(cd "$R" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -9) > "$WORK/initrd.gz"

# bootable disk: MBR, one FAT16 partition at 1 MiB with SYSLINUX, kernel and initramfs
RAW=$WORK/disk.raw
truncate -s 32M "$RAW"
echo 'start=2048, type=6, bootable' | sfdisk -q "$RAW" >/dev/null
dd if="$MBR" of="$RAW" bs=440 count=1 conv=notrunc status=none
OFF=$((2048 * 512))
mformat -i "$RAW@@$OFF" -v VIRTLAB ::
cat > "$WORK/syslinux.cfg" <<'EOS'
DEFAULT virtlab
PROMPT 0
TIMEOUT 0
LABEL virtlab
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND console=ttyS0 loglevel=3 panic=-1
EOS
mcopy -i "$RAW@@$OFF" "$WORK/vmlinuz" "$WORK/initrd.gz" "$WORK/syslinux.cfg" ::/
syslinux --offset "$OFF" --install "$RAW"
qemu-img convert -q -f raw -O qcow2 "$RAW" "$WORK/cirros.qcow2"
mv "$WORK/vmlinuz" "$CACHE/cirros-vmlinuz"
mv "$WORK/initrd.gz" "$CACHE/cirros-initrd.gz"
mv "$WORK/cirros.qcow2" "$OUT"
echo "$INPUTS" > "$CACHE/cirros.inputs"
say "built $OUT ($(du -h "$OUT" | cut -f1); modules: ${ORDER[*]})"
echo "$OUT"
