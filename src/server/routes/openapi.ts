/**
 * Builds an OpenAPI 3.1 document from a route table: the same TypeBox schemas that Fastify
 * validates and serializes with, so the document cannot drift from the server. OpenAPI 3.1
 * embeds JSON Schema 2020-12 as is (type arrays for nullables included).
 */
import type { TSchema } from 'typebox';

export interface OpenApiRoute {
  method: string;
  /** A stable name for client generators: `lease`, `createQueue`. */
  operationId: string;
  /** Fastify form: `/queues/:queue`. */
  url: string;
  summary: string;
  description?: string;
  schema: {
    params?: TSchema;
    querystring?: TSchema;
    body?: TSchema;
    /** A `{ type: 'null' }` answer has no body (204). */
    response?: Record<number, TSchema>;
  };
}

export interface OpenApiOptions {
  title: string;
  version: string;
  description: string;
  /** Prepended to every route's url. */
  prefix: string;
  /** Schemas to publish under components.schemas; equal subschemas become `$ref`s to them. */
  components: Record<string, TSchema>;
  /** The schema of every error answer. */
  errorSchema: TSchema;
}

export function openApiDocument(
  routes: readonly OpenApiRoute[],
  options: OpenApiOptions,
): Record<string, unknown> {
  const refs = new Map<string, string>();
  for (const [name, schema] of Object.entries(options.components)) {
    refs.set(JSON.stringify(schema), `#/components/schemas/${name}`);
  }
  const reference = (schema: unknown, top = true): unknown => {
    if (Array.isArray(schema)) return schema.map((item) => reference(item, false));
    if (schema === null || typeof schema !== 'object') return schema;
    const ref = top ? undefined : refs.get(JSON.stringify(schema));
    if (ref) return { $ref: ref };
    return Object.fromEntries(
      Object.entries(schema).map(([key, value]) => [key, reference(value, false)]),
    );
  };
  /** A schema used somewhere in a path: itself a `$ref` when it equals a component. */
  const use = (schema: unknown): unknown => (reference({ wrap: schema }) as { wrap: unknown }).wrap;

  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = (options.prefix + route.url).replace(/:(\w+)/g, '{$1}');
    const parameters = [
      ...parametersOf(route.schema.params, 'path'),
      ...parametersOf(route.schema.querystring, 'query'),
    ].map(use);
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries(route.schema.response ?? {})) {
      responses[status] =
        (schema as { type?: unknown }).type === 'null'
          ? { description: 'no content' }
          : {
              description: 'success',
              content: { 'application/json': { schema: use(schema) } },
            };
    }
    responses['default'] = {
      description: 'an error from the catalog: `{ error: { code, message, retryable, details? } }`',
      content: { 'application/json': { schema: use(options.errorSchema) } },
    };
    (paths[path] ??= {})[route.method.toLowerCase()] = {
      summary: route.summary,
      ...(route.description === undefined ? {} : { description: route.description }),
      operationId: route.operationId,
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.schema.body === undefined
        ? {}
        : {
            requestBody: {
              required: !isNullable(route.schema.body),
              content: { 'application/json': { schema: use(route.schema.body) } },
            },
          }),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: options.title, version: options.version, description: options.description },
    paths,
    components: {
      schemas: Object.fromEntries(
        Object.entries(options.components).map(([name, schema]) => [name, reference(schema)]),
      ),
    },
  };
}

function parametersOf(schema: unknown, where: 'path' | 'query'): unknown[] {
  const object = schema as
    | {
        properties?: Record<string, { description?: string }>;
        required?: string[];
      }
    | null
    | undefined;
  if (!object?.properties) return [];
  return Object.entries(object.properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (object.required ?? []).includes(name),
    ...(property.description === undefined ? {} : { description: property.description }),
    schema: property,
  }));
}

function isNullable(schema: TSchema): boolean {
  const anyOf = (schema as { anyOf?: { type?: string }[] }).anyOf;
  return anyOf?.some((branch) => branch.type === 'null') ?? false;
}
