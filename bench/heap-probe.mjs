// Preloaded into a child process by a bench (`node --expose-gc --import heap-probe.mjs ...`, with an IPC
// channel): answers {type:'heap', gc} with process.memoryUsage() in bytes, after a full collection
// when gc is true (then heapUsed is the live heap, not live plus not-yet-collected garbage), and
// {type:'snapshot', path} by writing a V8 heap snapshot there. Bench-only: nothing in src/ loads it.
import { writeHeapSnapshot } from 'node:v8';

if (typeof process.send === 'function') {
  process.on('message', (msg) => {
    if (msg === null || typeof msg !== 'object') return;
    if (msg.type === 'heap') {
      if (msg.gc === true && typeof globalThis.gc === 'function') globalThis.gc();
      process.send({ type: 'heap', id: msg.id, ...process.memoryUsage() });
    } else if (msg.type === 'snapshot') {
      const path = writeHeapSnapshot(msg.path);
      process.send({ type: 'snapshot', id: msg.id, path });
    }
  });
  // the IPC channel must not keep the controller alive on its own
  process.channel?.unref();
}
