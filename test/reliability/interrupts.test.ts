// SIGINT / SIGTERM in every stage: everything created is removed, the removals are shown, exit 4, a clean host.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { eventually, leftovers, orphanNamespaceProcesses } from '../helpers/host.ts';
import { startVirtlab } from '../helpers/spawn.ts';

const STAGES = ['preflight', 'up', 'provision', 'upload', 'setup', 'ready', 'assert'] as const;

for (const [i, stage] of STAGES.entries()) {
  test.serial(`SIGINT during ${stage}`, async (t) => {
    const name = `rel-int-${i}`;
    const run = startVirtlab(['run', 'kvm-macvtap', '--name', name]);
    await run.when((e) => e.type === 'stage-start' && e.stage === stage);
    // inside the stage, not at its very first instant, where a step is running
    if (stage === 'ready' || stage === 'assert') await new Promise((r) => setTimeout(r, 400));
    run.child.kill('SIGINT');
    const { code, stderr } = await run.done;
    t.is(code, 4, stderr);
    const start = run.events.find((e) => e.type === 'run-start');
    if (stage !== 'preflight') {
      t.truthy(
        run.events.find((e) => e.type === 'interrupted'),
        'the interrupt is reported',
      );
      t.true(
        run.events.some((e) => e.type === 'removed' && e.ok),
        'what was removed is reported',
      );
      t.is(run.events.find((e) => e.type === 'run-end')?.result, 'interrupted');
      t.true(
        run.events.some((e) => e.type === 'step-end' && e.id === 'leak-check' && e.status === 'ok'),
        'the leak check is clean',
      );
    }
    t.deepEqual(leftovers(name, start?.runId), []);
    t.deepEqual(orphanNamespaceProcesses(), []);
  });
}

test.serial('a second Ctrl-C during teardown does not stop the cleanup', async (t) => {
  const run = startVirtlab(['run', 'kvm-macvtap', '--name', 'rel-int-twice']);
  await run.when((e) => e.type === 'stage-start' && e.stage === 'ready');
  run.child.kill('SIGINT');
  await run.when((e) => e.type === 'stage-start' && e.stage === 'teardown');
  run.child.kill('SIGINT');
  const { code, stderr } = await run.done;
  t.is(code, 4);
  t.regex(stderr, /still removing what was created/);
  t.deepEqual(leftovers('rel-int-twice', run.events.find((e) => e.type === 'run-start').runId), []);
});

test.serial('SIGTERM during setup', async (t) => {
  const run = startVirtlab(['run', 'kvm-macvtap', '--name', 'rel-term']);
  await run.when((e) => e.type === 'stage-start' && e.stage === 'setup');
  run.child.kill('SIGTERM');
  const { code } = await run.done;
  t.is(code, 4);
  t.is(run.events.find((e) => e.type === 'interrupted')?.signal, 'SIGTERM');
  t.deepEqual(leftovers('rel-term', run.events.find((e) => e.type === 'run-start').runId), []);
});

test.serial(
  'a bug (an exception nothing caught) during setup: the trace is shown, everything is removed, exit 70',
  async (t) => {
    const run = startVirtlab(['run', 'kvm-macvtap', '--name', 'rel-bug'], { VIRTLAB_TEST_BUG_AT: 'setup' }, [
      '--import',
      './test/helpers/bug-at-stage.ts',
    ]);
    const { code, stderr } = await run.done;
    t.is(code, 70, stderr);
    t.regex(
      stderr,
      /virtlab: internal error \(a bug; please report it with this trace\):\nError: injected bug during setup\n\s+at /,
    );
    t.regex(stderr, /removing everything this run created/);
    t.true(
      run.events.some((e) => e.type === 'removed' && e.ok),
      'what was removed is reported',
    );
    t.true(
      run.events.some((e) => e.type === 'step-end' && e.id === 'leak-check' && e.status === 'ok'),
      'the leak check is clean',
    );
    t.deepEqual(leftovers('rel-bug', run.events.find((e) => e.type === 'run-start').runId), []);
    t.deepEqual(orphanNamespaceProcesses(), []);
  },
);

test.serial('SIGINT during a matrix: every target is torn down, exit 4, the table still written', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-mxint-'));
  writeFileSync(join(dir, 'targets.yml'), 'targets:\n  one: { provider: netns }\n  two: { provider: netns }\n');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'matrix',
      'kvm-macvtap',
      '--targets',
      join(dir, 'targets.yml'),
      '--report-dir',
      join(dir, 'mx'),
    ],
    { env: { ...process.env, NO_COLOR: '1' } },
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const done = new Promise<number | null>((res) => child.on('close', res));
  // both targets have machines up: their state files list a running init
  const up = await eventually(
    () =>
      ['mx-one', 'mx-two'].every((i) => {
        try {
          return JSON.parse(readFileSync(`/var/lib/virtlab/state/${i}.json`, 'utf8')).resources.some(
            (r: any) => r.kind === 'process' && r.proc,
          );
        } catch {
          return false;
        }
      }),
    60000,
  );
  t.true(up, out);
  child.kill('SIGINT');
  t.is(await done, 4, out);
  t.regex(out, /SIGINT: stopping; removing everything this run created/);
  t.regex(out, /one: interrupted/);
  t.regex(out, /two: interrupted/);
  t.true(existsSync(join(dir, 'mx', 'matrix.json')));
  t.deepEqual(leftovers('mx-one'), []);
  t.deepEqual(leftovers('mx-two'), []);
  t.deepEqual(orphanNamespaceProcesses(), []);
});

test.serial(
  'output nobody reads any more (virtlab run ... | head -3): the run still finishes and removes everything',
  async (t) => {
    // stdout and stderr are pipes whose reader goes away after the first lines, as with `| head -3`
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'run', 'kvm-macvtap', '--name', 'rel-epipe'],
      { env: { ...process.env, NO_COLOR: '1' } },
    );
    let seen = '';
    child.stdout.on('data', (d) => {
      seen += d;
      if (seen.includes('[up]')) {
        child.stdout.destroy();
        child.stderr.destroy();
      }
    });
    const started = Date.now();
    const code = await new Promise<number | null>((res) => child.on('close', res));
    t.is(code, 0, 'the lab ran to its end (it passes) instead of dying on EPIPE');
    t.true(Date.now() - started < 120000);
    t.deepEqual(leftovers('rel-epipe'), []);
    t.deepEqual(orphanNamespaceProcesses(), []);
  },
);

test.serial('Ctrl-C during a five-minute step over SSH stops it at once and tears down', async (t) => {
  const run = startVirtlab(['run', 'test/fixtures/labs/long-step.yml', '--name', 'rel-long']);
  await run.when((e) => e.type === 'step-start' && e.id === 'long', 120000);
  await new Promise((r) => setTimeout(r, 500));
  const sent = Date.now();
  run.child.kill('SIGINT');
  await run.when((e) => e.type === 'stage-start' && e.stage === 'teardown', 20000);
  t.true(Date.now() - sent < 3000, `the step stopped ${Date.now() - sent} ms after the interrupt`);
  const { code } = await run.done;
  t.is(code, 4);
  t.true(run.events.some((e) => e.type === 'step-end' && e.id === 'long' && e.status === 'failed'));
  t.deepEqual(leftovers('rel-long', run.events.find((e) => e.type === 'run-start').runId), []);
  t.deepEqual(orphanNamespaceProcesses(), []);
});
