// neighbour: the IPv6 side of arp. A machine's NDP entry for a machine or guest on a dual-stack network carries
// that target's MAC (a guest's address is the one SLAAC forms from its MAC).
import { type AssertionBase, type Endpoint, endpointName, endpointNode } from '../../lab/model.ts';
import { defineCheck, ref } from '../define.ts';
import { neighbourEntry, neighbourTarget } from './arp.ts';

export interface NeighbourAssertion extends AssertionBase {
  kind: 'neighbour';
  on: string;
  target: Endpoint;
}

interface Raw {
  on: string;
  guest?: string;
  target?: string;
}

export const neighbour = defineCheck<NeighbourAssertion, Raw>({
  kind: 'neighbour',
  summary: "a machine's IPv6 neighbour (NDP) entry for a machine or guest carries its MAC",
  schema: {
    required: ['on'],
    properties: {
      on: ref('machineName', 'The machine whose neighbour table is read (after one ping over IPv6).'),
      guest: ref('objName', 'The guest whose IPv6 address is resolved (same as target).'),
      target: ref('node', 'The machine or guest whose IPv6 address is resolved.'),
    },
  },
  resolve(raw, ctx, at, base) {
    const target = neighbourTarget(raw, ctx, at, 'a neighbour');
    if (!ctx.checkMachine([...at, 'on'], raw.on) || !target) return undefined;
    return { ...base, kind: 'neighbour', on: raw.on, target };
  },
  title: (a) => `${a.on}'s IPv6 neighbour entry for ${endpointName(a.target)} carries its MAC`,
  nodes: (a) => [a.on, ...endpointNode(a.target)],
  check: (a, s) => neighbourEntry(a, s, 6),
});
