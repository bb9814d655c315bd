import { MemoryBackend } from '../../src/backends/memory.ts';
import { backendContract } from '../../src/testing/index.ts';

backendContract('memory', (clock) => new MemoryBackend({ clock }));

// The suite as a backend with its own clock (a remote server) runs it: the rules that need no
// manual clock must hold on real time too.
backendContract('memory on the system clock', () => new MemoryBackend(), { realTimeOnly: true });
