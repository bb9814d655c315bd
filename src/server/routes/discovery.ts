/** The discovery document of the v1beta2 API (see ../discovery/v1beta2-document.ts). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  DISCOVERY_REST_PATH,
  buildDiscoveryDirectory,
  buildDiscoveryDocument,
} from '../discovery/v1beta2-document.ts';

export function discoveryRoutes(app: FastifyInstance): Promise<void> {
  app.get(DISCOVERY_REST_PATH, (request) => buildDiscoveryDocument(rootUrlOf(request)));
  app.get('/discovery/v1/apis', (request) => buildDiscoveryDirectory(rootUrlOf(request)));
  return Promise.resolve();
}

/** This server as the client reached it: clients then call back the same address. */
function rootUrlOf(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}/`;
}
