// virtlab matrix (one lab on several targets) and virtlab diff (what changed between two runs).
import { mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { EXIT, UsageError } from '../errors.ts';
import { readConfig, vmSlotCount } from '../host/config.ts';
import { home } from '../host/home.ts';
import { claimReportDir } from '../host/report-dir.ts';
import { loadLab } from '../lab/load.ts';
import type { Lab } from '../lab/model.ts';
import { providerDef } from '../providers/index.ts';
import type { ProviderOptions } from '../providers/port.ts';
import type { Baseline } from '../report/baseline.ts';
import { createConsoleReporter } from '../report/console.ts';
import { diffHostState, stateDiffText } from '../report/host-state.ts';
import { diffReports, diffText, type MatrixColumn, matrixJson, matrixText } from '../report/matrix.ts';
import { runWithRetry } from '../runner/retry.ts';
import type { Options } from './args.ts';
import { baselineFor } from './baseline.ts';
import { interrupts } from './interrupts.ts';
import { matrixExit, writeMatrixFiles } from './matrix-files.ts';
import { readHostState, readReport } from './read-report.ts';

export interface Target {
  name: string;
  provider: string;
  /** the provider's own options (inventory, kernel) */
  options: ProviderOptions;
  /** a variant of the lab this target runs (a synthetic change along an ordered list of targets) */
  variant?: string;
}

const OPTION_VALUE = /^[A-Za-z0-9_./+-][A-Za-z0-9_./+ -]{0,199}$/;

export function loadTargets(file: string): Target[] {
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, 'utf8'), { maxAliasCount: 100 });
  } catch (e) {
    throw new UsageError(`cannot read targets file ${file}: ${(e as Error).message}`);
  }
  const targets = (raw as { targets?: Record<string, Record<string, unknown>> } | null)?.targets;
  const entries = Object.entries(targets && typeof targets === 'object' ? targets : {});
  if (!entries.length) {
    throw new UsageError(
      `targets file ${file} lists no targets`,
      'targets:\n  name: { provider: ssh, inventory: hosts.yml }',
    );
  }
  return entries.map(([name, t]) => {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name) || name.length > 16) {
      throw new UsageError(`target name "${name}" must be lowercase letters, digits and "-", at most 16 characters`);
    }
    const provider = String(t?.provider ?? 'netns');
    const def = providerDef(provider);
    const known = ['provider', 'variant', ...def.options.map((x) => x.key)];
    for (const k of Object.keys(t ?? {})) {
      if (!known.includes(k))
        throw new UsageError(`target ${name}: unknown field "${k}"`, `a ${provider} target takes: ${known.join(', ')}`);
    }
    const options: ProviderOptions = {};
    for (const opt of def.options) {
      const v = t?.[opt.key];
      if (v === undefined) continue;
      if (typeof v !== 'string' || !OPTION_VALUE.test(v))
        throw new UsageError(`target ${name}: ${opt.key} must be ${opt.value}`, opt.help);
      options[opt.key] = opt.file && !isAbsolute(v) ? join(dirname(resolve(file)), v) : v;
    }
    const variant = t?.variant;
    if (variant !== undefined && (typeof variant !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(variant)))
      throw new UsageError(`target ${name}: variant must be a variant name of the lab`);
    return { name, provider, options, ...(variant ? { variant } : {}) };
  });
}

/**
 * Targets that share a host must not run at the same time. Nor may more VM targets than this host's cores carry:
 * TCG VMs booting side by side on two cores took over twice as long each (and their pings timed out).
 */
export function waves(targets: Target[], cores = availableParallelism(), hostsOf = targetHosts): Target[][] {
  const slots = vmSlotCount(readConfig().vmSlots, cores);
  const out: { targets: Target[]; hosts: Set<string>; vms: number }[] = [];
  for (const t of targets) {
    const hs = hostsOf(t);
    const vm = providerDef(t.provider).bootsVms?.(t.options) ? 1 : 0;
    const w = out.find((x) => !hs.some((h) => x.hosts.has(h)) && x.vms + vm <= slots);
    if (w) {
      w.targets.push(t);
      w.vms += vm;
      for (const h of hs) w.hosts.add(h);
    } else out.push({ targets: [t], hosts: new Set(hs), vms: vm });
  }
  return out.map((w) => w.targets);
}

function targetHosts(t: Target): string[] {
  return providerDef(t.provider).exclusive?.(t.options) ?? [];
}

const quiet = createConsoleReporter({ color: false, tty: false, verbose: false, write: () => {} });

export async function runTarget(
  labOfFile: Lab,
  t: Target,
  reportDir: string,
  signal: AbortSignal,
  baseline?: Baseline,
): Promise<MatrixColumn> {
  // a target may run a variant of the lab: checked here (an unknown variant is that target's error)
  let lab = labOfFile;
  try {
    if (t.variant) lab = loadLab(labOfFile.file, undefined, t.variant);
  } catch (e) {
    return { target: t.name, error: oneLine((e as Error).message) };
  }
  const opts = Object.entries(t.options)
    .map(([k, v]) => `, ${k} ${v}`)
    .join('');
  process.stdout.write(
    `${t.name}: running ${lab.name}${t.variant ? `, variant ${t.variant}` : ''} (${t.provider}${opts})\n`,
  );
  try {
    const out = await runWithRetry(
      lab,
      {
        mode: 'run',
        provider: t.provider,
        providerOptions: t.options,
        reportDir,
        keep: false,
        skip: [],
        name: `mx-${t.name}`,
        collect: 'on-failure',
        readyTimeoutMs: readConfig().readyTimeoutMs,
        baseline,
      },
      quiet,
      signal,
    );
    process.stdout.write(`${t.name}: ${out.result}\n`);
    return { target: t.name, report: JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8')) };
  } catch (e) {
    const msg = oneLine((e as Error).message);
    process.stdout.write(`${t.name}: error: ${msg}\n`);
    return { target: t.name, error: msg };
  }
}

/** The targets of shard i of n (1-based): the i-th, (i+n)-th, ... in the file's order; all without a shard. */
export function shardOf<T>(targets: T[], spec: string | undefined): T[] {
  if (spec === undefined) return targets;
  const m = /^(\d+)\/(\d+)$/.exec(spec);
  const i = Number(m?.[1]);
  const n = Number(m?.[2]);
  if (!m || n < 1 || i < 1 || i > n)
    throw new UsageError(`--shard ${spec} is not i/n with 1 <= i <= n`, 'e.g. --shard 2/3: the second of three shards');
  const mine = targets.filter((_, k) => k % n === i - 1);
  if (!mine.length)
    throw new UsageError(
      `shard ${spec} has no targets (the file lists ${targets.length})`,
      `use at most ${targets.length} shards`,
    );
  return mine;
}

export async function commandMatrix(o: Options): Promise<number> {
  if (o.args.length !== 1 || !o.targets)
    throw new UsageError('matrix needs a lab and a targets file', 'virtlab matrix <lab> --targets targets.yml');
  const lab = loadLab(o.args[0]!, undefined, o.variant);
  const baseline = baselineFor(o.baseline, lab);
  const targets = shardOf(loadTargets(o.targets), o.shard);
  const dir = o.reportDir ?? join(home().runs, `matrix-${lab.name}-${Date.now().toString(36)}`);
  claimReportDir(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const cols: MatrixColumn[] = [];
  const { signal, dispose, exitCode: stopped } = interrupts();
  try {
    for (const wave of waves(targets)) {
      if (signal.aborted) break;
      cols.push(...(await Promise.all(wave.map((t) => runTarget(lab, t, join(dir, t.name), signal, baseline)))));
    }
  } finally {
    dispose();
  }
  cols.sort((a, b) => targets.findIndex((t) => t.name === a.target) - targets.findIndex((t) => t.name === b.target));
  writeMatrixFiles(dir, lab.name, cols);
  if (o.json) console.log(JSON.stringify(matrixJson(lab.name, cols), null, 2));
  else
    process.stdout.write(
      `\n${matrixText(lab.name, cols)}report: ${dir} (matrix.md, matrix.json, matrix.html, junit.xml, one folder per target)\n`,
    );
  return stopped() ?? matrixExit(cols);
}

export function commandDiff(o: Options): number {
  if (o.args.length !== 2)
    throw new UsageError(
      'diff needs two reports',
      'virtlab diff <report-a> <report-b>   (report.json files or their folders)',
    );
  const d = diffReports(readReport(o.args[0]!), readReport(o.args[1]!));
  const [sa, sb] = [readHostState(o.args[0]!), readHostState(o.args[1]!)];
  const state = sa && sb ? diffHostState(sa, sb) : undefined;
  if (o.json) console.log(JSON.stringify({ ...d, ...(state ? { hostState: state } : {}) }, null, 2));
  else {
    process.stdout.write(diffText(d, o.args[0]!, o.args[1]!));
    if (!state) console.log('host state: not kept by both runs (host-state.json, from a run that reached its checks)');
    else if (!state.length) console.log('host state: the same');
    else console.log(['host state that differs:', ...stateDiffText(state)].join('\n'));
  }
  return d.flipped.length ? EXIT.assertion : EXIT.ok;
}

/** A multi-line error (a preflight's list of problems) as one line for the table. */
function oneLine(message: string): string {
  const s = message
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
  return s.length > 300 ? `${s.slice(0, 297)}...` : s;
}
