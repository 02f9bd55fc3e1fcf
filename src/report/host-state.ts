// A hypervisor's state after setup, as comparable lines per section (links, addresses, routes, nftables, iptables,
// the XML libvirt generated for its networks and domains), with what changes from run to run (counters, handles,
// UUIDs, ptys, random bridge MACs) taken out; and the difference between two runs' states. Pure.

export type HostState = Record<string, string[]>;

export interface HostSection {
  name: string;
  argv: string[];
  /** the raw output as comparable lines */
  lines(out: string): string[];
}

const trimmed = (out: string) =>
  out
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

interface IpLink {
  ifname: string;
  flags?: string[];
  mtu?: number;
  master?: string;
  linkinfo?: { info_kind?: string; info_slave_kind?: string };
}

export function linkLines(json: string): string[] {
  const links = JSON.parse(json || '[]') as IpLink[];
  return links
    .filter((l) => l.ifname !== 'lo')
    .map((l) => {
      const flags = (l.flags ?? []).filter((f) => ['UP', 'PROMISC', 'NOARP', 'LOWER_UP'].includes(f)).sort();
      const kind = l.linkinfo?.info_kind ?? 'device';
      return `${l.ifname} ${kind}${l.master ? ` master ${l.master}` : ''} mtu ${l.mtu ?? '?'} ${flags.join(',')}`;
    })
    .sort();
}

interface IpAddr {
  ifname: string;
  addr_info?: { local?: string; prefixlen?: number; scope?: string }[];
}

export function addressLines(json: string): string[] {
  const addrs = JSON.parse(json || '[]') as IpAddr[];
  return addrs
    .filter((a) => a.ifname !== 'lo')
    .flatMap((a) =>
      (a.addr_info ?? [])
        .filter((i) => i.scope !== 'link' && i.local)
        .map((i) => `${a.ifname} ${i.local}/${i.prefixlen}`),
    )
    .sort();
}

export function routeLines(out: string): string[] {
  return trimmed(out)
    .filter((l) => !/\btable local\b/.test(l) && !/^(fe80::|multicast ff00::)/.test(l))
    .map((l) => l.replace(/\s+expires \d+sec/, '').replace(/\s+pref medium$/, ''))
    .sort();
}

/** nft list ruleset: each rule with its table and chain, counters and handles taken out. */
export function nftLines(out: string): string[] {
  const lines: string[] = [];
  let table = '';
  let chain = '';
  for (const raw of trimmed(out)) {
    const l = raw
      .replace(/\s*# handle \d+/, '')
      .replace(/counter packets \d+ bytes \d+/, 'counter')
      .trim();
    if (/^table /.test(l)) table = l.replace(/ \{$/, '').replace(/^table /, '');
    else if (/^chain /.test(l)) chain = l.replace(/ \{$/, '').replace(/^chain /, '');
    else if (l !== '}') lines.push(`${table} ${chain}: ${l}`);
  }
  return lines;
}

/**
 * iptables -V, then iptables-save: which kernel interface iptables writes to (`backend: nf_tables` or `legacy`),
 * then each rule and chain policy with its table, counters taken out.
 */
export function iptablesLines(out: string): string[] {
  const lines: string[] = [];
  let table = '';
  for (const l of trimmed(out)) {
    const v = /^iptables v[\d.]+ \(([\w-]+)\)/.exec(l);
    if (v) {
      lines.push(`backend: ${v[1]}`);
      continue;
    }
    if (l.startsWith('#') || l === 'COMMIT') continue;
    if (l.startsWith('*')) table = l.slice(1);
    else lines.push(`${table}: ${l.replace(/ \[\d+:\d+\]$/, '')}`);
  }
  return lines;
}

/** The XML of every libvirt network and domain, between "== network <name>" / "== domain <name>" markers. */
export const LIBVIRT_SCRIPT =
  'command -v virsh >/dev/null || exit 0; ' +
  'for n in $(virsh net-list --all --name); do echo "== network $n"; virsh net-dumpxml "$n"; done; ' +
  'for d in $(virsh list --all --name); do echo "== domain $d"; virsh dumpxml "$d"; done';

export function libvirtLines(out: string): string[] {
  const lines: string[] = [];
  let what = '';
  for (const l of trimmed(out)) {
    const m = /^== (network|domain) (\S+)$/.exec(l);
    if (m) {
      what = `${m[1]} ${m[2]}`;
      continue;
    }
    // per define and per start: UUIDs, a NAT bridge's random MAC, ptys, the domain's id, security labels
    if (/^<uuid>|^<seclabel|^<\/seclabel|^<label>|^<imagelabel>/.test(l)) continue;
    if (what.startsWith('network') && /^<mac address=/.test(l)) continue;
    lines.push(
      `${what}: ${l
        .replace(/\/dev\/pts\/\d+/g, '/dev/pts/*')
        .replace(/ portid='[^']*'/, '')
        .replace(/^<domain type='(\w+)' id='\d+'/, "<domain type='$1'")}`,
    );
  }
  return lines;
}

export const HOST_SECTIONS: readonly HostSection[] = [
  { name: 'links', argv: ['ip', '-j', '-d', 'link', 'show'], lines: linkLines },
  { name: 'addresses', argv: ['ip', '-j', 'addr', 'show'], lines: addressLines },
  {
    name: 'routes',
    argv: ['sh', '-c', 'ip route show table all; ip -6 route show table all'],
    lines: routeLines,
  },
  // a machine without the tool cannot say: the section is left out (exit 3), not shown empty
  { name: 'nftables', argv: ['sh', '-c', 'command -v nft >/dev/null || exit 3; nft list ruleset'], lines: nftLines },
  {
    name: 'iptables',
    argv: ['sh', '-c', 'command -v iptables-save >/dev/null || exit 3; iptables -V; iptables-save'],
    lines: iptablesLines,
  },
  { name: 'libvirt', argv: ['sh', '-c', LIBVIRT_SCRIPT], lines: libvirtLines },
];

export interface StateDifference {
  machine: string;
  section: string;
  onlyA: string[];
  onlyB: string[];
  /** the section only one run could read (its machine lacked the tool, such as nft) */
  readIn?: 'a' | 'b';
}

/** What differs between two runs' states, per machine and section; a section only one run could read is named. */
export function diffHostState(a: Record<string, HostState>, b: Record<string, HostState>): StateDifference[] {
  const out: StateDifference[] = [];
  for (const machine of Object.keys(a).filter((m) => b[m])) {
    const [sa, sb] = [a[machine]!, b[machine]!];
    for (const section of Object.keys(sa).filter((s) => !sb[s]))
      out.push({ machine, section, onlyA: [], onlyB: [], readIn: 'a' });
    for (const section of Object.keys(sb).filter((s) => !sa[s]))
      out.push({ machine, section, onlyA: [], onlyB: [], readIn: 'b' });
    for (const section of Object.keys(sa).filter((s) => sb[s])) {
      const x = new Set(a[machine]![section]);
      const y = new Set(b[machine]![section]);
      const onlyA = [...x].filter((l) => !y.has(l));
      const onlyB = [...y].filter((l) => !x.has(l));
      if (onlyA.length || onlyB.length) out.push({ machine, section, onlyA, onlyB });
    }
  }
  return out;
}

/** The difference as people read it: `-` only in the first run, `+` only in the second, a few lines per section. */
export function stateDiffText(d: StateDifference[], most = 12): string[] {
  const lines: string[] = [];
  for (const x of d) {
    if (x.readIn) {
      const [has, lacks] = x.readIn === 'a' ? ['first', 'second'] : ['second', 'first'];
      lines.push(`  ${x.machine} ${x.section}: read in the ${has} run only (the ${lacks} machine lacks the tool)`);
      continue;
    }
    lines.push(
      `  ${x.machine} ${x.section}: ${x.onlyA.length} only in the first, ${x.onlyB.length} only in the second`,
    );
    const shown = [...x.onlyA.map((l) => `    - ${l}`), ...x.onlyB.map((l) => `    + ${l}`)];
    lines.push(...shown.slice(0, most));
    if (shown.length > most) lines.push(`    ... ${shown.length - most} more (host-state.json of each run)`);
  }
  return lines;
}
