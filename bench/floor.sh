#!/usr/bin/env bash
# The floor for `virtlab run kvm-macvtap`: the same lab done by a plain shell script, with the same commands and the
# same waits, and none of virtlab's own work (no ssh, no state file, no reports). Prints the wall time in seconds.
# usage: bench/floor.sh IMAGE WARM_LIBVIRT_CACHE [iperf]   (as root; used by bench/run.ts)
# With "iperf" it also measures TCP throughput from the guest to remote-01 for 3 s with iperf3 (the server on
# remote-01, the client over the guest's console, as bench/labs/bench-iperf.yml does) and prints the Mbit/s third.
set -euo pipefail
IMAGE=$1
WARM=${2:-}
ID=fl$$
W=$(mktemp -d /tmp/virtlab-floor-XXXXXX)
LAN=vl-floor-$ID-lan; KVM=vl-floor-$ID-kvm; REM=vl-floor-$ID-rem
GMAC=52:54:00:f1:00:01
T0=$(date +%s.%N)

cleanup() {
  [ -n "${UNSHARE:-}" ] && kill -9 "$UNSHARE" 2>/dev/null || true
  [ -n "${DNSMASQ:-}" ] && kill -9 "$DNSMASQ" 2>/dev/null || true
  for ns in $KVM $REM $LAN; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns delete "$ns" 2>/dev/null || true
  done
  rm -rf "$W"
}
trap cleanup EXIT

# underlay: a bridge and dnsmasq in their own namespace; two machines with eth1 on it
for ns in $LAN $KVM $REM; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n $LAN link add br0 type bridge && ip -n $LAN link set br0 up && ip -n $LAN addr add 192.168.100.1/24 dev br0
ip link add eth1 netns $KVM address 52:54:00:f1:00:11 type veth peer name p0 netns $LAN
ip link add eth1 netns $REM address 52:54:00:f1:00:12 type veth peer name p1 netns $LAN
for p in p0 p1; do ip -n $LAN link set $p master br0 up; done
ip -n $KVM addr add 192.168.100.101/24 dev eth1 && ip -n $KVM link set eth1 up
ip -n $REM addr add 192.168.100.102/24 dev eth1 && ip -n $REM link set eth1 up
ip netns exec $LAN sh -e -c "ebtables -N fl-p0 -P DROP; ebtables -A fl-p0 -d 52:54:00:f1:00:11 -j ACCEPT; ebtables -A fl-p0 -d Multicast -j ACCEPT; ebtables -A FORWARD -o p0 -j fl-p0; ebtables -A OUTPUT -o p0 -j fl-p0"
ip netns exec $LAN dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --port=0 --bind-interfaces \
  --interface=br0 --except-interface=lo --listen-address=192.168.100.1 --dhcp-range=192.168.100.150,192.168.100.199,255.255.255.0,1h \
  --dhcp-leasefile=$W/leases --dhcp-authoritative --no-ping --user=root --group=root </dev/null >/dev/null 2>&1 &
DNSMASQ=$!

# kvm-01's own libvirtd in private mount/UTS/PID namespaces
mkdir -p $W/root $W/tmp $W/var-lib-libvirt/images $W/cache-libvirt $W/log-libvirt/qemu
cp -a /etc/libvirt $W/etc-libvirt
rm -f $W/etc-libvirt/qemu/networks/autostart/*
printf 'user = "root"\ngroup = "root"\nremember_owner = 0\ndynamic_ownership = 0\nstdio_handler = "file"\nsecurity_driver = "none"\nnamespaces = [ ]\ncgroup_controllers = [ ]\n' >> $W/etc-libvirt/qemu.conf
[ -n "$WARM" ] && [ -d "$WARM" ] && cp -a "$WARM/." $W/cache-libvirt/
cat > $W/init.sh <<EOS
set -e
hostname kvm-01
mount -t tmpfs tmpfs /run
mkdir -p /run/libvirt
mount --bind $W/root /root
mount --bind $W/etc-libvirt /etc/libvirt; mount --bind $W/var-lib-libvirt /var/lib/libvirt
mount --bind $W/cache-libvirt /var/cache/libvirt; mount --bind $W/log-libvirt /var/log/libvirt
mount --bind $W/tmp /tmp   # last: \$W itself lives under /tmp
# on one CPU, as virtlab starts it: libvirt's capabilities cache records a CPUID leaf that differs between CPUs
cpu=\$(taskset -pc \$\$); cpu=\${cpu##*: }; cpu=\${cpu%%[,-]*}
taskset -c "\$cpu" /usr/sbin/libvirtd -d </dev/null >/dev/null 2>&1
exec sleep infinity
EOS
ip netns exec $KVM unshare --mount --uts --pid --fork --kill-child --mount-proc --propagation private tini -s -- bash $W/init.sh </dev/null >$W/init.log 2>&1 &
UNSHARE=$!
for _ in $(seq 500); do TINI=$(awk "{print \$1}" /proc/$UNSHARE/task/$UNSHARE/children 2>/dev/null || true); [ -n "$TINI" ] && [ -n "$(cat /proc/$TINI/task/$TINI/children 2>/dev/null)" ] && break; kill -0 $UNSHARE 2>/dev/null || { cat $W/init.log >&2; exit 3; }; sleep 0.01; done
onkvm() { nsenter -t "$TINI" -m -u -n -p -- "$@"; }
for _ in $(seq 400); do onkvm virsh -q list --name >/dev/null 2>&1 && break; sleep 0.05; done; onkvm virsh -q list --name >/dev/null || { echo "libvirtd did not answer:" >&2; cat $W/init.log >&2; onkvm ls -la /run/libvirt >&2; exit 3; }

# the lab's steps
cp "$IMAGE" $W/var-lib-libvirt/images/cirros.qcow2
printf '<network>\n  <name>macvtap-net</name>\n  <forward mode="bridge">\n    <interface dev="eth1"/>\n  </forward>\n</network>\n' > $W/root/macvtap.xml
onkvm virsh net-define /root/macvtap.xml >/dev/null
onkvm virsh net-start macvtap-net >/dev/null
onkvm ip link set dev eth1 promisc on
ip netns exec $LAN ebtables -P fl-p0 RETURN   # what the switch agent does when eth1 turns promiscuous
onkvm qemu-img create -q -f qcow2 -F qcow2 -b /var/lib/libvirt/images/cirros.qcow2 /var/lib/libvirt/images/cirros-disk.qcow2
onkvm virt-install --name cirros --memory 128 --vcpus 1 --virt-type qemu --import --osinfo generic \
  --disk path=/var/lib/libvirt/images/cirros-disk.qcow2,format=qcow2,bus=virtio --network network=macvtap-net,mac=$GMAC,model=virtio \
  --graphics none --serial pty,log.file=/var/log/libvirt/qemu/cirros-console.log,log.append=off --noautoconsole >/dev/null
PTY=$(onkvm virsh ttyconsole cirros)
onkvm sh -c "cat $PTY > /dev/null" </dev/null >/dev/null 2>&1 &   # QEMU reads the console only while it is open
LOG=$W/log-libvirt/qemu/cirros-console.log

# ready: the lease and the ready line
until grep -q "$GMAC" $W/leases 2>/dev/null && grep -aq "virtlab-guest ready" $LOG 2>/dev/null; do sleep 0.1; done
GIP=$(awk -v m=$GMAC '$2 == m {print $3}' $W/leases)

# the checks, at once (the expected failure's timeout hides the rest). No `grep -q` after a pipe: under pipefail, a
# writer that grep -q left behind dies of SIGPIPE and fails the check (seen: 2 of 5 bench runs skipped part of one)
console() { # run a command in the guest over its console, wait for its end marker (polling every $2 s, default 0.05)
  local id=$RANDOM$RANDOM off
  off=$(stat -c %s $LOG)
  onkvm sh -c "printf '%s\n' 'M=VL; echo \"\${M}BEGIN-$id\"; $1; echo \"\${M}END-$id-\$?\"' > $PTY"
  until tail -c +$((off + 1)) $LOG | grep -a "VLEND-$id-" >/dev/null; do sleep "${2:-0.05}"; done
}
fails=0
check() { "$@" >/dev/null 2>&1 || fails=$((fails + 1)); }
( ip netns exec $REM ping -c 1 -W 1 $GIP >/dev/null ) & P1=$!
( ! onkvm ping -c 1 -W 1 $GIP >/dev/null ) & P2=$!
( ip netns exec $REM ping -c 1 -W 1 $GIP >/dev/null; ip netns exec $REM ip -j neigh show to $GIP | grep $GMAC >/dev/null ) & P3=$!
( onkvm virsh domiflist cirros | grep $GMAC >/dev/null && onkvm ip -j -d addr show dev macvtap0 | grep $GMAC >/dev/null ) & P4=$!
( onkvm ip -j -d addr show dev eth1 | grep PROMISC >/dev/null ) & P5=$!
( console "ping -c 1 -W 1 192.168.100.102"; console "cat /proc/net/arp"; console "ip -4 -o addr show dev eth0" ) & P6=$!
for p in $P1 $P2 $P3 $P4 $P5 $P6; do wait $p || fails=$((fails + 1)); done
MBPS=
if [ "${3:-}" = iperf ]; then
  ip netns exec $REM iperf3 -s -1 -D -I $W/iperf.pid
  off=$(stat -c %s $LOG)
  console "iperf3 -c 192.168.100.102 -t 3 -f m" 0.5   # polling less often: it would compete for the CPU
  MBPS=$(tail -c +$((off + 1)) $LOG | tr -d '\r' | awk '/receiver/ {print $(NF-2)}' | tail -1)
  [ -n "$MBPS" ] || fails=$((fails + 1))
fi
cleanup
trap - EXIT
T1=$(date +%s.%N)
echo "$(echo "$T1 - $T0" | bc -l 2>/dev/null || awk -v a=$T0 -v b=$T1 'BEGIN{print b-a}') $fails $MBPS"
