import { type ChildProcess, spawn } from 'node:child_process';

export interface GuardedChild {
  readonly process: ChildProcess;
  /** Resolves with the exit code when the child is gone. */
  readonly exited: Promise<number | null>;
  /** Asks the child to stop, then kills its whole process group if it has not after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL to the whole group, for fault tests. */
  kill(): void;
}

/**
 * Runs a command that cannot outlive this process, whatever ends it (even SIGKILL): a small
 * shell keeps the command in the background and waits on a pipe from us; when the pipe closes
 * (we exited or died) it kills the command. `stop()` closes the pipe deliberately.
 */
export function spawnGuarded(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): GuardedChild {
  const quoted = [command, ...args].map((part) => `'${part.replaceAll("'", `'\\''`)}'`).join(' ');
  const script = `exec 3<&0; ${quoted} </dev/null & C=$!; (read _ <&3; kill $C 2>/dev/null) & wait $C`;
  const child = spawn('/bin/sh', ['-c', script], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const killGroup = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  return {
    process: child,
    exited,
    kill: killGroup,
    stop: async (graceMs = 5000) => {
      child.stdin?.end();
      const timer = setTimeout(killGroup, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
