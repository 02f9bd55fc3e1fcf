// The lab's topology as a graph (from the resolved lab, no machines needed), drawn as SVG, Mermaid or DOT.
// A small layered layout written here: the graphs have a few dozen nodes at most, and a layout library would be
// the only reason for a dependency (graphviz is not available at run time).
import { hasStaticAddress, type Lab } from '../lab/model.ts';
import type { AssertionResult } from './events.ts';
import { xmlEscape } from './junit.ts';

export type NodeKind = 'underlay' | 'hypervisor' | 'peer' | 'libvirt' | 'guest';

export interface GraphNode {
  id: string;
  kind: NodeKind;
  label: string;
  detail: string;
}

export interface GraphEdge {
  from: string;
  to: string;
  label?: string;
  /** reachability results drawn on top of the topology */
  result?: 'pass' | 'fail';
  expectedFailure?: boolean;
}

export interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

const id = (kind: string, name: string, on?: string) => `${kind}:${on ? `${on}/` : ''}${name}`;

export function labGraph(lab: Lab, results: AssertionResult[] = []): Graph {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  for (const n of lab.networks)
    nodes.push({
      id: id('net', n.name),
      kind: 'underlay',
      label: n.name,
      detail: `${n.subnet}${n.macFiltering ? ', mac-filtering' : ''}`,
    });
  for (const m of lab.machines) {
    const devices = lab.devices
      .filter((d) => d.on === m.name && d.type !== 'veth')
      .map((d) => `${d.name} (${d.type}${d.over.length ? ` of ${d.over.join(', ')}` : ''})`);
    const detail = `${m.role}, ${m.ram} MiB${m.provider === 'vm' ? ', VM' : ''}${devices.length ? `; ${devices.join(', ')}` : ''}`;
    nodes.push({ id: id('m', m.name), kind: m.role, label: m.name, detail });
    for (const nic of m.nics)
      edges.push({
        from: id('m', m.name),
        to: id('net', nic.network),
        label: `${nic.name} ${hasStaticAddress(nic) ? nic.address.split('/')[0] : nic.address}`,
      });
  }
  for (const n of lab.libvirtNetworks) {
    const hostBridge = n.forward === 'bridge' && !n.dev && n.bridge;
    const ovs = n.virtualport === 'openvswitch' ? 'Open vSwitch ' : '';
    const mode = hostBridge
      ? `${ovs}host bridge ${n.bridge}${n.vlan ? `, tag ${n.vlan}` : ''}`
      : ['bridge', 'vepa', 'private', 'passthrough'].includes(n.forward)
        ? `macvtap ${n.forward}${n.dev ? ` on ${n.dev}` : ''}`
        : n.forward;
    nodes.push({ id: id('lv', n.name, n.on), kind: 'libvirt', label: n.name, detail: mode });
    edges.push({ from: id('lv', n.name, n.on), to: id('m', n.on), label: n.dev ?? n.bridge ?? 'virbr' });
  }
  for (const g of lab.guests) {
    const how = g.qemu
      ? 'bare QEMU'
      : g.tap
        ? `routed tap ${g.tap}`
        : g.direct
          ? `direct ${g.direct.dev}`
          : g.bridge
            ? `bridge ${g.bridge}`
            : '';
    nodes.push({ id: id('g', g.name), kind: 'guest', label: g.name, detail: `${g.mac}${how ? `, ${how}` : ''}` });
    for (const nic of g.nics) {
      const lv = lab.libvirtNetworks.find((n) => n.on === g.on && n.name === nic.network);
      edges.push({ from: id('g', g.name), to: lv ? id('lv', lv.name, lv.on) : id('m', g.on), label: nic.mac });
    }
  }
  const node = (name: string) =>
    lab.guests.some((g) => g.name === name)
      ? id('g', name)
      : lab.machines.some((m) => m.name === name)
        ? id('m', name)
        : undefined;
  const reach = (from: string, to: string, observed: 'pass' | 'fail', expect: 'pass' | 'fail') => {
    const a = node(from);
    const b = node(to);
    if (a && b) edges.push({ from: a, to: b, result: observed, expectedFailure: expect === 'fail' });
  };
  for (const r of results) {
    if (r.cells) for (const c of r.cells) reach(c.from, c.to, c.observed, c.expect);
    else if (r.edge) reach(r.edge.from, r.edge.to, r.observed, r.expect);
  }
  return { nodes, edges };
}

const ROW: Record<NodeKind, number> = { underlay: 0, peer: 1, hypervisor: 1, libvirt: 2, guest: 3 };
const COLORS: Record<NodeKind, string> = {
  underlay: '#e8eef7',
  hypervisor: '#fde9c8',
  peer: '#e3f1e3',
  libvirt: '#efe4f7',
  guest: '#fff7d6',
};

/** A self-contained SVG: layered rows (underlays, machines, libvirt networks, guests), nodes spread evenly. */
export function toSvg(g: Graph, title = ''): string {
  const W = 190;
  const H = 46;
  const GAP = 40;
  const rows = [0, 1, 2, 3].map((r) => g.nodes.filter((n) => ROW[n.kind] === r));
  const width = Math.max(...rows.map((r) => r.length), 1) * (W + GAP) + GAP;
  const pos = new Map<string, { x: number; y: number }>();
  rows.forEach((row, r) => {
    row.forEach((n, i) => {
      pos.set(n.id, { x: (width - row.length * (W + GAP) + GAP) / 2 + i * (W + GAP), y: 40 + r * (H + 70) });
    });
  });
  const height = 40 + 4 * (H + 70);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>${xmlEscape(title || 'lab topology')}</title>`,
  ];
  for (const e of g.edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + W / 2;
    const y1 = a.y + H / 2;
    const x2 = b.x + W / 2;
    const y2 = b.y + H / 2;
    if (e.result) {
      // reachability: a curve, green when it went through, red when not; dashed for expected failures
      const color = e.result === 'pass' ? '#1a7f37' : '#cf222e';
      const mx = (x1 + x2) / 2 + (y1 === y2 ? 0 : 40);
      const my = (y1 + y2) / 2 - (y1 === y2 ? 45 : 0);
      out.push(
        `<path class="reach reach-${e.result}${e.expectedFailure ? ' expected-failure' : ''}" data-from="${xmlEscape(e.from)}" data-to="${xmlEscape(e.to)}" d="M${x1},${y1} Q${mx},${my} ${x2},${y2}" fill="none" stroke="${color}" stroke-width="2.5"${e.expectedFailure ? ' stroke-dasharray="6 4"' : ''} marker-end="url(#arrow-${e.result})"><title>${xmlEscape(`${e.from} -> ${e.to}: ${e.result}${e.expectedFailure ? ' (expected to fail)' : ''}`)}</title></path>`,
      );
    } else {
      out.push(`<line class="link" x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="#8c959f" stroke-width="1.5"/>`);
      // the label sits near the lower end, where edges from one node have spread apart
      if (e.label)
        out.push(
          `<text x="${x1 + (x2 - x1) * 0.25 + 4}" y="${y1 + (y2 - y1) * 0.25}" fill="#57606a" font-size="10">${xmlEscape(e.label)}</text>`,
        );
    }
  }
  out.push(
    '<defs>',
    ...(['pass', 'fail'] as const).map(
      (r) =>
        `<marker id="arrow-${r}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${r === 'pass' ? '#1a7f37' : '#cf222e'}"/></marker>`,
    ),
    '</defs>',
  );
  for (const n of g.nodes) {
    const p = pos.get(n.id)!;
    out.push(
      `<g class="node node-${n.kind}" data-id="${xmlEscape(n.id)}"><rect x="${p.x}" y="${p.y}" width="${W}" height="${H}" rx="${n.kind === 'underlay' ? 22 : 6}" fill="${COLORS[n.kind]}" stroke="#57606a"/>` +
        `<text x="${p.x + W / 2}" y="${p.y + 19}" text-anchor="middle" font-weight="bold">${xmlEscape(n.label)}</text>` +
        `<text x="${p.x + W / 2}" y="${p.y + 35}" text-anchor="middle" font-size="10" fill="#57606a">${xmlEscape(n.detail)}</text></g>`,
    );
  }
  out.push('</svg>');
  return out.join('\n');
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9_]/g, '_');

export function toMermaid(g: Graph): string {
  const shape: Record<NodeKind, [string, string]> = {
    underlay: ['([', '])'],
    hypervisor: ['[', ']'],
    peer: ['[', ']'],
    libvirt: ['{{', '}}'],
    guest: ['(', ')'],
  };
  const lines = ['flowchart TB'];
  for (const n of g.nodes)
    lines.push(`  ${safe(n.id)}${shape[n.kind][0]}"${n.label}<br/><small>${n.detail}</small>"${shape[n.kind][1]}`);
  for (const e of g.edges) {
    if (e.result)
      lines.push(
        `  ${safe(e.from)} ${e.result === 'pass' ? '==>' : '-.->'}|${e.result}${e.expectedFailure ? ' (expected)' : ''}| ${safe(e.to)}`,
      );
    else lines.push(`  ${safe(e.from)} ---${e.label ? `|${e.label}|` : ''} ${safe(e.to)}`);
  }
  return `${lines.join('\n')}\n`;
}

export function toDot(g: Graph, name = 'lab'): string {
  const shape: Record<NodeKind, string> = {
    underlay: 'ellipse',
    hypervisor: 'box',
    peer: 'box',
    libvirt: 'hexagon',
    guest: 'component',
  };
  const q = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;
  const lines = [`graph ${q(name)} {`, '  rankdir=TB;'];
  for (const n of g.nodes) lines.push(`  ${q(n.id)} [shape=${shape[n.kind]}, label=${q(`${n.label}\n${n.detail}`)}];`);
  for (const e of g.edges) {
    lines.push(
      e.result
        ? `  ${q(e.from)} -- ${q(e.to)} [color=${e.result === 'pass' ? 'green' : 'red'}${e.expectedFailure ? ', style=dashed' : ''}, label=${q(e.result)}];`
        : `  ${q(e.from)} -- ${q(e.to)}${e.label ? ` [label=${q(e.label)}]` : ''};`,
    );
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
