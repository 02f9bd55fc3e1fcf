// Commands that touch machines: run, up, down, check, ssh, status, doctor.
import { HostError } from '../errors.ts';
import type { Command, Options } from './args.ts';

const notYet = (name: string) => async (_o: Options): Promise<number> => {
  throw new HostError(`"${name}" is not available in this build yet`);
};

export const COMMAND_HANDLERS: Record<Exclude<Command, 'list' | 'validate' | 'plan' | 'help'>, (o: Options) => Promise<number>> = {
  run: notYet('run'), up: notYet('up'), down: notYet('down'), check: notYet('check'), ssh: notYet('ssh'), status: notYet('status'), doctor: notYet('doctor'),
};
