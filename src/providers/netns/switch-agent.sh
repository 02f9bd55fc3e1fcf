#!/bin/bash
# virtlab switch agent for a mac-filtering underlay network. It runs inside the network's namespace and makes the
# bridge behave like the outer hypervisor's virtual switch: a machine's port receives unicast frames only for its
# NIC's own MAC (and broadcast/multicast), unless that NIC has the PROMISC flag set by the user
# (`ip link set eth1 promisc on`). The provider sets the initial state; this agent follows every flag change.
#
# usage: switch-agent.sh MACHINE_NS NIC CHAIN [MACHINE_NS NIC CHAIN ...]
set -u

apply() { # ns nic chain last -> prints the new policy
  local ns=$1 nic=$2 chain=$3 last=$4 policy=DROP
  if ip -n "$ns" -o link show dev "$nic" 2>/dev/null | grep -q '<[^>]*PROMISC'; then policy=RETURN; fi
  if [ "$policy" != "$last" ]; then
    ebtables -P "$chain" "$policy" && echo "$(date +%T.%N | cut -c1-12) $ns $nic promisc=$([ $policy = RETURN ] && echo on || echo off) -> $chain $policy" >&2
  fi
  echo "$policy"
}

watch() { # one machine NIC: re-check on every link event of its namespace
  local ns=$1 nic=$2 chain=$3 last
  last=$(apply "$ns" "$nic" "$chain" "")
  ip -n "$ns" monitor link 2>/dev/null | while read -r _; do last=$(apply "$ns" "$nic" "$chain" "$last"); done
}

while [ $# -ge 3 ]; do
  watch "$1" "$2" "$3" &
  shift 3
done
echo "switch agent ready" >&2
wait
