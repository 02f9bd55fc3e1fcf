#!/bin/sh
# Routed guest networking without a bridge (after tjworld's "KVM/QEMU Easy Routed Network"): the guest's tap joins no
# bridge. A host route sends the guest's address to the tap, proxy ARP on the uplink answers for the guest on the
# LAN, and a DHCP server bound to the tap hands the guest its address.
set -eu
TAP=vtap0
GUEST_IP=192.168.100.50
GUEST_MAC=52:54:00:10:00:50
HOST_IP=192.168.100.101   # kvm-01's address on the LAN, reused as the tap's point-to-point address
UPLINK=eth1

ip addr add "$HOST_IP/32" dev "$TAP"
ip route add "$GUEST_IP/32" dev "$TAP"
sysctl -qw net.ipv4.ip_forward=1
sysctl -qw "net.ipv4.conf.$UPLINK.proxy_arp=1"
sysctl -qw "net.ipv4.conf.$TAP.proxy_arp=1"
dnsmasq --conf-file=/dev/null --port=0 --interface="$TAP" --bind-interfaces --except-interface=lo \
  --dhcp-range="$GUEST_IP,static,255.255.255.0,1h" --dhcp-host="$GUEST_MAC,$GUEST_IP" --dhcp-option="3,$HOST_IP" \
  --dhcp-leasefile=/root/lab/routed.leases --pid-file=/run/routed-dnsmasq.pid --no-ping --dhcp-authoritative
echo "guest $GUEST_IP routed through $TAP, proxy ARP on $UPLINK"
