// The GitLab pipeline `virtlab ci gitlab` writes, run for real by gitlab-ci-local (shell executor) in a copy of this
// project: two lab jobs on namespace machines (a target that passes, one that fails) and the merge job, whose
// matrix holds both columns. Nothing is mocked: the jobs run install-deps, `virtlab run` and `virtlab merge`.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import test from 'ava';
import { parse } from 'yaml';
import { leftovers } from '../helpers/host.ts';

const ROOT = resolve('.');

/** What a runner checks out: this project's files as they are now, in a git repository of their own. */
function checkout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-gitlab-'));
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT });
  execFileSync('tar', ['--null', '-T', '-', '-cf', join(dir, '.src.tar')], { cwd: ROOT, input: files });
  execFileSync('tar', ['-xf', '.src.tar'], { cwd: dir });
  rmSync(join(dir, '.src.tar'));
  // the dependencies are this project's: linked, and never older than the lock file (install-deps would run npm ci)
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  utimesSync(join(dir, 'package-lock.json'), new Date(0), new Date(0));
  const git = (...a: string[]) =>
    execFileSync('git', ['-c', 'user.name=virtlab test', '-c', 'user.email=test@virtlab.invalid', ...a], { cwd: dir });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'checkout');
  return dir;
}

test.serial('the generated GitLab pipeline runs in gitlab-ci-local: two lab jobs and the merge job', (t) => {
  const dir = checkout();
  try {
    writeFileSync(
      join(dir, 'targets.yml'),
      'targets:\n  t-good: { provider: netns, variant: good }\n  t-bad: { provider: netns, variant: bad }\n',
    );
    const gen = spawnSync(
      'npx',
      ['tsx', 'src/cli/main.ts', 'ci', 'gitlab', 'test/fixtures/labs/flip.yml', '--targets', 'targets.yml'],
      { cwd: dir, encoding: 'utf8' },
    );
    t.is(gen.status, 0, gen.stderr);
    writeFileSync(join(dir, '.gitlab-ci.yml'), gen.stdout);
    const jobs = parse(gen.stdout).lab.parallel.matrix.map((m: { ARGS: string }) => m.ARGS);
    t.deepEqual(jobs, [
      'run test/fixtures/labs/flip.yml --provider netns --variant good --name ci1-t-good',
      'run test/fixtures/labs/flip.yml --provider netns --variant bad --name ci1-t-bad',
    ]);

    const gcl = spawnSync(join(ROOT, 'node_modules', '.bin', 'gitlab-ci-local'), ['--no-color'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 600_000,
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    const out = `${gcl.stdout}\n${gcl.stderr}`;
    // the failing target fails its job, so the pipeline fails; the merge job runs all the same (when: always)
    t.not(gcl.status, 0, out);
    t.regex(out, /lab: \[flip__t-good/, 'the passing job ran');
    t.regex(out, /lab: \[flip__t-bad/, 'the failing job ran');
    t.regex(out, /merge .*starting shell/, 'the merge job ran');

    // each lab job kept its report folder; the merge job made the whole matrix from them
    for (const f of ['flip__t-good', 'flip__t-bad'])
      t.true(existsSync(join(dir, 'reports', f, 'report.json')), `reports/${f}/report.json`);
    const matrix = JSON.parse(readFileSync(join(dir, 'merged', 'flip', 'matrix.json'), 'utf8'));
    t.deepEqual(matrix.assertions, [{ id: 'works', results: { 't-good': 'pass', 't-bad': 'fail' } }]);
    t.regex(readFileSync(join(dir, 'merged', 'flip', 'junit.xml'), 'utf8'), /<failure/);
    t.true(existsSync(join(dir, 'merged', 'flip', 'matrix.html')));
    // every job's instance is gone
    t.deepEqual([...leftovers('ci1-t-good'), ...leftovers('ci1-t-bad')], []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
