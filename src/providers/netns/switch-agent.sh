#!/bin/bash
# virtlab switch agent for a mac-filtering underlay network. It runs inside the network's namespace and makes the
# bridge behave like the outer hypervisor's virtual switch: a machine's port receives unicast frames only for its
# NIC's own MAC (and broadcast/multicast), unless that NIC has the PROMISC flag set by the user
# (`ip link set eth1 promisc on`). The provider sets the initial state; this agent follows every flag change.
#
# usage: switch-agent.sh PORT [PORT ...], each PORT three words:
#   MACHINE_NS NIC CHAIN         a namespace machine's NIC: the flag is read with ip link, on every link event
#   vm:MACHINE_NS DEVICE CHAIN   a VM's NIC (DEVICE: its QEMU device id): the flag is the virtio NIC's receive
#                                filter, read over QMP on the machine namespace's loopback, on every filter change
set -u
QMP_PORT=${VIRTLAB_QMP_PORT:-4444}

policy() { # label chain promisc(on|off) last -> prints the new policy
  local label=$1 chain=$2 want=DROP last=$4
  if [ "$3" = on ]; then want=RETURN; fi
  if [ "$want" != "$last" ]; then
    ebtables -P "$chain" "$want" && echo "$(date +%T.%N | cut -c1-12) $label promisc=$3 -> $chain $want" >&2
  fi
  echo "$want"
}

flag() { # ns nic -> on|off: promiscuous, or a port of a bridge, bond or Open vSwitch (which receive every frame)
  if ip -n "$1" -o link show dev "$2" 2>/dev/null | grep -qE '<[^>]*PROMISC| master '; then echo on; else echo off; fi
}

listening() { # pid -> true once that process's rtnetlink socket is subscribed to a group (in its own namespace)
  local _sk eth pid groups _rest
  while read -r _sk eth pid groups _rest; do
    if [ "$eth" = 0 ] && [ "$pid" = "$1" ] && [ "$groups" != 00000000 ]; then return 0; fi
  done <"/proc/$1/net/netlink"
  return 1
}

watch() { # one namespace machine's NIC: its flag once the link monitor listens, then again on every link event
  # `ip monitor` subscribes a moment after it starts. A flag read before that and set in between (a busy host, a
  # promisc step right after up) would be missed for good, the port dropping the guests' frames for the rest of the run
  # (CI saw it: a guest without its DHCP lease). So the first read waits until the monitor listens (at most 3 s).
  local ns=$1 nic=$2 chain=$3 last events mon i
  exec {events}< <(exec ip -n "$ns" monitor link 2>/dev/null)
  mon=$!
  for ((i = 0; i < 300; i++)); do
    listening "$mon" 2>/dev/null && break
    read -r -t 0.01 _ <&"$events" # a 10 ms pause (an event now is covered by the read below)
  done
  last=$(policy "$ns $nic" "$chain" "$(flag "$ns" "$nic")" "")
  while read -r _ <&"$events"; do last=$(policy "$ns $nic" "$chain" "$(flag "$ns" "$nic")" "$last"); done
}

qmp_rx_filters() { # port device... (inside the VM's namespace) -> "device on|off" per answer, until QEMU goes
  exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
  shift
  local line dev
  query() { printf '{"execute":"query-rx-filter","arguments":{"name":"%s"},"id":"%s"}\n' "$1" "$1" >&3; }
  printf '{"execute":"qmp_capabilities"}\n' >&3
  for dev in "$@"; do query "$dev"; done
  # QEMU announces a NIC's filter change once, until the next query-rx-filter for it: every event is answered so
  while read -r line <&3; do
    if [[ $line =~ \"event\":\ *\"NIC_RX_FILTER_CHANGED\".*\"name\":\ *\"([^\"]+)\" ]]; then
      query "${BASH_REMATCH[1]}"
    elif [[ $line =~ \"promiscuous\":\ *(true|false) ]]; then
      local p=off
      [ "${BASH_REMATCH[1]}" = true ] && p=on
      [[ $line =~ \"id\":\ *\"([^\"]+)\" ]] && echo "${BASH_REMATCH[1]} $p"
    fi
  done
}

watch_vm() { # ns device chain [device chain ...]: one QMP connection per VM for all its NICs
  local ns=$1 dev
  shift
  local -A chain_of last
  local devices=()
  while [ $# -ge 2 ]; do chain_of[$1]=$2; last[$1]=""; devices+=("$1"); shift 2; done
  ip netns exec "$ns" bash -c "$(declare -f qmp_rx_filters); qmp_rx_filters \"\$@\"" qmp "$QMP_PORT" "${devices[@]}" |
    while read -r dev p; do
      [ -n "${chain_of[$dev]:-}" ] || continue
      last[$dev]=$(policy "$ns $dev (VM)" "${chain_of[$dev]}" "$p" "${last[$dev]}")
    done
  echo "$(date +%T.%N | cut -c1-12) $ns: QMP connection ended (the VM is gone)" >&2
}

declare -A vm_ports
while [ $# -ge 3 ]; do
  case $1 in
    vm:*) vm_ports[${1#vm:}]+="$2 $3 " ;;
    *) watch "$1" "$2" "$3" & ;;
  esac
  shift 3
done
for ns in "${!vm_ports[@]}"; do
  # shellcheck disable=SC2086 # device/chain pairs, words without spaces
  watch_vm "$ns" ${vm_ports[$ns]} &
done
echo "switch agent ready" >&2
wait
