// virtlab ci: pipelines for GitHub Actions (checked by GitHub's own workflow parser) and GitLab CI, a job per lab
// and target (or per shard), each keeping its report folder, and a merge job per lab.
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import test from 'ava';
import { parse } from 'yaml';
import { ciJobs, githubWorkflow, gitlabPipeline, targetFlags } from '../../src/cli/ci.ts';
import { loadTargets } from '../../src/cli/matrix.ts';
import { createProvider } from '../../src/providers/index.ts';

const targets = loadTargets('targets/kernels.yml');

test('a target as flags of virtlab run; a job per lab and target, or per shard', (t) => {
  t.deepEqual(targetFlags(targets[0]!), ['--provider', 'vm', '--kernel', 'linux-image-cloud-amd64']);
  const jobs = ciJobs(['kvm-macvtap', 'kvm-routed'], targets, 'targets/kernels.yml');
  t.deepEqual(
    jobs.map((j) => j.folder),
    ['kvm-macvtap__linux-6-1', 'kvm-macvtap__linux-6-12', 'kvm-routed__linux-6-1', 'kvm-routed__linux-6-12'],
  );
  t.deepEqual(jobs[1]!.args, [
    'run',
    'kvm-macvtap',
    '--provider',
    'vm',
    '--kernel',
    'linux-image-6.12-cloud-amd64',
    '--name',
    'ci1-linux-6-12',
  ]);
  // jobs that may share a runner never share an instance name
  t.deepEqual(
    jobs.map((j) => j.args.at(-1)),
    ['ci1-linux-6-1', 'ci1-linux-6-12', 'ci2-linux-6-1', 'ci2-linux-6-12'],
  );
  const sharded = ciJobs(['kvm-macvtap'], targets, 'targets/kernels.yml', 2);
  t.deepEqual(
    sharded.map((j) => j.args.join(' ')),
    [
      'matrix kvm-macvtap --targets targets/kernels.yml --shard 1/2',
      'matrix kvm-macvtap --targets targets/kernels.yml --shard 2/2',
    ],
  );
});

test('a target names the Debian suite its VM machines are built from; an unknown one is refused when the run starts', (t) => {
  const suites = loadTargets('targets/suites.yml');
  t.deepEqual(
    suites.map((x) => [x.name, targetFlags(x).join(' ')]),
    [
      ['bookworm', '--provider vm --image bookworm'],
      ['trixie', '--provider vm --image trixie'],
    ],
  );
  const e = t.throws(() => createProvider('vm', { image: 'sid' }));
  t.is(e?.message, 'no machine image "sid"');
});

test('GitLab: a parallel matrix of lab jobs keeping reports/<folder> (junit too), then a merge per lab', (t) => {
  const jobs = ciJobs(['kvm-macvtap'], targets, 'targets/kernels.yml');
  const p = parse(gitlabPipeline(['kvm-macvtap'], jobs));
  t.deepEqual(p.stages, ['lab', 'merge']);
  t.deepEqual(p.lab.parallel.matrix, [
    {
      FOLDER: 'kvm-macvtap__linux-6-1',
      ARGS: 'run kvm-macvtap --provider vm --kernel linux-image-cloud-amd64 --name ci1-linux-6-1',
    },
    {
      FOLDER: 'kvm-macvtap__linux-6-12',
      ARGS: 'run kvm-macvtap --provider vm --kernel linux-image-6.12-cloud-amd64 --name ci1-linux-6-12',
    },
  ]);
  t.is(p.lab.script.at(-1), 'npm run lab -- $ARGS --report-dir "reports/$FOLDER"');
  t.deepEqual(p.lab.artifacts, { when: 'always', paths: ['reports/'], reports: { junit: 'reports/*/junit.xml' } });
  t.is(p.merge.when, 'always');
  t.true(p.merge.script.includes('npm run lab -- merge by-lab/kvm-macvtap/* --report-dir merged/kvm-macvtap || true'));
});

test('GitHub: the same jobs as a strategy matrix; artifacts per job, downloaded by the merge job', (t) => {
  const jobs = ciJobs(['kvm-macvtap'], targets, 'targets/kernels.yml');
  const wf = parse(githubWorkflow(['kvm-macvtap'], jobs));
  t.deepEqual(
    wf.jobs.lab.strategy.matrix.include.map((x: { folder: string }) => x.folder),
    ['kvm-macvtap__linux-6-1', 'kvm-macvtap__linux-6-12'],
  );
  t.is(wf.jobs.merge.needs, 'lab');
  t.deepEqual(wf.jobs.lab['runs-on'], ['self-hosted', 'linux', 'kvm']);
});

test("GitHub's own workflow parser reads the generated workflow without an error, and does find one in a broken copy", async (t) => {
  const labs = ['kvm-macvtap', 'kvm-routed'];
  const content = githubWorkflow(labs, ciJobs(labs, targets, 'targets/kernels.yml', 2));
  const parse = (text: string) => parseWorkflow({ name: 'virtlab.yml', content: text }, new NoOperationTraceWriter());
  const parsed = parse(content);
  t.deepEqual(
    parsed.context.errors.getErrors().map((e) => e.message),
    [],
  );
  const wf = await convertWorkflowTemplate(parsed.context, parsed.value!);
  t.deepEqual(wf.errors ?? [], []);
  t.deepEqual(
    wf.jobs.map((j) => j.id.value),
    ['lab', 'merge'],
  );
  // the parser is not a rubber stamp: a job that needs one that does not exist, a key Actions does not know
  const errorsOf = async (text: string) => {
    const p = parse(text);
    await convertWorkflowTemplate(p.context, p.value!);
    return p.context.errors
      .getErrors()
      .map((e) => e.message)
      .join('\n');
  };
  t.regex(await errorsOf(content.replace('needs: lab', 'needs: labs')), /Job 'merge' depends on unknown job 'labs'/);
  t.regex(
    await errorsOf(content.replace('timeout-minutes: 90', 'timeout-minute: 90')),
    /Unexpected value 'timeout-minute'/,
  );
});
