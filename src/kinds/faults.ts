// Break-fix faults: the classic mistakes of this field, put into a lab that is up so that a student finds and fixes
// them (`virtlab up <lab> --break`). Each fault kind is a row: what it needs, the symptom-free title a teacher sees,
// and the argv that breaks the lab on its machine. Which faults a student gets is drawn from the exercise's list,
// reproducibly from the instance name.
import { createHash } from 'node:crypto';
import type { Fault, FaultKind, Lab } from '../lab/model.ts';

export type { Fault, FaultKind } from '../lab/model.ts';

export const FAULT_KINDS = {
  'promisc-off': {
    needs: ['nic'],
    what: (f: Fault) => `${f.nic} of ${f.on} leaves promiscuous mode`,
    argv: (f: Fault) => ['ip', 'link', 'set', 'dev', f.nic!, 'promisc', 'off'],
  },
  'link-down': {
    needs: ['nic'],
    what: (f: Fault) => `${f.nic} of ${f.on} goes down`,
    argv: (f: Fault) => ['ip', 'link', 'set', 'dev', f.nic!, 'down'],
  },
  'network-stopped': {
    needs: ['network'],
    what: (f: Fault) => `libvirt network ${f.network} on ${f.on} is stopped`,
    argv: (f: Fault) => ['virsh', 'net-destroy', f.network!],
  },
  'route-removed': {
    needs: ['to'],
    what: (f: Fault) => `the route to ${f.to} on ${f.on} is removed`,
    argv: (f: Fault) => ['ip', 'route', 'del', f.to!],
  },
  'proxy-arp-off': {
    needs: ['nic'],
    what: (f: Fault) => `proxy ARP on ${f.nic} of ${f.on} is turned off`,
    argv: (f: Fault) => ['sysctl', '-q', '-w', `net.ipv4.conf.${f.nic}.proxy_arp=0`],
  },
  'dhcp-dropped': {
    needs: ['nic'],
    what: (f: Fault) => `a firewall rule on ${f.on} drops DHCP coming in on ${f.nic}`,
    argv: (f: Fault) => [
      'nft',
      `add table inet virtlab_fault; add chain inet virtlab_fault input { type filter hook input priority -10 ; }; add rule inet virtlab_fault input iifname "${f.nic}" udp dport 67 drop`,
    ],
  },
  'icmp-dropped': {
    needs: ['nic'],
    what: (f: Fault) => `a firewall rule on ${f.on} drops pings coming in on ${f.nic}`,
    argv: (f: Fault) => [
      'nft',
      `add table inet virtlab_fault; add chain inet virtlab_fault input { type filter hook input priority -10 ; }; add rule inet virtlab_fault input iifname "${f.nic}" icmp type echo-request drop`,
    ],
  },
  'guest-mac-changed': {
    needs: [],
    what: (f: Fault) => `guest ${f.on} takes the MAC ${f.mac ?? FOREIGN_MAC}, which its macvtap does not know`,
    argv: (f: Fault) => [
      'sh',
      '-c',
      `ip link set eth0 down && ip link set eth0 address ${f.mac ?? FOREIGN_MAC} && ip link set eth0 up`,
    ],
  },
  'macvtap-mode': {
    needs: ['guest', 'mode'],
    what: (f: Fault) => `the macvtap of guest ${f.guest} on ${f.on} is switched to ${f.mode} mode`,
    // the guest's macvtap is found by its MAC (libvirt names it at start)
    argv: (f: Fault, lab?: Lab) => [
      'sh',
      '-c',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
      'for d in /sys/class/net/*; do [ "$(cat "$d/address")" = "$0" ] && [ -e "$d/macvtap" ] && ip link set dev "${d##*/}" type macvtap mode "$1"; done; true',
      lab?.guests.find((g) => g.name === f.guest)?.mac ?? '',
      f.mode!,
    ],
  },
} as const satisfies Record<
  FaultKind,
  {
    needs: readonly ('nic' | 'network' | 'to' | 'guest' | 'mode')[];
    what: (f: Fault) => string;
    argv: (f: Fault, lab?: Lab) => string[];
  }
>;

/** The MAC guest-mac-changed gives a guest unless the fault says another. */
export const FOREIGN_MAC = '52:54:00:66:66:66';

export const FAULT_NAMES = Object.keys(FAULT_KINDS) as FaultKind[];

export const faultTitle = (f: Fault): string => FAULT_KINDS[f.kind].what(f);
export const faultArgv = (f: Fault, lab?: Lab): string[] => FAULT_KINDS[f.kind].argv(f, lab);

/** `count` faults of the list, drawn reproducibly from the seed (the instance name): students differ, reruns do not. */
export function drawFaults(faults: readonly Fault[], count: number, seed: string): Fault[] {
  const keyed = faults.map((f, i) => ({
    f,
    k: createHash('sha256').update(`${seed}\0${i}\0${f.kind}`).digest('hex'),
  }));
  const chosen = keyed.sort((a, b) => a.k.localeCompare(b.k)).slice(0, Math.max(0, Math.min(count, faults.length)));
  // in the lab's own order
  return faults.filter((f) => chosen.some((c) => c.f === f));
}
