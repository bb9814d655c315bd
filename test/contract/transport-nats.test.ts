/**
 * The transport contract over `nats://` (JetStream, $PULLQ_TEST_NATS_URL, default
 * nats://127.0.0.1:4222): every connection of the suite opens the same server with a stream
 * prefix made for this run, whose streams are deleted at the end. Raw tasks are published with
 * the NATS client itself, as another tool would. An unreachable NATS fails the file under
 * CI=true and skips it otherwise.
 */
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { dropNatsPrefix } from '../../src/backends/nats/drop-prefix.ts';
import { connectNats, natsOptionsFromUrl } from '../../src/backends/nats/open.ts';
import { transportContract } from '../../src/testing/index.ts';

const URL_TEXT = process.env['PULLQ_TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';
const OPTIONS = natsOptionsFromUrl(new URL(URL_TEXT), 5000);
const PREFIX = `pqt-${process.pid}-${Date.now().toString(36)}`;

const unreachable = await dropNatsPrefix(OPTIONS, PREFIX).then(
  () => null,
  (error: unknown) => `NATS JetStream at ${URL_TEXT} cannot be reached: ${String(error)}`,
);
if (unreachable !== null && process.env['CI'] === 'true') throw new Error(unreachable);

if (unreachable !== null) {
  it('nats transport contract', { skip: unreachable }, () => {});
} else {
  transportContract('nats', async () => {
    const admin = await connectNats({ ...OPTIONS, prefix: PREFIX });
    const raw = await connect({ servers: OPTIONS.servers });
    const js = jetstream(raw);
    const url = new URL(URL_TEXT);
    url.searchParams.set('prefix', PREFIX);
    return {
      connectionOptions: () => ({ url: url.href }),
      createQueue: async (name) => {
        await admin.createQueue(name);
      },
      insertRaw: async (queue, payload) => {
        // Any id token will do: the subject's last token is the task's id.
        await js.publish(`${PREFIX}.${queue}.ready.raw${randomBytes(6).toString('hex')}`, payload);
      },
      close: async () => {
        await admin.close();
        await raw.close();
        await dropNatsPrefix(OPTIONS, PREFIX);
      },
    };
  });
}
