/** Jest global teardown: stops the local stack gracefully (SIGTERM), or kills it after 10 s. */
export default async function stopLocalStack(): Promise<void> {
  const child = globalThis.sluiceTestStack;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
