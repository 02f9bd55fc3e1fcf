// The one explicit list of step kinds, and what the runner, plan and course mode ask of any step.
import type { Feature } from '../../host/features.ts';
import type { StepBase } from '../../lab/model.ts';
import { kindTable, type StepDef, type StepOutcome, type VirtTypeOf } from '../define.ts';
import type { Session } from '../session.ts';
import { attachInterface } from './attach-interface.ts';
import { bond } from './bond.ts';
import { bridge } from './bridge.ts';
import { check } from './check.ts';
import { command } from './command.ts';
import { guest } from './guest.ts';
import { hairpin } from './hairpin.ts';
import { macvlan } from './macvlan.ts';
import { netDefine } from './net-define.ts';
import { netStart } from './net-start.ts';
import { netem } from './netem.ts';
import { ovsBridge } from './ovs-bridge.ts';
import { promisc } from './promisc.ts';
import { upload } from './upload.ts';
import { veth } from './veth.ts';
import { vlan } from './vlan.ts';

export const STEP_KINDS: readonly StepDef[] = [
  upload,
  netDefine,
  netStart,
  promisc,
  guest,
  command,
  hairpin,
  attachInterface,
  check,
  bridge,
  vlan,
  bond,
  macvlan,
  veth,
  ovsBridge,
  netem,
];

export const stepKind = kindTable('step', STEP_KINDS);

export const stepTitle = (s: StepBase): string => stepKind(s.kind).title(s);
export const stepMachine = (s: StepBase): string | undefined => stepKind(s.kind).machine(s);
export const stepStage = (s: StepBase): 'upload' | 'setup' => stepKind(s.kind).stage;
/** Where a person does the step by hand: its machine, or what the kind names (a switch, virtlab itself). */
export const stepPlace = (s: StepBase): string => {
  const d = stepKind(s.kind);
  return d.machine(s) ?? d.place?.(s) ?? 'virtlab';
};
export const stepChecks = (s: StepBase): string[] => stepKind(s.kind).checks?.(s) ?? [];
export const stepRequires = (s: StepBase): Feature[] => stepKind(s.kind).requires?.(s) ?? [];

export function stepCommands(s: StepBase, virtType: VirtTypeOf = () => 'qemu'): string[][] {
  return stepKind(s.kind).commands(s, virtType);
}

export function executeStep(s: StepBase, session: Session): Promise<StepOutcome> {
  return stepKind(s.kind).execute(s, session);
}
