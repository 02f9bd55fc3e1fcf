// ovs-bridge: an Open vSwitch bridge on a machine: ports with access tags or trunks, and seed 004's hairpin flow
// (frames may go back out the port they came in).
import type { StepBase } from '../../lab/model.ts';
import { defineStep, ref } from '../define.ts';
import { exec, record } from '../session.ts';
import { addressCommands, type DeviceStep, deviceFields, deviceMark, resolveDevice } from './device.ts';

export interface OvsBridgeStep extends StepBase, DeviceStep {
  kind: 'ovs-bridge';
  ports: string[];
  /** a port's access VLAN */
  tags: Record<string, number>;
  /** a port's trunked VLANs */
  trunks: Record<string, number[]>;
  hairpin: boolean;
}

interface Raw {
  on: string;
  name: string;
  ports?: string[];
  tags?: Record<string, number>;
  trunks?: Record<string, number[]>;
  hairpin?: boolean;
  address?: string;
}

const vid = { type: 'integer', minimum: 1, maximum: 4094 };

export const ovsBridge = defineStep<OvsBridgeStep, Raw>({
  kind: 'ovs-bridge',
  summary: 'an Open vSwitch bridge on a machine: ports with access tags or trunks, optionally the hairpin flow',
  stage: 'setup',
  schema: {
    required: ['on', 'name'],
    properties: {
      ...deviceFields,
      ports: { type: 'array', items: ref('ifName'), description: 'NICs or devices added as ports.' },
      tags: {
        type: 'object',
        propertyNames: ref('ifName'),
        additionalProperties: vid,
        description: "A port's access VLAN (port: tag).",
      },
      trunks: {
        type: 'object',
        propertyNames: ref('ifName'),
        additionalProperties: { type: 'array', minItems: 1, items: vid },
        description: 'The VLANs a port trunks (port: [tags]).',
      },
      hairpin: {
        type: 'boolean',
        description: 'Send every frame back out its own port too (ovs-ofctl add-flow ... actions=all,in_port).',
      },
    },
  },
  resolve(raw, ctx, at, base) {
    const ports = raw.ports ?? [];
    const d = resolveDevice(raw, ctx, at, { type: 'ovs-bridge', over: ports }, base, (i) => [...at, 'ports', i]);
    if (!d) return undefined;
    for (const field of ['tags', 'trunks'] as const) {
      for (const p of Object.keys(raw[field] ?? {})) {
        if (!ports.includes(p))
          ctx.err(
            [...at, field, p],
            `"${p}" is not a port of ${raw.name}`,
            `its ports: ${ports.join(', ') || '(none)'}`,
          );
      }
    }
    return {
      ...base,
      kind: 'ovs-bridge',
      ...d,
      ports,
      tags: raw.tags ?? {},
      trunks: raw.trunks ?? {},
      hairpin: raw.hairpin ?? false,
    };
  },
  title: (s) =>
    `Open vSwitch bridge ${s.name} on ${s.on}${s.ports.length ? ` with ports ${s.ports.map((p) => (s.tags[p] ? `${p} (tag ${s.tags[p]})` : p)).join(', ')}` : ''}${s.hairpin ? ', hairpin flow' : ''}`,
  machine: (s) => s.on,
  requires: () => ['openvswitch'],
  commands: (s) => [
    ['ovs-vsctl', 'add-br', s.name],
    ...s.ports.map((p) => [
      'ovs-vsctl',
      'add-port',
      s.name,
      p,
      ...(s.tags[p] ? [`tag=${s.tags[p]}`] : []),
      ...(s.trunks[p] ? [`trunks=${s.trunks[p]!.join(',')}`] : []),
    ]),
    ...s.ports.map((p) => ['ip', 'link', 'set', 'dev', p, 'up']),
    ...addressCommands(s),
    ...(s.hairpin ? [['ovs-ofctl', 'add-flow', s.name, 'actions=all,in_port']] : []),
  ],
  async execute(step, s) {
    const x = exec(s, step.on);
    const mark = deviceMark(s);
    record(s, {
      kind: 'undo',
      what: `Open vSwitch bridge ${step.name}`,
      owner: step.on,
      op: { type: 'ovs-del-br', name: step.name, mark },
    });
    const [first, ...rest] = ovsBridge.commands(step, () => 'qemu');
    // the bridge carries the run's mark from the moment it exists (checked again before it is removed)
    await x.run([...first!, '--', 'set', 'bridge', step.name, `external-ids:virtlab=${mark}`]);
    for (const argv of rest) await x.run(argv);
    return { status: 'changed', detail: step.ports.length ? `ports ${step.ports.join(', ')}` : undefined };
  },
});
