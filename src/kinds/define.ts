// What a step kind and an assertion kind are: one module each, carrying its schema fragment, its resolver, how it
// is shown (title, machine, commands) and how it runs. The tables in steps/index.ts and checks/index.ts list them.
import { InternalError } from '../errors.ts';
import type { Feature } from '../host/features.ts';
import type { AssertionBase, Path, StepBase } from '../lab/model.ts';
import type { ResolveContext } from '../lab/resolving.ts';
import type { Evidence, Figure, GridCell, StepStatus } from '../report/events.ts';
import type { Session } from './session.ts';

/** A JSON Schema fragment: the kind's own fields (id, description, hint, expect and points are added). */
export interface KindSchema {
  description?: string;
  required?: string[];
  properties: Record<string, object>;
  /** further JSON Schema keywords of the kind's object (e.g. oneOf of alternative fields) */
  extra?: Record<string, unknown>;
}

/** `{ $ref: '#/definitions/<name>' }`, with a description when given. */
export function ref(name: string, description?: string): object {
  return description ? { $ref: `#/definitions/${name}`, description } : { $ref: `#/definitions/${name}` };
}

/** How guests on a machine are accelerated (qemu = TCG), for the commands a step shows. */
export type VirtTypeOf = (machine: string) => 'qemu' | 'kvm';

export interface StepOutcome {
  status: StepStatus;
  detail?: string;
}

export interface StepDef<S extends StepBase = StepBase, Raw = unknown> {
  kind: S['kind'];
  /** one line for the docs and `virtlab explain` */
  summary: string;
  schema: KindSchema;
  /** uploads run in their own stage, before the setup steps */
  stage: 'upload' | 'setup';
  /** the resolved step, or undefined after reporting its problems through ctx.err */
  resolve(raw: Raw, ctx: ResolveContext, at: Path, base: StepBase): S | undefined;
  title(s: S): string;
  /** the machine the step runs on (undefined: virtlab itself, or a switch) */
  machine(s: S): string | undefined;
  /** where a person does this step by hand, when it is not a machine ("the lan switch") */
  place?(s: S): string;
  /** the exact commands it runs, as `plan`, `explain` and course mode show them */
  commands(s: S, virtType: VirtTypeOf): string[][];
  execute(s: S, session: Session): Promise<StepOutcome>;
  /** assertion ids the step runs itself (a check step): not run again at the end */
  checks?(s: S): string[];
  /** kernel features the step needs on its machine (preflight checks them where the machine shares this host's kernel) */
  requires?(s: S): Feature[];
}

/** What a check observed: whether it held, one line saying what was seen, and the commands that decided it. */
export interface Observation {
  ok: boolean;
  seen: string;
  evidence: Evidence[];
  /** the check could not be made (e.g. the guest has no address): fails whatever was expected */
  inconclusive?: boolean;
  cells?: GridCell[];
  /** what a measuring check measured */
  figures?: Figure[];
}

export interface CheckDef<A extends AssertionBase = AssertionBase, Raw = unknown> {
  kind: A['kind'];
  summary: string;
  schema: KindSchema;
  resolve(raw: Raw, ctx: ResolveContext, at: Path, base: AssertionBase): A | undefined;
  /** what is checked, without "(expected to fail)" */
  title(a: A): string;
  /** every machine or guest it involves (a check step waits for these guests) */
  nodes(a: A): string[];
  /** the path it tests, when it tests one (drawn on the report's topology) */
  edge?(a: A): { from: string; to: string };
  check(a: A, s: Session): Promise<Observation>;
  /** programs it runs on the machines it involves (checked in preflight where a machine uses this host's) */
  tools?: { bin: string; pkg: string }[];
  /** it measures (throughput): runs alone, after the other checks of its phase, so they do not skew its figures */
  measures?: true;
}

/** A kind module's definition, typed by its own step; the table holds them as StepDef (one cast, here). */
export function defineStep<S extends StepBase, Raw>(def: StepDef<S, Raw>): StepDef {
  return def as unknown as StepDef;
}

export function defineCheck<A extends AssertionBase, Raw>(def: CheckDef<A, Raw>): CheckDef {
  return def as unknown as CheckDef;
}

/** Looks a kind up in its table; an unknown kind is a bug (the schema admits only listed kinds). */
export function kindTable<D extends { kind: string }>(family: string, defs: readonly D[]): (kind: string) => D {
  const byKind = new Map<string, D>();
  for (const d of defs) {
    if (byKind.has(d.kind)) throw new InternalError(`${family} kind "${d.kind}" is listed twice`);
    byKind.set(d.kind, d);
  }
  return (kind) => {
    const d = byKind.get(kind);
    if (!d) throw new InternalError(`unknown ${family} kind "${kind}"; known: ${[...byKind.keys()].join(', ')}`);
    return d;
  };
}
