// The virtlab command line: the only place that calls process.exit.
import { DefinitionError, EXIT, formatDiagnostic, HostError, VirtlabError } from '../errors.ts';
import { HELP, type Options, parseArgs } from './args.ts';

// each command's module is loaded when it is asked for: `--help`, `list` or `validate` do not load ssh2 and the
// providers, so they answer at once

/** Commands that touch machines or the state folder. */
const NEEDS_ROOT = ['run', 'up', 'down', 'check', 'ssh', 'status', 'reset', 'matrix'];

async function main(argv: string[]): Promise<number> {
  const o: Options = parseArgs(argv);
  if (o.version) {
    console.log('virtlab 0.1.0');
    return EXIT.ok;
  }
  if (o.help || o.command === 'help') {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  if (NEEDS_ROOT.includes(o.command) && process.getuid?.() !== 0) {
    throw new HostError(
      `virtlab ${o.command} must run as root: it manages network namespaces, daemons and the state in /var/lib/virtlab`,
      `run it as root, e.g. sudo virtlab ${o.command} ...   (list, validate, plan, explain, graph and diff work without root)`,
    );
  }
  switch (o.command) {
    case 'list':
      return (await import('./definitions.ts')).commandList(o);
    case 'validate':
      return (await import('./definitions.ts')).commandValidate(o);
    case 'plan':
      return (await import('./definitions.ts')).commandPlan(o);
    case 'graph':
      return (await import('./definitions.ts')).commandGraph(o);
    case 'matrix':
      return (await import('./matrix.ts')).commandMatrix(o);
    case 'diff':
      return (await import('./matrix.ts')).commandDiff(o);
    case 'run':
      return (await import('./lifecycle.ts')).lifecycle(o, 'run');
    case 'up':
      return (await import('./lifecycle.ts')).lifecycle(o, 'up');
    case 'reset':
      return (await import('./lifecycle.ts')).reset(o);
    case 'down':
      return (await import('./instances.ts')).down(o);
    case 'check':
      return (await import('./instances.ts')).check(o);
    case 'ssh':
      return (await import('./instances.ts')).ssh(o);
    case 'inventory':
      return (await import('./provisioning.ts')).inventory(o);
    case 'provision':
      return (await import('./provisioning.ts')).provision(o);
    case 'status':
      return (await import('./instances.ts')).status(o);
    case 'explain':
      return (await import('./instances.ts')).explainCmd(o);
    case 'doctor':
      return (await import('./doctor.ts')).doctor(o);
  }
}

// output that nobody reads any more (a closed pipe: `| head`, a terminal that went away) is not an error of the
// command: a run goes on to its teardown and exits with its own code instead of dying on EPIPE with machines up
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof DefinitionError) {
      for (const d of e.diagnostics) console.error(formatDiagnostic(d));
      console.error(`${e.diagnostics.length} problem${e.diagnostics.length === 1 ? '' : 's'} found`);
    } else if (e instanceof VirtlabError) {
      console.error(`virtlab: ${e.message}`);
      if (e.hint) console.error(`hint: ${e.hint}`);
    } else {
      console.error('virtlab: internal error (a bug; please report it with this trace):');
      console.error(e);
    }
    process.exitCode = e instanceof VirtlabError ? e.exitCode : EXIT.internal;
  },
);
