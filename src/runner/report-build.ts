// The report of a run and of a `check`: one builder for both, from what the run recorded.

import type { Lab } from '../lab/model.ts';
import type { AssertionResult } from '../report/events.ts';
import type { RunReport } from '../report/run-report.ts';
import type { Run, RunOutcome } from './context.ts';
import { score } from './score.ts';

interface Common {
  lab: Lab;
  instance: string;
  runId: string;
  provider: string;
  result: RunOutcome['result'];
  exitCode: number;
  startedAt: string;
  durationMs: number;
  assertions: AssertionResult[];
}

function base(c: Common): Omit<RunReport, 'stages' | 'steps' | 'machines' | 'images' | 'files'> {
  const { lab, ...rest } = c;
  return {
    ...rest,
    lab: lab.name,
    description: lab.description,
    ...(lab.exercise ? { score: score(c.assertions) } : {}),
  };
}

export function runReport(r: Run, result: RunOutcome['result'], exitCode: number, error?: string): RunReport {
  const st = r.store.state;
  const covered = r.clock.covered();
  return {
    ...base({
      lab: r.lab,
      instance: st.instance,
      runId: st.runId,
      provider: r.provider.name,
      result,
      exitCode,
      startedAt: st.createdAt,
      durationMs: r.ms(),
      assertions: r.rec.results,
    }),
    stages: r.rec.stages,
    steps: r.rec.steps,
    machines: r.lab.machines.map((m) => {
      const h = r.session?.machines.get(m.name);
      const guests = m.role === 'hypervisor' && h ? { guests: h.guestVirt === 'kvm' ? 'KVM' : 'TCG' } : {};
      return {
        name: m.name,
        role: m.role,
        ram: m.ram,
        vcpu: m.vcpu,
        ...r.versions[m.name],
        ...(h?.kind ? { kind: h.kind } : {}),
        ...guests,
        ...(h?.snapshot ? { snapshot: h.snapshot } : {}),
      };
    }),
    images: [...r.images.values()].map((i) => ({ ref: i.ref, source: i.source })),
    files: r.rec.files,
    error,
    timing: {
      commandMs: Math.round(covered),
      waitMs: Math.round(r.clock.covered(r.waits) - covered),
      overheadMs: Math.round(r.ms() - r.clock.covered(r.waits)),
    },
  };
}

/** `virtlab check`: the assertions against a lab that is up, as a report of its own. */
export function checkReport(c: Omit<Common, 'result' | 'exitCode'> & { failed: boolean }): RunReport {
  const { failed, ...rest } = c;
  return {
    ...base({ ...rest, result: failed ? 'fail' : 'pass', exitCode: failed ? 1 : 0 }),
    stages: { assert: c.durationMs },
    steps: [],
    machines: c.lab.machines.map((m) => ({ name: m.name, role: m.role, ram: m.ram, vcpu: m.vcpu })),
    images: [],
    files: [],
    ...(c.lab.exercise ? {} : { score: score(c.assertions) }),
  };
}
