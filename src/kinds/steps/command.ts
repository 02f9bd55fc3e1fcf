// command: an argv (or a lab script) on a machine, or an argv inside a guest over its serial console.
import { dirname } from 'node:path';
import { scaled, TIMEOUTS } from '../../host/config.ts';
import * as cmd from '../../hypervisor/commands.ts';
import type { StepBase } from '../../lab/model.ts';
import { displayLine } from '../../transport/quote.ts';
import { defineStep, ref } from '../define.ts';
import { guestOf } from '../facts.ts';
import { waitReady } from '../ready.ts';
import { exec, inVm, nodeExec } from '../session.ts';

export interface CommandStep extends StepBase {
  kind: 'command';
  on: string;
  argv?: string[];
  script?: { src: string; rel: string };
  /** runs inside a guest, over its serial console */
  guest?: boolean;
}

interface Raw {
  on: string;
  argv?: string[];
  script?: string;
}

const lastLine = (out: string) => out.trim().split('\n').pop()?.slice(0, 120) || undefined;

export const command = defineStep<CommandStep, Raw>({
  kind: 'command',
  summary: 'runs a command (or a lab script) on a machine, or a command inside a guest over its serial console',
  stage: 'setup',
  schema: {
    required: ['on'],
    properties: {
      on: ref('node', 'A machine, or a guest (argv only: run over its serial console once the guest is ready).'),
      argv: { type: 'array', minItems: 1, items: ref('arg') },
      script: ref('relPath'),
    },
  },
  resolve(raw, ctx, at, base) {
    if (ctx.guests.some((g) => g.name === raw.on)) {
      if (raw.argv === undefined) {
        ctx.err([...at, 'argv'], 'a command step on a guest needs "argv" (a script cannot be uploaded over a console)');
        return undefined;
      }
      return { ...base, kind: 'command', on: raw.on, argv: raw.argv, guest: true };
    }
    if (!ctx.checkMachine([...at, 'on'], raw.on)) return undefined;
    if ((raw.argv === undefined) === (raw.script === undefined)) {
      ctx.err(at, 'a command step needs exactly one of "argv" or "script"');
      return undefined;
    }
    const src = raw.script ? ctx.labFile([...at, 'script'], raw.script) : undefined;
    const script = src && raw.script ? { src, rel: raw.script } : undefined;
    // the devices it names can be used by later steps (a bridge it builds, a VLAN...)
    const text = raw.argv ? raw.argv.join(' ') : src ? ctx.readFile(src) : undefined;
    if (text) ctx.noteCommand(raw.on, text);
    return { ...base, kind: 'command', on: raw.on, argv: raw.argv, script };
  },
  title: (s) => `run ${s.argv ? displayLine(s.argv) : s.script!.rel} on ${s.on}`,
  machine: (s) => s.on,
  commands: (s) =>
    s.argv
      ? [s.argv]
      : [
          ['upload', s.script!.rel, cmd.labFilePath(s.script!.rel)],
          ['sh', cmd.labFilePath(s.script!.rel)],
        ],
  async execute(step, s) {
    if (step.guest) {
      // a guest answers on its console once it has booted
      const g = guestOf(s.lab, step.on);
      await waitReady(s, g, TIMEOUTS.guestBootMs);
      const r = await nodeExec(s, step.on).run(step.argv!, {
        timeoutMs: scaled(TIMEOUTS.consoleCommandMs, inVm(s, g.name)),
      });
      return { status: 'changed', detail: lastLine(r.stdout) };
    }
    const x = exec(s, step.on);
    const timeoutMs = scaled(TIMEOUTS.stepCommandMs, inVm(s, step.on));
    if (step.argv) return { status: 'changed', detail: lastLine((await x.run(step.argv, { timeoutMs })).stdout) };
    const remote = cmd.labFilePath(step.script!.rel);
    await x.run(['mkdir', '-p', dirname(remote)]);
    await x.upload(step.script!.src, remote, { mode: 0o755 });
    return { status: 'changed', detail: lastLine((await x.run(['sh', remote], { timeoutMs })).stdout) };
  },
});
