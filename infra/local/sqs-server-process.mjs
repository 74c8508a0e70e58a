// Child process that runs fauxqs (an SQS-compatible server) for the local stack.
// Plain JavaScript so it starts without a TypeScript loader.
import net from 'node:net';

// fauxqs listens on every interface; the local stack must stay on loopback.
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function patchedListen(...args) {
  if (args[0] && typeof args[0] === 'object' && (args[0].host === '0.0.0.0' || args[0].host === undefined)) {
    args[0] = { ...args[0], host: '127.0.0.1' };
  } else if (typeof args[0] === 'number' && (args[1] === '0.0.0.0' || typeof args[1] !== 'string')) {
    args.splice(1, typeof args[1] === 'string' ? 1 : 0, '127.0.0.1');
  }
  return listen.apply(this, args);
};

const { startFauxqs } = await import('fauxqs');
const port = Number(process.env.SLUICE_SQS_PORT);
const dataDir = process.env.SLUICE_SQS_DATA_DIR || undefined;
const server = await startFauxqs({ port, logger: false, ...(dataDir && { dataDir }) });
process.send?.({ ready: true, port: server.port });

const stop = async () => {
  try {
    await server.stop();
  } finally {
    process.exit(0);
  }
};
// The parent's IPC channel closes when it exits or dies (even SIGKILL): never outlive it.
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
