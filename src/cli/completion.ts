// Shell completion from the command table: commands, each command's options, and lab names (asked of `virtlab
// list` when completing a lab) or instance names (from the state folder) where a command takes one.
import { UsageError } from '../errors.ts';
import type { Options } from './args.ts';
import { COMMAND_DEFS, COMMANDS, GLOBAL_OPTIONS, OPTIONS } from './commands.ts';

const longFlags = (c: (typeof COMMANDS)[number]) => [
  ...COMMAND_DEFS[c].options.map((f) => OPTIONS[f]!.flags.split(', ').pop()!.split(' ')[0]!),
  ...GLOBAL_OPTIONS.map((g) => g.flags.split(', ').pop()!.split(' ')[0]!),
  '--help',
];

/** Which commands complete lab names, and which instance names, as their first argument. */
const LAB_COMMANDS = COMMANDS.filter((c) => COMMAND_DEFS[c].args[0] === '<lab>' && !COMMAND_DEFS[c].root);
const INSTANCE_COMMANDS = COMMANDS.filter(
  (c) => (COMMAND_DEFS[c].args[0] === '<lab>' || COMMAND_DEFS[c].args[0] === '[instance...]') && COMMAND_DEFS[c].root,
);

export function bashCompletion(): string {
  const cases = COMMANDS.map((c) => `    ${c}) opts="${longFlags(c).join(' ')}" ;;`).join('\n');
  return `# virtlab bash completion: source <(virtlab completion bash)
_virtlab() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmd=\${COMP_WORDS[1]} opts words
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${COMMANDS.join(' ')}" -- "$cur")); return
  fi
  case "$cmd" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "$opts" -- "$cur")); return; fi
  case "$cmd" in
    ${LAB_COMMANDS.join('|')}|run|up) words=$(virtlab list 2>/dev/null | cut -d' ' -f1) ;;
  esac
  case "$cmd" in
    ${INSTANCE_COMMANDS.filter((c) => c !== 'run' && c !== 'up').join('|')}) words=$(ls /var/lib/virtlab/state 2>/dev/null | sed -n 's/\\.json$//p') ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _virtlab virtlab
`;
}

export function zshCompletion(): string {
  return `#compdef virtlab
# virtlab zsh completion: source <(virtlab completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bashCompletion()}`;
}

export function completion(o: Options): number {
  const shell = o.args[0];
  if (shell === 'bash') process.stdout.write(bashCompletion());
  else if (shell === 'zsh') process.stdout.write(zshCompletion());
  else throw new UsageError(`no completion for "${shell}"`, 'virtlab completion bash, or virtlab completion zsh');
  return 0;
}
