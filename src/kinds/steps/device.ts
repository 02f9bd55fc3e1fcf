// What the device kinds (bridge, vlan, bond, macvlan, veth, ovs-bridge) share: the device's record in the lab, its
// address, the mark it carries on the machine, and its removal at teardown (recorded before it is created).
import { parseIp } from '../../lab/ipv4.ts';
import type { Device, Path, StepBase } from '../../lab/model.ts';
import type { ResolveContext } from '../../lab/resolving.ts';
import { ref } from '../define.ts';
import { exec, record, type Session } from '../session.ts';

export interface DeviceStep extends StepBase {
  on: string;
  name: string;
  /** `a.b.c.d/nn` to give it, or the address it took over from its port */
  address?: string;
  /** the NIC whose address a bridge takes over (`address: move`) */
  movedFrom?: string;
}

/** Fields every device kind has. */
export const deviceFields = {
  on: ref('machineName'),
  name: ref('ifName', 'The device name on the machine (at most 15 characters; dots are fine: eth1.100).'),
  address: {
    type: 'string',
    pattern: '^(\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}|move)$',
    description:
      "An address for the device (A.B.C.D/NN); for a bridge also `move`: take over its first port's address.",
  },
};

/** The parts every device kind resolves the same way; undefined when the machine or the name is wrong. */
export function resolveDevice(
  raw: { on: string; name: string; address?: string },
  ctx: ResolveContext,
  at: Path,
  d: Omit<Device, 'on' | 'name' | 'step'>,
  base: StepBase,
  /** where each of d.over is written in the step (ports.0, link...) */
  overAt: (i: number) => Path,
): Pick<DeviceStep, 'on' | 'name' | 'address' | 'movedFrom'> | undefined {
  if (!ctx.checkMachine([...at, 'on'], raw.on)) return undefined;
  // a device whose ports are wrong is still declared, so later uses of its name do not cascade into more errors
  const portsOk = d.over.map((over, i) => ctx.checkInterface(overAt(i), raw.on, over)).every(Boolean);
  let address = raw.address;
  let movedFrom: string | undefined;
  if (address === 'move') {
    movedFrom = d.over[0];
    address = ctx.machine(raw.on)?.nics.find((n) => n.name === movedFrom)?.address;
    if (!address?.includes('/')) {
      ctx.err(
        [...at, 'address'],
        `"move" takes over the address of ${raw.on}'s ${movedFrom ?? 'first port'}, which has none`,
        movedFrom ? `give ${raw.name} its own address (A.B.C.D/NN)` : `give ${raw.name} a port with an address`,
      );
      address = undefined;
    }
  } else if (address !== undefined && !validAddress(address)) {
    ctx.err([...at, 'address'], `"${address}" is not an address with its prefix length (A.B.C.D/NN)`);
    address = undefined;
  }
  const declared = ctx.declareDevice([...at, 'name'], {
    ...d,
    on: raw.on,
    name: raw.name,
    step: base.id,
    ...(address ? { address } : {}),
  });
  if (!declared || !portsOk || (raw.address !== undefined && !address)) return undefined;
  return { on: raw.on, name: raw.name, ...(address ? { address } : {}), ...(movedFrom ? { movedFrom } : {}) };
}

function validAddress(a: string): boolean {
  const [ip = '', prefix] = a.split('/');
  return parseIp(ip) !== undefined && Number(prefix) >= 1 && Number(prefix) <= 32;
}

/** The commands that give a device its address (moved from a port, or its own) and bring it up. */
export function addressCommands(s: DeviceStep): string[][] {
  return [
    ...(s.movedFrom && s.address ? [['ip', 'addr', 'del', s.address, 'dev', s.movedFrom]] : []),
    ...(s.address ? [['ip', 'addr', 'add', s.address, 'dev', s.name]] : []),
    ['ip', 'link', 'set', 'dev', s.name, 'up'],
  ];
}

/** The alias a run puts on every link it creates on a machine, checked again before the link is removed. */
export const deviceMark = (s: Session) => `virtlab:${s.store.state.instance}:${s.store.state.runId}`;

/**
 * Records the device's removal (and the return of a moved address), then runs its commands; the alias is set right
 * after the first command creates the link.
 */
export async function createDevice(s: Session, step: DeviceStep, commands: string[][]): Promise<void> {
  const x = exec(s, step.on);
  const mark = deviceMark(s);
  record(s, {
    kind: 'undo',
    what: `device ${step.name}`,
    owner: step.on,
    op: { type: 'del-link', name: step.name, mark },
  });
  if (step.movedFrom && step.address) {
    const op = { type: 'add-address' as const, dev: step.movedFrom, address: step.address };
    record(s, { kind: 'undo', what: `address ${step.address} back on ${step.movedFrom}`, owner: step.on, op });
  }
  const [first, ...rest] = commands;
  await x.run(first!);
  await x.run(['ip', 'link', 'set', 'dev', step.name, 'alias', mark]);
  for (const argv of rest) await x.run(argv);
}
