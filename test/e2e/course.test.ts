// Course mode, played by a student on kvm-macvtap: the lab is handed over before net-define, the student does the
// rest by hand through `virtlab ssh`, forgets promisc, gets a partial score with the promisc hint, fixes it, passes.

import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { stepCommands } from '../../src/kinds/steps/index.ts';
import { loadLab } from '../../src/lab/load.ts';
import { variedParams } from '../../src/lab/variants.ts';
import { eventually, leftovers, orphanNamespaceProcesses, virtlab } from '../helpers/host.ts';

test.serial('a student does the lab by hand and is graded', async (t) => {
  const up = virtlab(['up', 'kvm-macvtap', '--until', 'net-define', '--name', 'e2e-student']);
  t.is(up.code, 0, up.out);
  t.regex(up.stdout, /Exercise: Give the CirrOS guest on kvm-01 a macvtap connection to the LAN/);
  // the steps left, with the lab's own numbers, and no command that would give the exercise away
  t.regex(up.stdout, /^2\. \[net-define\] define libvirt network "macvtap-net"/m);
  t.regex(up.stdout, /^4\. \[promisc\] promiscuous mode on for eth1 on kvm-01/m);
  t.notRegex(up.stdout, /\$ virsh|promisc on/);
  t.regex(up.stdout, /virtlab check e2e-student/);
  const runId = JSON.parse(readFileSync('/var/lib/virtlab/state/e2e-student.json', 'utf8')).runId;
  try {
    // the setup stopped before net-define: no libvirt network yet, but the XML and the image are on kvm-01
    t.notRegex(
      virtlab(['ssh', 'e2e-student', 'kvm-01', '--', 'virsh', 'net-list', '--all', '--name']).stdout,
      /macvtap-net/,
    );
    t.is(virtlab(['ssh', 'e2e-student', 'kvm-01', '--', 'test', '-f', '/root/lab/kvm-macvtap/macvtap.xml']).code, 0);
    // the student types the walkthrough's commands, except promisc
    const lab = loadLab('kvm-macvtap');
    for (const id of ['net-define', 'net-start', 'guest']) {
      for (const argv of stepCommands(lab.steps.find((s) => s.id === id)!)) {
        const r = virtlab(['ssh', 'e2e-student', 'kvm-01', '--', ...argv]);
        t.is(r.code, 0, `${argv.join(' ')}: ${r.out}`);
      }
    }
    await new Promise((r) => setTimeout(r, 8000)); // the guest boots and asks for an address in vain
    const dir = mkdtempSync(join(tmpdir(), 'virtlab-course-'));
    const c1 = virtlab(['check', 'e2e-student', '--report-dir', dir]);
    t.is(c1.code, 1, c1.out);
    t.regex(
      c1.stdout,
      /FAIL lease: guest cirros holds a DHCP lease\n.*\n\s+hint: The guest got no address\. Is eth1 on kvm-01 promiscuous \(step `promisc`\)\?/,
    );
    t.regex(
      c1.stdout,
      /FAIL link-promisc: eth1 on kvm-01 is promiscuous\n.*\n\s+hint: Run `ip link set eth1 promisc on` on kvm-01/,
    );
    const r1 = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    t.true(r1.score.points > 0 && r1.score.points < r1.score.max, JSON.stringify(r1.score));
    t.is(r1.score.max, 13);
    t.regex(c1.stdout, new RegExp(`score ${r1.score.points}/13`));
    // the score as numbers for a grading script
    const j = virtlab(['check', 'e2e-student', '--json'])
      .stdout.split('\n')
      .filter((l) => l.startsWith('{'));
    t.is(JSON.parse(j.find((l) => l.includes('"run-end"'))!).score.max, 13);
    t.true(existsSync(join(dir, 'junit.xml')));
    // the student remembers step 4
    t.is(virtlab(['ssh', 'e2e-student', 'kvm-01', '--', 'ip', 'link', 'set', 'eth1', 'promisc', 'on']).code, 0);
    let last = '';
    t.true(
      await eventually(() => {
        const c = virtlab(['check', 'e2e-student', '--report-dir', dir]);
        last = c.out;
        return c.code === 0;
      }, 45000),
      last,
    );
    t.regex(last, /score 13\/13/);
    t.deepEqual(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).score, { points: 13, max: 13 });
    // reset brings the lab back to where the exercise starts
    t.regex(last, /checkpoint 1 uplink: 1\/1 checks, done/);
    t.regex(last, /checkpoint 2 guest: 3\/3 checks, done/);
    const rs = virtlab(['reset', 'e2e-student', '--to-checkpoint', 'uplink']);
    t.is(rs.code, 0, rs.out);
    t.regex(rs.stdout, /e2e-student: reset to before step "net-define"/);
    t.is(virtlab(['ssh', 'e2e-student', 'kvm-01', '--', 'virsh', 'list', '--all', '--name']).stdout.trim(), '');
  } finally {
    const state = existsSync('/var/lib/virtlab/state/e2e-student.json')
      ? JSON.parse(readFileSync('/var/lib/virtlab/state/e2e-student.json', 'utf8')).runId
      : runId;
    t.is(virtlab(['down', 'e2e-student']).code, 0);
    t.deepEqual(leftovers('e2e-student', state), []);
  }
  t.deepEqual(leftovers('e2e-student', runId), []);
  t.deepEqual(orphanNamespaceProcesses(), []);
});

test('explain prints every step with its exact command and why', (t) => {
  const r = virtlab(['explain', 'kvm-macvtap']);
  t.is(r.code, 0);
  t.regex(
    r.stdout,
    /4\. \[promisc\] promiscuous mode on for eth1 on kvm-01\n\s+why: This step is very important! \(the original README\)\n\s+on kvm-01:\n\s+\$ ip link set dev eth1 promisc on/,
  );
  t.regex(r.stdout, /\$ virt-install --name cirros --memory 128 .*--virt-type qemu --import/);
  t.regex(r.stdout, /\[ping-remote\] remote-01 can ping cirros \(3 points\)/);
});

test.serial(
  'break-fix: up --break puts a fault drawn for the student into the lab; check fails, the fix passes',
  async (t) => {
    const up = virtlab(['up', 'kvm-macvtap', '--break', '--name', 'e2e-bf']);
    t.is(up.code, 0, up.out);
    const state = JSON.parse(readFileSync('/var/lib/virtlab/state/e2e-bf.json', 'utf8'));
    try {
      t.regex(up.stdout, /Break-fix: 1 fault was put into this lab\. Find it and fix it/);
      t.notRegex(up.stdout, /leaves promiscuous mode|goes down/, 'the student is not told which');
      t.is(state.faults.length, 1);
      const fault: string = state.faults[0];
      t.regex(fault, /^eth1 of kvm-01 (leaves promiscuous mode|goes down)$/);
      const c1 = virtlab(['check', 'e2e-bf']);
      t.is(c1.code, 1, c1.out);
      t.regex(c1.stdout, /FAIL ping-remote: remote-01 can ping cirros/);
      t.regex(c1.stdout, /hint: /);
      // the student finds it and repairs it
      const fix = /promiscuous/.test(fault) ? ['promisc', 'on'] : ['up'];
      t.is(virtlab(['ssh', 'e2e-bf', 'kvm-01', '--', 'ip', 'link', 'set', 'dev', 'eth1', ...fix]).code, 0);
      let last = '';
      t.true(
        await eventually(() => {
          const c = virtlab(['check', 'e2e-bf']);
          last = c.out;
          return c.code === 0;
        }, 45000),
        last,
      );
    } finally {
      t.is(virtlab(['down', 'e2e-bf']).code, 0);
      t.deepEqual(leftovers('e2e-bf', state.runId), []);
    }
  },
);

test.serial('a class of three: up --class, check --all (table, CSV, a junit per student), down --class', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-class-'));
  const list = join(dir, 'students.txt');
  writeFileSync(list, 'e2e-ann\ne2e-ben\ne2e-cat\n');
  const handout = join(dir, 'handout');
  const up = virtlab(['up', 'kvm-macvtap', '--class', list, '--handout', handout], { timeoutMs: 600000 });
  const runIds = ['e2e-ann', 'e2e-ben', 'e2e-cat'].map((n) =>
    existsSync(`/var/lib/virtlab/state/${n}.json`)
      ? JSON.parse(readFileSync(`/var/lib/virtlab/state/${n}.json`, 'utf8')).runId
      : '',
  );
  try {
    t.is(up.code, 0, up.out);
    t.regex(up.stdout, /class of 3: 3 up/);
    // ben breaks his lab
    t.is(virtlab(['ssh', 'e2e-ben', 'kvm-01', '--', 'ip', 'link', 'set', 'dev', 'eth1', 'promisc', 'off']).code, 0);
    // each student's key opens only their own machines
    const ann = JSON.parse(readFileSync('/var/lib/virtlab/state/e2e-ann.json', 'utf8'));
    const ben = JSON.parse(readFileSync('/var/lib/virtlab/state/e2e-ben.json', 'utf8'));
    const benKvm = ben.machines.find((m: any) => m.name === 'kvm-01').address;
    const cross = spawnSync(
      'ssh',
      [
        '-i',
        ann.keyFile,
        '-o',
        'BatchMode=yes',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'IdentitiesOnly=yes',
        `root@${benKvm}`,
        'true',
      ],
      { encoding: 'utf8', timeout: 30000 },
    );
    t.not(cross.status, 0, "ann's key is refused by ben's kvm-01");
    t.regex(cross.stderr, /Permission denied/);
    // ann's hand-out, given to an account of her own (here: nobody), reaches her machines without root
    t.regex(up.stdout, /e2e-ann's hand-out: .*\/handout\/e2e-ann\/ssh_config/);
    chmodSync(dir, 0o755);
    chmodSync(handout, 0o755);
    execFileSync('chown', ['-R', 'nobody', join(handout, 'e2e-ann')]);
    const own = spawnSync(
      'runuser',
      ['-u', 'nobody', '--', 'ssh', '-F', join(handout, 'e2e-ann', 'ssh_config'), 'kvm-01', 'hostname'],
      { encoding: 'utf8', timeout: 30000 },
    );
    t.is(own.stdout.trim(), 'kvm-01', own.stderr);
    const grades = join(dir, 'grades');
    const c = virtlab(['check', 'kvm-macvtap', '--class', list, '--report-dir', grades], { timeoutMs: 300000 });
    t.is(c.code, 1, c.out);
    t.regex(c.stdout, /^student +stage +score +checks +failing$/m);
    t.regex(c.stdout, /^e2e-ann +2\/2 +13\/13 +10\/10 +-$/m);
    t.regex(c.stdout, /^e2e-ben +0\/2 +\d+\/13 +\d+\/10 +.*ping-remote/m);
    t.regex(c.stdout, /^e2e-cat +2\/2 +13\/13 +10\/10 +-$/m);
    t.regex(readFileSync(join(grades, 'class.csv'), 'utf8'), /^e2e-ann,2\/2,13,13,10,10,$/m);
    for (const n of ['e2e-ann', 'e2e-ben', 'e2e-cat'])
      t.regex(
        readFileSync(join(grades, n, 'junit.xml'), 'utf8'),
        new RegExp(`<testsuite name="kvm-macvtap \\(${n}\\)"`),
      );
  } finally {
    t.is(virtlab(['down', '--class', list]).code, 0);
    for (const [i, n] of ['e2e-ann', 'e2e-ben', 'e2e-cat'].entries()) t.deepEqual(leftovers(n, runIds[i]!), []);
  }
});

test.serial('per-student values: two students draw different subnets, both labs pass with their own', async (t) => {
  const lab = 'test/fixtures/labs/varied.yml';
  const vary = { net: ['110', '120', '130', '140', '150'] };
  const candidates = ['e2e-stu-a', 'e2e-stu-b', 'e2e-stu-c', 'e2e-stu-d', 'e2e-stu-e'];
  const first = candidates[0]!;
  const second = candidates.find((n) => variedParams(vary, n).net !== variedParams(vary, first).net)!;
  const ids: string[] = [];
  try {
    for (const name of [first, second]) {
      const net = variedParams(vary, name).net!;
      t.regex(virtlab(['explain', lab, '--name', name]).stdout, new RegExp(`^${name}'s values: net=${net}$`, 'm'));
      const up = virtlab(['up', lab, '--name', name]);
      t.is(up.code, 0, up.out);
      ids.push(JSON.parse(readFileSync(`/var/lib/virtlab/state/${name}.json`, 'utf8')).runId);
      let out = '';
      t.true(
        await eventually(() => {
          const c = virtlab(['check', name]);
          out = c.out;
          return c.code === 0;
        }, 45000),
        out,
      );
      t.regex(out, new RegExp(`holds 192\\.168\\.${net}\\.\\d+ from the DHCP server of lan`));
    }
  } finally {
    for (const [i, name] of [first, second].entries()) {
      virtlab(['down', name]);
      if (ids[i]) t.deepEqual(leftovers(name, ids[i]!), []);
    }
  }
});
