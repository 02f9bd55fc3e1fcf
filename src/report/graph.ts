// The lab's topology as a graph (from the resolved lab, no machines needed), drawn as SVG, Mermaid or DOT. The SVG
// is laid out by dagre (layered, with the edge labels placed by it too), boxes sized to their text.
import dagre from '@dagrejs/dagre';
import { guestIp6 } from '../lab/lease-source.ts';
import { hasStaticAddress, type Lab } from '../lab/model.ts';
import type { AssertionResult } from './events.ts';
import { xmlEscape } from './junit.ts';

export type NodeKind = 'underlay' | 'hypervisor' | 'peer' | 'libvirt' | 'guest';

export interface GraphNode {
  id: string;
  kind: NodeKind;
  label: string;
  detail: string;
  /** a failed ping's packets were last seen here (where did the packet die) */
  mark?: string;
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

/** The graph of a lab; `addresses` (guest -> IPv4, from a run) are drawn on the guests. */
export function labGraph(lab: Lab, results: AssertionResult[] = [], addresses: Record<string, string> = {}): Graph {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  for (const n of lab.networks)
    nodes.push({
      id: id('net', n.name),
      kind: 'underlay',
      label: n.name,
      detail: `${n.subnet}${n.v6 ? `, ${n.v6.subnet}` : ''}${n.macFiltering ? ', mac-filtering' : ''}`,
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
        label: `${nic.name} ${hasStaticAddress(nic) ? nic.address.split('/')[0] : nic.address}${nic.address6 ? ` ${nic.address6.split('/')[0]}` : ''}`,
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
    const v6 = guestIp6(lab, g).ip;
    const ip = `${addresses[g.name] ? `${addresses[g.name]}, ` : ''}${v6 ? `${v6}, ` : ''}`;
    nodes.push({ id: id('g', g.name), kind: 'guest', label: g.name, detail: `${ip}${g.mac}${how ? `, ${how}` : ''}` });
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
    const n = r.trace?.lastNode && nodes.find((x) => x.id === r.trace!.lastNode);
    if (n)
      n.mark = `${r.id}: the echo requests were last seen on ${r.trace!.last}${r.trace!.lostBefore ? `, never on ${r.trace!.lostBefore}` : ''}`;
  }
  return { nodes, edges };
}

/** Upper rows first: underlays, machines, libvirt networks, guests. */
const ROW: Record<NodeKind, number> = { underlay: 0, peer: 1, hypervisor: 1, libvirt: 2, guest: 3 };
const COLORS: Record<NodeKind, string> = {
  underlay: '#e8eef7',
  hypervisor: '#fde9c8',
  peer: '#e3f1e3',
  libvirt: '#efe4f7',
  guest: '#fff7d6',
};

/** Widths of text in the SVG's sans-serif, generously (a box must hold its text in any browser's font). */
const textWidth = (s: string, size: number, bold = false) => Math.ceil(s.length * size * (bold ? 0.66 : 0.6));
const H = 46;
const LABEL = 10;

type Point = { x: number; y: number };

interface Placed {
  nodes: Map<string, { x: number; y: number; w: number }>;
  labels: Map<number, Point>;
  /** each laid-out edge's route, through its label */
  routes: Map<number, Point[]>;
  width: number;
  height: number;
}

/** dagre's layout of the topology (reachability edges are drawn over it, not laid out). */
function layout(g: Graph): Placed {
  const d = new dagre.graphlib.Graph({ multigraph: true });
  d.setGraph({ rankdir: 'TB', nodesep: 30, ranksep: 60, edgesep: 20, marginx: 20, marginy: 20 });
  d.setDefaultEdgeLabel(() => ({}));
  for (const n of g.nodes) {
    const w = Math.max(120, textWidth(n.label, 12, true), textWidth(n.detail, 10)) + 20;
    d.setNode(n.id, { width: w, height: H });
  }
  const kind = (x: string) => g.nodes.find((n) => n.id === x)!.kind;
  g.edges.forEach((e, i) => {
    if (e.result || !d.hasNode(e.from) || !d.hasNode(e.to)) return;
    // the upper end first, so that ranks follow the rows
    const [up, down] = ROW[kind(e.from)] <= ROW[kind(e.to)] ? [e.from, e.to] : [e.to, e.from];
    const label = e.label ? { width: textWidth(e.label, LABEL) + 6, height: 14, labelpos: 'c' } : {};
    d.setEdge(up, down, { ...label, minlen: Math.max(1, ROW[kind(down)] - ROW[kind(up)]) }, String(i));
  });
  dagre.layout(d);
  const nodes = new Map<string, { x: number; y: number; w: number }>();
  for (const n of g.nodes) {
    const v = d.node(n.id);
    nodes.set(n.id, { x: v.x - v.width / 2, y: v.y - v.height / 2, w: v.width });
  }
  const labels = new Map<number, Point>();
  const routes = new Map<number, Point[]>();
  for (const e of d.edges()) {
    const v = d.edge(e) as { x?: number; y?: number; points?: Point[] };
    if (v.x !== undefined && v.y !== undefined) labels.set(Number(e.name), { x: v.x, y: v.y });
    if (v.points?.length) routes.set(Number(e.name), v.points);
  }
  const gg = d.graph();
  return { nodes, labels, routes, width: Math.ceil(gg.width ?? 200), height: Math.ceil(gg.height ?? 100) };
}

/** A self-contained SVG: the layout's boxes, links with their labels, and reachability results over them. */
export function toSvg(g: Graph, title = ''): string {
  const p = layout(g);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${p.width} ${p.height}" width="${p.width}" height="${p.height}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>${xmlEscape(title || 'lab topology')}</title>`,
  ];
  const centre = (idOf: string): Point => {
    const n = p.nodes.get(idOf)!;
    return { x: n.x + n.w / 2, y: n.y + H / 2 };
  };
  g.edges.forEach((e, i) => {
    if (!p.nodes.has(e.from) || !p.nodes.has(e.to)) return;
    const a = centre(e.from);
    const b = centre(e.to);
    if (e.result) out.push(reachPath(e, a, b));
    else out.push(...link(e, p.routes.get(i) ?? [a, b], p.labels.get(i)));
  });
  out.push(
    '<defs>',
    ...(['pass', 'fail'] as const).map(
      (r) =>
        `<marker id="arrow-${r}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${r === 'pass' ? '#1a7f37' : '#cf222e'}"/></marker>`,
    ),
    '</defs>',
  );
  for (const n of g.nodes) {
    const q = p.nodes.get(n.id)!;
    out.push(
      `<g class="node node-${n.kind}" data-id="${xmlEscape(n.id)}"><rect x="${q.x}" y="${q.y}" width="${q.w}" height="${H}" rx="${n.kind === 'underlay' ? 22 : 6}" fill="${COLORS[n.kind]}" stroke="#57606a"/>` +
        `<text x="${q.x + q.w / 2}" y="${q.y + 19}" text-anchor="middle" font-weight="bold">${xmlEscape(n.label)}</text>` +
        `<text x="${q.x + q.w / 2}" y="${q.y + 35}" text-anchor="middle" font-size="10" fill="#57606a">${xmlEscape(n.detail)}</text>${lastSeen(n, q)}</g>`,
    );
  }
  out.push('</svg>');
  return out.join('\n');
}

/** The mark of the last port that saw a failed ping's packets: a red badge on the box's corner. */
function lastSeen(n: GraphNode, q: { x: number; y: number; w: number }): string {
  if (!n.mark) return '';
  return `<g class="last-seen"><title>${xmlEscape(n.mark)}</title><circle cx="${q.x + q.w - 4}" cy="${q.y + 4}" r="9" fill="#cf222e" stroke="#ffffff" stroke-width="2"/><text x="${q.x + q.w - 4}" y="${q.y + 8}" text-anchor="middle" font-size="12" font-weight="bold" fill="#ffffff">✕</text></g>`;
}

/** A link along its route, its label where the layout put it (on a white halo over the line). */
function link(e: GraphEdge, route: Point[], at?: Point): string[] {
  const pts = route.map((q) => `${Math.round(q.x * 10) / 10},${Math.round(q.y * 10) / 10}`).join(' ');
  const out = [`<polyline class="link" points="${pts}" fill="none" stroke="#8c959f" stroke-width="1.5"/>`];
  if (e.label && at)
    out.push(
      `<text class="edge-label" x="${at.x}" y="${at.y + 4}" text-anchor="middle" fill="#57606a" font-size="${LABEL}" paint-order="stroke" stroke="#ffffff" stroke-width="3">${xmlEscape(e.label)}</text>`,
    );
  return out;
}

/** A reachability result: a curve, green when it went through, red when not; dashed for expected failures. */
function reachPath(e: GraphEdge, a: Point, b: Point): string {
  const color = e.result === 'pass' ? '#1a7f37' : '#cf222e';
  const mx = (a.x + b.x) / 2 + (a.y === b.y ? 0 : 40);
  const my = (a.y + b.y) / 2 - (a.y === b.y ? 45 : 0);
  const what = `${e.from} -> ${e.to}: ${e.result}${e.expectedFailure ? ' (expected to fail)' : ''}`;
  return `<path class="reach reach-${e.result}${e.expectedFailure ? ' expected-failure' : ''}" data-from="${xmlEscape(e.from)}" data-to="${xmlEscape(e.to)}" d="M${a.x},${a.y} Q${mx},${my} ${b.x},${b.y}" fill="none" stroke="${color}" stroke-width="2.5"${e.expectedFailure ? ' stroke-dasharray="6 4"' : ''} marker-end="url(#arrow-${e.result})"><title>${xmlEscape(what)}</title></path>`;
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
