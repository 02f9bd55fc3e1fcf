// The virtlab command line: the only place that calls process.exit.

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DefinitionError, EXIT, formatDiagnostic, HostError, UsageError, VirtlabError } from '../errors.ts';
import { helpFor, type Options, parseArgs, versionText } from './args.ts';
import { COMMAND_DEFS, COMMANDS } from './commands.ts';

// each command's module is loaded when it is asked for: `--help`, `list` or `validate` do not load ssh2 and the
// providers, so they answer at once

/** Commands that touch machines or the state folder. */
const NEEDS_ROOT: string[] = COMMANDS.filter((c) => COMMAND_DEFS[c].root);

async function main(argv: string[]): Promise<number> {
  const o: Options = parseArgs(argv);
  if (o.version) {
    console.log(versionText());
    return EXIT.ok;
  }
  if (o.help || o.command === 'help') {
    const about = o.command === 'help' ? o.args[0] : o.command;
    if (about !== undefined && !(COMMANDS as readonly string[]).includes(about))
      throw new UsageError(`no command "${about}"`, 'see virtlab --help');
    process.stdout.write(helpFor((about ?? 'help') as Options['command']));
    return EXIT.ok;
  }
  // --project: the project folder for this command (and for everything it starts)
  if (o.project !== undefined) {
    if (!existsSync(join(o.project, 'labs')))
      throw new UsageError(`--project ${o.project} has no labs/ folder`, 'virtlab init <dir> writes a starter project');
    process.env.VIRTLAB_ROOT = resolve(o.project);
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
    case 'bisect':
      return (await import('./bisect.ts')).commandBisect(o);
    case 'ci':
      return (await import('./ci.ts')).commandCi(o);
    case 'merge':
      return (await import('./merge.ts')).commandMerge(o);
    case 'baseline':
      return (await import('./baseline.ts')).commandBaseline(o);
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
      return (await import('./access.ts')).ssh(o);
    case 'inventory':
      return (await import('./provisioning.ts')).inventory(o);
    case 'provision':
      return (await import('./provisioning.ts')).provision(o);
    case 'status':
      return (await import('./status.ts')).status(o);
    case 'explain':
      return (await import('./instances.ts')).explainCmd(o);
    case 'exec':
      return (await import('./access.ts')).exec(o);
    case 'ssh-config':
      return (await import('./access.ts')).sshConfig(o);
    case 'console':
      return (await import('./access.ts')).consoleCmd(o);
    case 'capture':
      return (await import('./access.ts')).capture(o);
    case 'runs':
      return (await import('./runs.ts')).runs(o);
    case 'prune':
      return (await import('./runs.ts')).prune(o);
    case 'init':
      return (await import('./init.ts')).init(o);
    case 'completion':
      return (await import('./completion.ts')).completion(o);
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
