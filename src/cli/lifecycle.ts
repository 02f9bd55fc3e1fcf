// The commands that run a lab: run, up, reset (course mode: back to a known step).
import { join } from 'node:path';
import { EXIT, UsageError } from '../errors.ts';
import { readConfig } from '../host/config.ts';
import { claimReportDir } from '../host/report-dir.ts';
import { instanceLab, loadLab, studentParams } from '../lab/load.ts';
import { checkStepIds, type Lab } from '../lab/model.ts';
import { createProvider } from '../providers/index.ts';
import { requirementProblems } from '../runner/requirements.ts';
import { runWithRetry } from '../runner/retry.ts';
import type { RunOutcome } from '../runner/run.ts';
import type { Options } from './args.ts';
import { baselineFor } from './baseline.ts';
import { breakFixText, instructions } from './course.ts';
import { down, instanceStore } from './instances.ts';
import { interrupts } from './interrupts.ts';
import { checkRunOptions, providerOptionsOf, provisionerOption, reportFormats } from './options.ts';
import { oneLab, printAccess, reporter, virtTypes } from './output.ts';

export async function lifecycle(o: Options, mode: 'run' | 'up'): Promise<number> {
  if (o.handout !== undefined && o.class === undefined)
    throw new UsageError(
      'up --handout goes with --class',
      'for one instance: virtlab ssh-config <lab> --handout <dir>',
    );
  if (o.class !== undefined) return (await import('./class.ts')).upClass(o);
  const ref = oneLab(o, mode);
  const base = loadLab(ref, undefined, o.variant);
  checkRunOptions(o, base);
  const baseline = baselineFor(o.baseline, base);
  // the report folder is checked and marked before anything is created
  if (o.reportDir) claimReportDir(o.reportDir);
  // a lab with variants runs each of them (one after another) unless --variant picks one; `up` keeps one variant
  const variants = o.variant ? [o.variant] : base.variants.length && mode === 'run' ? base.variants : [undefined];
  const { signal, dispose, exitCode: stopped } = interrupts();
  const outcomes: Outcome[] = [];
  try {
    for (const v of variants) {
      if (signal.aborted) break;
      // a student's instance of an exercise that varies parameters gets its own values (drawn from its name)
      const student = o.name ? studentParams(base, o.name) : {};
      const varied = Object.keys(student).length > 0;
      const lab = v === base.variant && !varied ? base : loadLab(ref, undefined, v, student);
      if (varied && !o.json)
        console.log(
          `${o.name}'s values: ${Object.entries(student)
            .map(([k, x]) => `${k}=${x}`)
            .join(', ')}`,
        );
      // running every variant: one this host's kernel cannot carry is skipped with the reason, the others run
      const skipped = variants.length > 1 ? await kernelSkip(o, lab) : undefined;
      if (skipped) {
        if (!o.json) console.log(`\n=== ${lab.name}, variant ${v}: skipped: ${skipped} ===`);
        outcomes.push({ variant: v, skipped });
        continue;
      }
      if (variants.length > 1 && !o.json) {
        const params = Object.entries(lab.params)
          .map(([k, x]) => `${k}=${x}`)
          .join(', ');
        console.log(`\n=== ${lab.name}, variant ${v} (${params}) ===`);
      }
      const reportDir = o.reportDir && variants.length > 1 ? join(o.reportDir, v!) : o.reportDir;
      if (reportDir && reportDir !== o.reportDir) claimReportDir(reportDir);
      const out = await runWithRetry(
        lab,
        {
          mode,
          provider: o.provider ?? 'netns',
          providerOptions: providerOptionsOf(o),
          reportDir,
          keep: o.keep,
          until: o.until,
          skip: o.skip,
          name: o.name,
          collect: 'on-failure',
          reportFormats: reportFormats(o),
          readyTimeoutMs: readConfig().readyTimeoutMs,
          provisioner: provisionerOption(o),
          breakFaults: o.break,
          baseline,
          ...(varied ? { params: student } : {}),
        },
        reporter(o),
        signal,
      );
      outcomes.push({ variant: v, out });
      afterRun(o, mode, lab, out);
      if (o.keep && variants.length > 1) break; // a kept instance blocks the next variant's instance name
    }
  } finally {
    dispose();
  }
  if (variants.length > 1 && !o.json) printVariants(base.name, outcomes);
  const worst = [EXIT.interrupted, EXIT.internal, EXIT.host, EXIT.usage, EXIT.assertion].find((c) =>
    outcomes.some((x) => x.out?.exitCode === c),
  );
  // every variant skipped: nothing ran, which is the host's problem
  const none = outcomes.length > 0 && outcomes.every((x) => x.skipped) ? EXIT.host : undefined;
  return stopped() ?? worst ?? none ?? EXIT.ok;
}

type Outcome =
  | { variant?: string; out: RunOutcome; skipped?: undefined }
  | { variant?: string; out?: undefined; skipped: string };

/** Why this host's kernel cannot carry the variant's namespace machines (the features they lack), if it cannot. */
async function kernelSkip(o: Options, lab: Lab): Promise<string | undefined> {
  const problems = await requirementProblems(lab, createProvider(o.provider ?? 'netns', providerOptionsOf(o)));
  if (!problems.length) return undefined;
  const lacking = [...new Set(problems.map((p) => p.feature))].join(', ');
  return `this host's kernel lacks ${lacking}, which its namespace machines need (${problems[0]!.hint})`;
}

function afterRun(o: Options, mode: 'run' | 'up', lab: ReturnType<typeof loadLab>, out: RunOutcome): void {
  if (o.json || !out.store) return;
  if (mode === 'up' && out.exitCode === EXIT.ok) {
    printAccess(out.store);
    if (o.break)
      process.stdout.write(breakFixText(out.store.state.instance, out.store.state.faults ?? [], o.showSolution));
    // the steps left to a student: only when the setup stopped early (up --until); a whole lab is not an exercise
    const from = o.until;
    if (from)
      process.stdout.write(
        instructions(lab, from, out.store.state.instance, {
          virtType: virtTypes(out.store),
          showSolution: o.showSolution,
        }),
      );
  } else if (o.keep && out.result !== 'interrupted') printAccess(out.store);
}

function printVariants(lab: string, outcomes: Outcome[]): void {
  console.log(`\n${lab}: ${outcomes.length} variant${outcomes.length === 1 ? '' : 's'}`);
  for (const { variant, out, skipped } of outcomes) {
    if (!out) {
      console.log(`  ${'SKIPPED'.padEnd(11)} ${variant!.padEnd(20)} ${skipped}`);
      continue;
    }
    const passed = out.results.filter((r) => r.status === 'pass').length;
    const where = out.reportDir ? `   ${out.reportDir}` : '';
    console.log(
      `  ${out.result.toUpperCase().padEnd(11)} ${variant!.padEnd(20)} ${passed}/${out.results.length} assertions as expected${where}`,
    );
  }
}

/** `reset --to-checkpoint N`: the step where the exercise's checkpoint N (1-based, or by name) starts. */
function checkpointStart(lab: ReturnType<typeof instanceLab>, n: string): string {
  const list = lab.exercise?.checkpoints ?? [];
  const c = /^\d+$/.test(n) ? list[Number(n) - 1] : list.find((x) => x.name === n);
  if (!c)
    throw new UsageError(
      `lab ${lab.name} has no checkpoint "${n}"`,
      list.length
        ? `its checkpoints: ${list.map((x, i) => `${i + 1} ${x.name}`).join(', ')}`
        : 'its exercise declares no checkpoints',
    );
  return c.from;
}

/** Back to a known step: the instance is removed and brought up again to that step, under the same name. */
export async function reset(o: Options): Promise<number> {
  const store = instanceStore(oneLab(o, 'reset'));
  const s = store.state;
  const lab = instanceLab(s);
  const to = o.toCheckpoint !== undefined ? checkpointStart(lab, o.toCheckpoint) : (o.to ?? s.until);
  // a step that does not exist is said before anything is removed
  checkStepIds(lab, to, []);
  const downCode = await down({ ...o, args: [s.instance], all: false });
  if (downCode !== EXIT.ok) return downCode;
  // the same provider, hosts and kernel as before, unless the command line says otherwise
  const given = providerOptionsOf(o);
  const options = Object.fromEntries(Object.keys(given).map((k) => [k, given[k] ?? s.providerOptions[k]]));
  const again = {
    ...o,
    ...options,
    args: [s.labFile],
    name: s.instance,
    until: to,
    variant: s.variant,
    keep: true,
    provider: o.provider ?? s.provider,
  };
  const code = await lifecycle(again, 'up');
  if (code === EXIT.ok)
    console.log(`${s.instance}: reset to ${to ? `before step "${to}"` : 'the end of setup'} of ${lab.name}`);
  return code;
}
