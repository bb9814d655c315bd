/**
 * The discovery document of the v1beta2 API, generated from the route table so it describes
 * exactly the routes pullq serves. Google removed taskqueue from its discovery service;
 * Python's `googleapiclient.discovery.build(..., discoveryServiceUrl=...)` and Node's
 * `google.discoverAPI(url)` build their clients from this one instead.
 */
import {
  STANDARD_PARAMETERS,
  V1BETA2_METHODS,
  V1BETA2_SERVICE_PATH,
  type ParameterSpec,
} from '../routes/v1beta2-methods.ts';
import { V1BETA2_SCHEMAS, type JsonSchema } from './v1beta2-schemas.ts';

export const DISCOVERY_REST_PATH = '/discovery/v1/apis/taskqueue/v1beta2/rest';

const SCOPES = {
  'https://www.googleapis.com/auth/taskqueue': { description: 'Manage your Tasks and Taskqueues' },
  'https://www.googleapis.com/auth/taskqueue.consumer': {
    description: 'Consume Tasks from your Taskqueues',
  },
};

export interface DiscoveryParameter {
  type: string;
  location: string;
  description: string;
  required?: boolean;
  format?: string;
  minimum?: string;
  maximum?: string;
  default?: string;
}

export interface DiscoveryMethod {
  id: string;
  path: string;
  httpMethod: string;
  description: string;
  parameters: Record<string, DiscoveryParameter>;
  parameterOrder: string[];
  request?: { $ref: string };
  response?: { $ref: string };
  scopes: string[];
}

export interface DiscoveryDocument {
  kind: 'discovery#restDescription';
  discoveryVersion: 'v1';
  id: 'taskqueue:v1beta2';
  name: 'taskqueue';
  version: 'v1beta2';
  title: string;
  description: string;
  documentationLink: string;
  protocol: 'rest';
  rootUrl: string;
  servicePath: string;
  baseUrl: string;
  basePath: string;
  parameters: Record<string, DiscoveryParameter>;
  auth: { oauth2: { scopes: typeof SCOPES } };
  schemas: Record<string, JsonSchema>;
  resources: Record<string, { methods: Record<string, DiscoveryMethod> }>;
}

/** `rootUrl` is this server's own address, ending in `/` (e.g. `http://127.0.0.1:8080/`). */
export function buildDiscoveryDocument(rootUrl: string): DiscoveryDocument {
  const resources: DiscoveryDocument['resources'] = {};
  for (const method of V1BETA2_METHODS) {
    const [resource = '', name = ''] = method.id.split('.');
    const methods = (resources[resource] ??= { methods: {} }).methods;
    methods[name] = {
      id: `taskqueue.${method.id}`,
      path: method.path,
      httpMethod: method.httpMethod,
      description: method.description,
      parameters: Object.fromEntries(
        Object.entries(method.parameters).map(([key, spec]) => [key, toDiscovery(spec)]),
      ),
      parameterOrder: method.parameterOrder,
      ...(method.request ? { request: { $ref: method.request } } : {}),
      ...(method.response ? { response: { $ref: method.response } } : {}),
      scopes: Object.keys(SCOPES),
    };
  }
  return {
    kind: 'discovery#restDescription',
    discoveryVersion: 'v1',
    id: 'taskqueue:v1beta2',
    name: 'taskqueue',
    version: 'v1beta2',
    title: 'TaskQueue API (served by pullq)',
    description: 'Accesses a pull task queue over REST: App Engine Task Queue REST API v1beta2.',
    documentationLink: 'https://cloud.google.com/appengine/docs/python/taskqueue/rest',
    protocol: 'rest',
    rootUrl,
    servicePath: V1BETA2_SERVICE_PATH,
    baseUrl: `${rootUrl}${V1BETA2_SERVICE_PATH}`,
    basePath: `/${V1BETA2_SERVICE_PATH}`,
    parameters: Object.fromEntries(
      Object.entries(STANDARD_PARAMETERS).map(([key, spec]) => [key, toDiscovery(spec)]),
    ),
    auth: { oauth2: { scopes: SCOPES } },
    schemas: V1BETA2_SCHEMAS,
    resources,
  };
}

/** A directory listing with the one API, for `google.discover(url)`-style clients. */
export function buildDiscoveryDirectory(rootUrl: string): object {
  return {
    kind: 'discovery#directoryList',
    discoveryVersion: 'v1',
    items: [
      {
        kind: 'discovery#directoryItem',
        id: 'taskqueue:v1beta2',
        name: 'taskqueue',
        version: 'v1beta2',
        title: 'TaskQueue API (served by pullq)',
        discoveryRestUrl: `${rootUrl}${DISCOVERY_REST_PATH.slice(1)}`,
        preferred: true,
      },
    ],
  };
}

function toDiscovery(spec: ParameterSpec): DiscoveryParameter {
  return {
    type: spec.type,
    location: spec.location,
    description: spec.description,
    ...(spec.required ? { required: true } : {}),
    ...(spec.format ? { format: spec.format } : {}),
    // Discovery writes numeric bounds as strings.
    ...(spec.minimum === undefined ? {} : { minimum: String(spec.minimum) }),
    ...(spec.maximum === undefined ? {} : { maximum: String(spec.maximum) }),
    ...(spec.default === undefined ? {} : { default: spec.default }),
  };
}
