/**
 * The seed's "Inserting Tasks" with pullq's client: one putMany of N JSON tasks, then the id of
 * each, one line per task.
 *
 *   node examples/insert.ts [count]        (count defaults to 5)
 *
 * Environment: PULLQ_URL (default pullq://127.0.0.1:8080), PULLQ_TOKEN (a token with the
 * producer role; not needed on a server run with --no-auth), PULLQ_QUEUE (default pull-queue).
 */
import { parseArgs } from 'node:util';
import { Connection } from 'pullq';

/** What the examples' tasks carry, as in the seed: `{"message": "hello world"}`. */
interface Task {
  message: string;
}

const url = process.env['PULLQ_URL'] ?? 'pullq://127.0.0.1:8080';
const token = process.env['PULLQ_TOKEN'];
const queueName = process.env['PULLQ_QUEUE'] ?? 'pull-queue';

const { positionals } = parseArgs({ allowPositionals: true });
const count = Number(positionals[0] ?? 5);
if (!Number.isInteger(count) || count < 1) {
  console.error(`usage: node examples/insert.ts [count]: count is a whole number >= 1`);
  process.exit(2);
}

await using connection = new Connection(url, { token });
const queue = connection.simpleQueue<Task>(queueName);

const bodies = Array.from({ length: count }, (_, index) => ({ message: `hello ${index + 1}` }));
// One request per 1,000 tasks; the queue is created on the first insert.
const results = await queue.putMany(bodies.map((body) => ({ body })));

let inserted = 0;
for (const [index, result] of results.entries()) {
  const body = JSON.stringify(bodies[index]);
  if (result.ok) {
    inserted++;
    console.log(`inserted task ${result.id}: ${body}`);
  } else {
    console.error(`not inserted: ${body}: ${result.error.code}: ${result.error.message}`);
    process.exitCode = 1;
  }
}
console.log(`inserted ${inserted} tasks into ${queueName} at ${connection.url}`);
