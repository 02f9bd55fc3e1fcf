// What commands print: the event reporter (console or a JSON stream) and how to reach a lab that is up.
import { UsageError } from '../errors.ts';
import type { StateStore } from '../host/state.ts';
import { providerFor } from '../providers/index.ts';
import { createConsoleReporter } from '../report/console.ts';
import type { Emit, RunEvent } from '../report/events.ts';
import type { Options } from './args.ts';

export function reporter(o: Options): Emit {
  if (o.json)
    return (e: RunEvent) => process.stdout.write(`${JSON.stringify({ ...e, time: new Date().toISOString() })}\n`);
  return createConsoleReporter({
    color: o.color,
    tty: !!process.stdout.isTTY,
    verbose: o.verbose,
    write: (s) => process.stdout.write(s),
  });
}

export function oneLab(o: Options, verb: string): string {
  if (o.args.length !== 1) throw new UsageError(`${verb} needs exactly one lab`, `virtlab ${verb} <lab>`);
  return o.args[0]!;
}

export function printAccess(store: StateStore): void {
  const s = store.state;
  console.log(`\nlab ${s.lab} is up as instance "${s.instance}". Reach its machines with:`);
  for (const m of s.machines) console.log(`  virtlab ssh ${s.instance} ${m.name}        (${m.role}, ${m.address})`);
  console.log(`check it with: virtlab check ${s.instance}     remove it with: virtlab down ${s.instance}`);
}

/** How guests are accelerated on each hypervisor of a live instance (for the commands course mode shows). */
export function virtTypes(store: StateStore): (machine: string) => 'qemu' | 'kvm' {
  const machines = providerFor(store.state).attach(store).machines;
  return (name) => machines.find((m) => m.name === name)?.guestVirt ?? 'qemu';
}
