// Day two on a kept kvm-macvtap, end to end on real components: --verbose shows the commands, status shows the
// guest, ssh-config works with plain ssh, exec runs everywhere, console talks to the guest, capture sees its DHCP and
// ICMP, runs and prune; and the command line itself (per-command help, suggestions, completion).

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { leftovers, virtlab } from '../helpers/host.ts';

const NAME = 'e2e-day2';
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

/** virtlab with bytes on stdin (the console), stdout kept as bytes (pcap). */
function virtlabIn(args: string[], input: Buffer | string, timeout = 60000) {
  return spawnSync(process.execPath, [...CLI, ...args], { input, timeout, env: { ...process.env, NO_COLOR: '1' } });
}

test.serial('the command line: help per command, suggestions for typos, completion', (t) => {
  const run = virtlab(['run', '--help']);
  const ssh = virtlab(['ssh', '--help']);
  t.is(run.code, 0);
  t.not(run.stdout, ssh.stdout);
  t.regex(run.stdout, /--until <step-id>/);
  t.is(virtlab(['help', 'run']).stdout, run.stdout);
  t.regex(virtlab(['lsit']).stderr, /unknown command "lsit"; did you mean "list"\?/);
  const typo = virtlab(['run', 'kvm-macvtp']);
  t.is(typo.code, 2);
  t.regex(typo.stderr, /no lab named "kvm-macvtp"; did you mean "kvm-macvtap"\?/);
  t.regex(virtlab(['--version']).stdout, /^virtlab \d+\.\d+\.\d+/);
  const bash = virtlab(['completion', 'bash']).stdout;
  const loaded = spawnSync('bash', ['-c', `${bash}\ncomplete -p virtlab`], { encoding: 'utf8' });
  t.regex(loaded.stdout, /complete -o default -F _virtlab virtlab/);
});

test.serial('day two on a kept lab: verbose, status, ssh-config, exec, console, capture, runs, prune', async (t) => {
  const up = virtlab(['run', 'kvm-macvtap', '--keep', '--name', NAME, '--verbose']);
  t.is(up.code, 0, up.out);
  try {
    // --verbose: the exact virt-install line, with its machine and exit code
    t.regex(
      up.stdout,
      /kvm-01\$ virt-install --name cirros --memory 128 .* --network network=macvtap-net,mac=52:54:00:ff:55:d1,model=virtio .* -> exit 0/,
    );
    t.regex(up.stdout, /report: \/var\/lib\/virtlab\/runs\/e2e-day2-[0-9a-f]{6}\/report\.html/);

    const st = virtlab(['status', NAME]);
    t.regex(st.stdout, /guests:\n {4}cirros +on kvm-01 +192\.168\.100\.\d+ +52:54:00:ff:55:d1 +macvtap-net +leased/);
    t.regex(st.stdout, /macvtap-net on kvm-01 \(libvirt, bridge on eth1\)/);
    const js = JSON.parse(virtlab(['status', NAME, '--json']).stdout)[0];
    t.is(js.guests[0].mac, '52:54:00:ff:55:d1');
    t.regex(js.guests[0].ip, /^192\.168\.100\.\d+$/);

    // plain ssh with the config virtlab writes
    const conf = join(mkdtempSync(join(tmpdir(), 'virtlab-day2-')), 'ssh.conf');
    writeFileSync(conf, virtlab(['ssh-config', NAME]).stdout);
    t.is(execFileSync('ssh', ['-F', conf, `${NAME}-remote-01`, 'hostname'], { encoding: 'utf8' }).trim(), 'remote-01');

    const ex = virtlab(['exec', NAME, '--all', '--', 'hostname']);
    t.is(ex.code, 0, ex.out);
    t.regex(ex.stdout, /^kvm-01 {4}\| kvm-01$/m);
    t.regex(ex.stdout, /^remote-01 \| remote-01$/m);

    // the console: what is typed reaches the guest's shell, what it prints comes back; Ctrl-] leaves
    const con = virtlabIn(['console', NAME, 'cirros'], 'echo virtlab-$((6*7))\n', 20000);
    t.regex(con.stdout.toString(), /virtlab-42/);
    t.regex(
      virtlab(['console', NAME, 'cirros', '--log']).stdout,
      /virtlab-guest ready hostname=cirros ip=192\.168\.100\.\d+ mac=52:54:00:ff:55:d1/,
    );

    // capture on the guest's host-side device while the guest renews its lease and pings remote-01
    const pcapFile = join(tmpdir(), `virtlab-day2-${process.pid}.pcap`);
    const capture = spawn(process.execPath, [...CLI, 'capture', NAME, 'kvm-01', '--guest', 'cirros', '-w', pcapFile], {
      stdio: 'ignore',
    });
    const ended = new Promise((res) => capture.on('close', res));
    await new Promise((r) => setTimeout(r, 3000));
    virtlabIn(['console', NAME, 'cirros'], 'udhcpc -i eth0 -n -q -t 3; ping -c 2 192.168.100.102\n', 30000);
    // Ctrl-C ends a capture: tcpdump has written every packet it saw (-U)
    capture.kill('SIGINT');
    t.is(await ended, 0);
    const seen = execFileSync('tcpdump', ['-r', pcapFile, '-n'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    t.regex(seen, /BOOTP\/DHCP, Request from 52:54:00:ff:55:d1/);
    t.regex(seen, /ICMP echo request/);

    // runs lists this one as up; prune never removes it, removes an old run of virtlab's, and nothing else
    const runsDir = '/var/lib/virtlab/runs';
    const old = join(runsDir, 'e2e-old-abcdef');
    const foreign = join(runsDir, 'not-virtlab');
    mkdirSync(old, { recursive: true });
    mkdirSync(foreign, { recursive: true });
    const tenDaysAgo = new Date(Date.now() - 10 * 86400000).toISOString();
    writeFileSync(
      join(old, 'report.json'),
      JSON.stringify({ lab: 'kvm-macvtap', result: 'pass', startedAt: tenDaysAgo }),
    );
    t.regex(virtlab(['runs']).stdout, /^e2e-day2-[0-9a-f]{6} +kvm-macvtap +up now /m);
    t.regex(virtlab(['runs']).stdout, /^e2e-old-abcdef +kvm-macvtap +pass +10 d ago/m);
    const pr = virtlab(['prune', '--older-than', '7d']);
    t.is(pr.code, 0, pr.out);
    t.throws(() => readFileSync(join(old, 'report.json')));
    t.notThrows(() => readdirOk(foreign));
    rmSync(foreign, { recursive: true, force: true });
    t.regex(virtlab(['runs']).stdout, /^e2e-day2-[0-9a-f]{6} +kvm-macvtap +up now /m);
  } finally {
    const runId = /run ([0-9a-f]{6})/.exec(up.stdout)?.[1] ?? '';
    t.is(virtlab(['down', NAME]).code, 0);
    t.deepEqual(leftovers(NAME, runId), []);
  }
});

function readdirOk(dir: string): void {
  execFileSync('test', ['-d', dir]);
}
