// bridge: a Linux bridge on a machine, with its ports (a NIC enslaved to it gets all frames, as on a real switch).
import type { StepBase } from '../../lab/model.ts';
import { defineStep, ref } from '../define.ts';
import { addressCommands, createDevice, type DeviceStep, deviceFields, resolveDevice } from './device.ts';

export interface BridgeStep extends StepBase, DeviceStep {
  kind: 'bridge';
  ports: string[];
  stp: boolean;
  /** seconds a learned MAC is kept; 0: the bridge learns nothing (a plain wire) */
  ageing?: number;
}

interface Raw {
  on: string;
  name: string;
  ports?: string[];
  address?: string;
  stp?: boolean;
  ageing?: number;
}

export const bridge = defineStep<BridgeStep, Raw>({
  kind: 'bridge',
  summary: "a Linux bridge on a machine with NICs or devices as its ports (optionally taking over a port's address)",
  stage: 'setup',
  schema: {
    required: ['on', 'name'],
    properties: {
      ...deviceFields,
      ports: { type: 'array', items: ref('ifName'), description: 'NICs or devices enslaved to the bridge.' },
      stp: { type: 'boolean', description: 'Spanning tree (default off).' },
      ageing: {
        type: 'integer',
        minimum: 0,
        maximum: 1000000,
        description: 'Seconds a learned MAC is kept (default 300; 0 learns nothing).',
      },
    },
  },
  resolve(raw, ctx, at, base) {
    const ports = raw.ports ?? [];
    const d = resolveDevice(raw, ctx, at, { type: 'bridge', over: ports }, base, (i) => [...at, 'ports', i]);
    return (
      d && {
        ...base,
        kind: 'bridge',
        ...d,
        ports,
        stp: raw.stp ?? false,
        ...(raw.ageing !== undefined ? { ageing: raw.ageing } : {}),
      }
    );
  },
  title: (s) =>
    `Linux bridge ${s.name} on ${s.on}${s.ports.length ? ` with ports ${s.ports.join(', ')}` : ''}${s.address ? `, ${s.movedFrom ? `taking over ${s.address} from ${s.movedFrom}` : s.address}` : ''}`,
  machine: (s) => s.on,
  requires: () => ['bridge'],
  commands: (s) => [
    [
      'ip',
      'link',
      'add',
      'name',
      s.name,
      'type',
      'bridge',
      'stp_state',
      s.stp ? '1' : '0',
      ...(s.ageing !== undefined ? ['ageing_time', String(s.ageing * 100)] : []),
    ],
    ...s.ports.flatMap((p) => [
      ['ip', 'link', 'set', 'dev', p, 'master', s.name],
      ['ip', 'link', 'set', 'dev', p, 'up'],
    ]),
    ...addressCommands(s),
  ],
  async execute(step, s) {
    await createDevice(
      s,
      step,
      bridge.commands(step, () => 'qemu'),
    );
    return { status: 'changed', detail: step.ports.length ? `ports ${step.ports.join(', ')}` : undefined };
  },
});
