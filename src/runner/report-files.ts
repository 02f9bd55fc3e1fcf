// The report folder: report.json and junit.xml (the console logs and evidence are written by collect).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AssertionResult } from '../report/events.ts';
import { junitXml } from '../report/junit.ts';
import { htmlReport } from '../report/html.ts';
import { tapReport } from '../report/tap.ts';
import type { Lab } from '../lab/model.ts';
import type { Stage } from './plan.ts';

export interface RunReport {
  lab: string;
  description: string;
  instance: string;
  runId: string;
  provider: string;
  result: 'pass' | 'fail' | 'error' | 'interrupted';
  exitCode: number;
  startedAt: string;
  durationMs: number;
  stages: Partial<Record<Stage, number>>;
  steps: { stage: Stage; id: string; title: string; status: string; durationMs: number; detail?: string }[];
  assertions: AssertionResult[];
  /** kind: namespace, VM (TCG), VM (KVM), host; guests: how a hypervisor's guests are accelerated (KVM or TCG) */
  machines: {
    name: string;
    role: string;
    ram: number;
    vcpu: number;
    kernel?: string;
    distribution?: string;
    libvirt?: string;
    qemu?: string;
    kind?: string;
    guests?: string;
  }[];
  images: { ref: string; source: string }[];
  files: string[];
  error?: string;
  /** course mode: points of the checks that passed, out of all */
  score?: { points: number; max: number };
  /** wall time split into time inside commands, waiting for guests, and virtlab's own time */
  timing?: { commandMs: number; waitMs: number; overheadMs: number };
}

export function writeReports(
  dir: string,
  r: RunReport,
  lab?: Lab,
  formats: string[] = ['json', 'junit', 'html'],
): void {
  if (formats.includes('json'))
    writeFileSync(join(dir, 'report.json'), JSON.stringify(r, null, 2) + '\n', { mode: 0o600 });
  if (formats.includes('junit'))
    writeFileSync(
      join(dir, 'junit.xml'),
      junitXml(
        r.lab,
        r.assertions,
        r.durationMs,
        r.result === 'error' || r.result === 'interrupted' ? (r.error ?? r.result) : undefined,
      ),
      { mode: 0o600 },
    );
  if (formats.includes('tap'))
    writeFileSync(
      join(dir, 'report.tap'),
      tapReport(r.assertions, r.result === 'error' || r.result === 'interrupted' ? (r.error ?? r.result) : undefined),
      { mode: 0o600 },
    );
  if (formats.includes('html') && lab) {
    writeFileSync(join(dir, 'report.html'), htmlReport({ ...r, lab, reportDir: dir, stages: r.stages }), {
      mode: 0o600,
    });
  }
}
