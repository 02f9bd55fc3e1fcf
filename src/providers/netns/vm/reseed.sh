#!/bin/sh
# Runs over ssh inside a VM machine just restored from a snapshot (snapshot.ts), reached on its management NIC's
# IPv6 link-local address: makes the machine this run's. Standard input: this run's seed (the tar a boot reads, in
# base64). Arguments: the host's clock (seconds since the epoch), then the snapshot's NIC MACs in QEMU's order (the
# seed's nics file lists this run's NICs in the same order). Clock, entropy, hostname and keys are applied here;
# the NICs (MAC, name, addresses) by a detached child once this session has ended, since the management NIC goes
# down with it. Values are read as data, never run.
set -eu
now=$1
shift
d=/run/virtlab-seed
rm -rf "$d"
mkdir -m 700 "$d"
base64 -d | tar -xf - -C "$d"
printf '%s\n' "$@" > "$d/snapshot-macs"

date -s "@$now" > /dev/null
# the snapshot's kernel random state is shared by every machine restored from it: mix in the host's
[ -f "$d/random" ] && cat "$d/random" > /dev/urandom
hostname "$(cat "$d/hostname")"
cp "$d/hostname" /etc/hostname
printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$(cat "$d/hostname")" > /etc/hosts
install -m 600 "$d/authorized_keys" /root/.ssh/authorized_keys
install -m 600 "$d/ssh_host_ed25519_key" /etc/ssh/ssh_host_ed25519_key
install -m 644 "$d/ssh_host_ed25519_key.pub" /etc/ssh/ssh_host_ed25519_key.pub
systemctl reload ssh.service

# shellcheck disable=SC2016 # expanded by the child
nics='
set -eu
d=$1
byMac() { for f in /sys/class/net/*/address; do [ "$(cat "$f")" = "$1" ] && basename "$(dirname "$f")" && return 0; done; return 1; }
sleep 0.3
n=0
while read -r mac; do
  cur=$(byMac "$mac")
  ip link set dev "$cur" down
  ip addr flush dev "$cur"
  ip link set dev "$cur" name "vltmp$n"
  n=$((n + 1))
done < "$d/snapshot-macs"
n=0
while read -r mac name addr addr6; do
  ip link set dev "vltmp$n" address "$mac" name "$name"
  if [ -n "$addr6" ]; then
    sysctl -q -w "net.ipv6.conf.$name.autoconf=0" "net.ipv6.conf.$name.accept_ra=0"
    ip addr add "$addr6" dev "$name" nodad
  else
    sysctl -q -w "net.ipv6.conf.$name.autoconf=1" "net.ipv6.conf.$name.accept_ra=1"
  fi
  [ "$addr" = - ] || ip addr add "$addr" dev "$name"
  ip link set dev "$name" up
  n=$((n + 1))
done < "$d/nics"
ip neigh flush all
echo "virtlab-seed: restored as $(cat "$d/hostname")" > /dev/console
'
setsid -f sh -c "$nics" virtlab-reseed "$d" < /dev/null > /dev/console 2>&1
