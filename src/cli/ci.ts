// virtlab ci github|gitlab <lab>... --targets <file> [--shards N]: a pipeline for an existing CI engine (not a
// scheduler of our own). Each (lab, target) pair is a job running `virtlab run` (or, with --shards, each shard of
// each lab's targets a job running `virtlab matrix --shard`), keeping its report folder as an artifact; a final job
// runs `virtlab merge` per lab. Runners need KVM-capable Linux as root (self-hosted): see docs/regression.md.
import { writeFileSync } from 'node:fs';
import { basename, relative } from 'node:path';
import { stringify } from 'yaml';
import { EXIT, UsageError } from '../errors.ts';
import { loadLab } from '../lab/load.ts';
import { providerDef } from '../providers/index.ts';
import type { Options } from './args.ts';
import { loadTargets, type Target } from './matrix.ts';

export interface CiJob {
  lab: string;
  /** the report folder's name under reports/: <lab>__<target> or <lab>__shard-<i> */
  folder: string;
  /** virtlab's arguments after `npm run lab --` */
  args: string[];
}

/** A target's provider and options as command-line flags (files relative to the current folder, as jobs run there). */
export function targetFlags(t: Target, cwd = process.cwd()): string[] {
  const def = providerDef(t.provider);
  const flags = ['--provider', t.provider];
  for (const o of def.options) {
    const v = t.options[o.key];
    if (v !== undefined) flags.push(o.flag, o.file ? relative(cwd, v) || '.' : v);
  }
  if (t.variant) flags.push('--variant', t.variant);
  return flags;
}

/** A lab's name as the folders name it: a lab of the project by its name, a file by its base name. */
export function labName(lab: string): string {
  return basename(lab).replace(/\.ya?ml$/, '');
}

export function ciJobs(labs: string[], targets: Target[], targetsFile: string, shards?: number): CiJob[] {
  return labs.flatMap((lab, l) =>
    shards
      ? Array.from({ length: shards }, (_, k) => ({
          lab,
          folder: `${labName(lab)}__shard-${k + 1}`,
          args: ['matrix', lab, '--targets', targetsFile, '--shard', `${k + 1}/${shards}`],
        }))
      : targets.map((t) => ({
          lab,
          folder: `${labName(lab)}__${t.name}`,
          // a runner may run several jobs at once: each instance gets its own name (the lab's would collide)
          args: ['run', lab, ...targetFlags(t), '--name', `ci${l + 1}-${t.name}`],
        })),
  );
}

/** Report folders of every job, grouped by lab under by-lab/<lab>/<target or shard>, then one merge per lab. */
function mergeScript(labs: string[]): string[] {
  return [
    'mkdir -p by-lab merged',
    // a job's folder is <lab>__<target>: the column of the merged matrix is <target>
    `for d in reports/*__*; do [ -d "$d" ] || continue; n=\${d#reports/}; mkdir -p "by-lab/\${n%%__*}"; cp -r "$d" "by-lab/\${n%%__*}/\${n#*__}"; done`,
    ...labs.map(labName).map((n) => `npm run lab -- merge by-lab/${n}/* --report-dir merged/${n} || true`),
  ];
}

/** A GitHub Actions expression: ${{ expr }} */
const gh = (expr: string) => `\${{ ${expr} }}`;

const HEADER = (labs: string[]) =>
  `# Written by: virtlab ci ... ${labs.join(' ')} (regenerate it rather than editing it by hand)\n`;

export function githubWorkflow(labs: string[], jobs: CiJob[]): string {
  const wf = {
    name: `virtlab ${labs.join(', ')}`,
    on: { workflow_dispatch: {}, schedule: [{ cron: '0 3 * * *' }] },
    jobs: {
      lab: {
        name: gh('matrix.folder'),
        // KVM-capable Linux with root: a self-hosted runner (hosted runners lack nested virtualisation)
        'runs-on': ['self-hosted', 'linux', 'kvm'],
        'timeout-minutes': 90,
        strategy: {
          'fail-fast': false,
          matrix: { include: jobs.map((j) => ({ folder: j.folder, args: j.args.join(' ') })) },
        },
        steps: [
          { uses: 'actions/checkout@v4' },
          { run: 'sudo bash scripts/install-deps.sh' },
          { run: `sudo npm run lab -- ${gh('matrix.args')} --report-dir reports/${gh('matrix.folder')}` },
          {
            uses: 'actions/upload-artifact@v4',
            if: 'always()',
            with: { name: gh('matrix.folder'), path: `reports/${gh('matrix.folder')}` },
          },
        ],
      },
      merge: {
        needs: 'lab',
        if: 'always()',
        'runs-on': 'ubuntu-latest',
        steps: [
          { uses: 'actions/checkout@v4' },
          { uses: 'actions/setup-node@v4', with: { 'node-version': 20 } },
          { run: 'npm ci' },
          { uses: 'actions/download-artifact@v4', with: { path: 'reports' } },
          { run: mergeScript(labs).join('\n') },
          { uses: 'actions/upload-artifact@v4', if: 'always()', with: { name: 'merged', path: 'merged' } },
        ],
      },
    },
  };
  return HEADER(labs) + stringify(wf, { lineWidth: 0 });
}

export function gitlabPipeline(labs: string[], jobs: CiJob[]): string {
  const p = {
    stages: ['lab', 'merge'],
    lab: {
      stage: 'lab',
      tags: ['kvm'],
      timeout: '90m',
      parallel: { matrix: jobs.map((j) => ({ FOLDER: j.folder, ARGS: j.args.join(' ') })) },
      script: ['bash scripts/install-deps.sh', 'npm run lab -- $ARGS --report-dir "reports/$FOLDER"'],
      artifacts: { when: 'always', paths: ['reports/'], reports: { junit: 'reports/*/junit.xml' } },
    },
    merge: {
      stage: 'merge',
      when: 'always',
      // a shell runner may keep node_modules between jobs: installed only when missing or older than the lock file
      script: [
        '[ -d node_modules ] && [ ! package-lock.json -nt node_modules/.package-lock.json ] || npm ci --no-audit --no-fund',
        ...mergeScript(labs),
      ],
      artifacts: { when: 'always', paths: ['merged/'] },
    },
  };
  return HEADER(labs) + stringify(p, { lineWidth: 0 });
}

export function commandCi(o: Options): number {
  const [engine, ...labs] = o.args;
  if (engine !== 'github' && engine !== 'gitlab')
    throw new UsageError(`no CI engine "${engine}"`, 'virtlab ci github|gitlab <lab>... --targets <file>');
  if (!labs.length || !o.targets)
    throw new UsageError('ci needs labs and a targets file', `virtlab ci ${engine} kvm-macvtap --targets targets.yml`);
  for (const lab of labs) loadLab(lab); // every lab must be valid before a pipeline names it
  const twice = labs.find((l, i) => labs.findIndex((m) => labName(m) === labName(l)) !== i);
  if (twice) throw new UsageError(`two labs are named ${labName(twice)}: their report folders would collide`);
  const targets = loadTargets(o.targets);
  const shards = o.shards === undefined ? undefined : Number(o.shards);
  if (shards !== undefined && !(Number.isInteger(shards) && shards >= 1 && shards <= targets.length))
    throw new UsageError(`--shards ${o.shards} must be a whole number from 1 to ${targets.length} (the targets)`);
  const jobs = ciJobs(labs, targets, relative(process.cwd(), o.targets) || o.targets, shards);
  const text = engine === 'github' ? githubWorkflow(labs, jobs) : gitlabPipeline(labs, jobs);
  if (o.out) {
    writeFileSync(o.out, text);
    console.log(`wrote ${o.out}: ${jobs.length} lab job(s) and a merge job`);
  } else process.stdout.write(text);
  return EXIT.ok;
}
