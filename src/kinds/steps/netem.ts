// netem: declared link impairment (delay, jitter, loss, duplication, reordering, rate) on a machine's NIC, a device
// a step built, or a guest's host-side device; the kernel's netem qdisc, removed at teardown. Needs sch_netem:
// this host's kernel may lack it, and preflight then says to make the machine a VM.
import { HostError } from '../../errors.ts';
import type { StepBase } from '../../lab/model.ts';
import { defineStep, ref } from '../define.ts';
import { guestDevice, guestOf } from '../facts.ts';
import { exec, record } from '../session.ts';

export interface NetemStep extends StepBase {
  kind: 'netem';
  on: string;
  /** the device; undefined with `guest` (found when the step runs) */
  dev?: string;
  guest?: string;
  /** netem's own words, in order: delay 100ms 10ms loss 1% ... */
  params: string[];
}

interface Raw {
  on: string;
  dev?: string;
  guest?: string;
  delay?: string;
  jitter?: string;
  loss?: string;
  duplicate?: string;
  reorder?: string;
  rate?: string;
  limit?: number;
}

const TIME = { type: 'string', pattern: '^\\d+(\\.\\d+)?(us|ms|s)$' };
const PERCENT = { type: 'string', pattern: '^\\d+(\\.\\d+)?%$' };

/** netem's arguments from the step's fields (rate in tc's words: 10mbit). */
export function netemParams(raw: Raw): string[] {
  const p: string[] = [];
  if (raw.delay) p.push('delay', raw.delay, ...(raw.jitter ? [raw.jitter] : []));
  if (raw.loss) p.push('loss', raw.loss);
  if (raw.duplicate) p.push('duplicate', raw.duplicate);
  if (raw.reorder) p.push('reorder', raw.reorder);
  if (raw.rate) p.push('rate', raw.rate.replace(/\s+/g, '').replace(/bit\/s$|bps$/i, 'bit'));
  if (raw.limit !== undefined) p.push('limit', String(raw.limit));
  return p;
}

export const netemArgv = (dev: string, params: string[]) => [
  'tc',
  'qdisc',
  'replace',
  'dev',
  dev,
  'root',
  'netem',
  ...params,
];

export const netem = defineStep<NetemStep, Raw>({
  kind: 'netem',
  summary: "link impairment with the kernel's netem (delay, jitter, loss, duplication, reordering, rate) on a device",
  stage: 'setup',
  schema: {
    description:
      'Impairs what leaves a device (tc qdisc ... root netem): on a NIC of the machine, a device a step built, or ' +
      "a guest's host-side device (what the guest receives). Removed at teardown.",
    required: ['on'],
    properties: {
      on: ref('machineName'),
      dev: ref('ifName', 'A NIC of the machine, or a device a step built on it.'),
      guest: ref('objName', "Instead of dev: this guest's host-side device (macvtap or tap) on its hypervisor."),
      delay: { ...TIME, description: 'Added to every packet, e.g. 100ms.' },
      jitter: { ...TIME, description: 'Random variation of the delay (needs delay), e.g. 10ms.' },
      loss: { ...PERCENT, description: 'Packets dropped at random, e.g. 1%.' },
      duplicate: { ...PERCENT, description: 'Packets sent twice, e.g. 0.5%.' },
      reorder: { ...PERCENT, description: 'Packets sent at once, ahead of the delayed ones (needs delay), e.g. 25%.' },
      rate: {
        type: 'string',
        pattern: '^\\d+(\\.\\d+)?\\s*[kKmMgG]?(bit|bit/s|bps)$',
        description: 'The most the device sends, e.g. 10 Mbit/s.',
      },
      limit: { type: 'integer', minimum: 1, description: 'Packets netem queues (default 1000).' },
    },
  },
  resolve(raw, ctx, at, base) {
    if (!ctx.checkMachine([...at, 'on'], raw.on)) return undefined;
    if ((raw.dev === undefined) === (raw.guest === undefined)) {
      ctx.err(at, 'a netem step needs exactly one of "dev" or "guest"');
      return undefined;
    }
    if (raw.dev !== undefined && !ctx.checkInterface([...at, 'dev'], raw.on, raw.dev)) return undefined;
    if (raw.guest !== undefined) {
      if (!ctx.checkGuest([...at, 'guest'], raw.guest)) return undefined;
      const g = ctx.guests.find((x) => x.name === raw.guest)!;
      if (g.on !== raw.on) {
        ctx.err([...at, 'guest'], `guest "${g.name}" runs on ${g.on}, not on ${raw.on}`);
        return undefined;
      }
    }
    for (const needsDelay of ['jitter', 'reorder'] as const)
      if (raw[needsDelay] !== undefined && raw.delay === undefined) {
        ctx.err([...at, needsDelay], `${needsDelay} needs a delay`, 'add delay: (e.g. 100ms)');
        return undefined;
      }
    const params = netemParams(raw);
    if (!params.length) {
      ctx.err(at, 'a netem step needs at least one of delay, loss, duplicate, reorder, rate, limit');
      return undefined;
    }
    return { ...base, kind: 'netem', on: raw.on, dev: raw.dev, guest: raw.guest, params };
  },
  title: (s) => `netem ${s.params.join(' ')} on ${s.dev ?? `${s.guest}'s host-side device`} of ${s.on}`,
  machine: (s) => s.on,
  commands: (s) => [netemArgv(s.dev ?? `<${s.guest}'s device: virsh domiflist ${s.guest}>`, s.params)],
  requires: () => ['netem'],
  async execute(step, s) {
    const dev = step.dev ?? (await guestDevice(s, guestOf(s.lab, step.guest!))).dev;
    if (!dev) throw new HostError(`guest ${step.guest} has no host-side device on ${step.on}`);
    record(s, { kind: 'undo', what: `netem on ${dev}`, owner: step.on, op: { type: 'del-netem', dev } });
    await exec(s, step.on).run(netemArgv(dev, step.params));
    return { status: 'changed', detail: dev };
  },
});
