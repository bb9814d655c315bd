import { MemoryBackend } from '../../src/backends/memory.ts';
import { backendContract } from '../../src/testing/index.ts';

backendContract('memory', (clock) => new MemoryBackend({ clock }));
