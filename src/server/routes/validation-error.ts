/**
 * Fastify's schema errors as catalog errors. Ajv stops at the first error (allErrors is off:
 * collecting them all is a known denial-of-service vector), and the answer names that field
 * the way a caller wrote it: `tasks[2].payload`, `max`, `queue`.
 */
import type { FastifySchemaValidationError } from 'fastify';
import { PullqError } from '../../protocol/errors.ts';

/** Ajv's first error as a catalog error naming the field: `tasks[2].payload must be string`. */
export function validationError(errors: FastifySchemaValidationError[], where: string): PullqError {
  const first = errors[0];
  if (!first) return new PullqError('invalid_argument', `${where} is not valid`);
  const path = first.instancePath
    .split('/')
    .filter(Boolean)
    .map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part}`))
    .join('')
    .replace(/^\./, '');
  const params = first.params as { missingProperty?: string; additionalProperty?: string };
  let field = path || where;
  let message: string;
  if (first.keyword === 'required' && params.missingProperty !== undefined) {
    field = path ? `${path}.${params.missingProperty}` : params.missingProperty;
    message = `${field} is required`;
  } else if (first.keyword === 'additionalProperties' && params.additionalProperty !== undefined) {
    field = path ? `${path}.${params.additionalProperty}` : params.additionalProperty;
    message = `${field} is not a field of this request`;
  } else {
    message = `${field} ${first.message ?? 'is not valid'}`;
  }
  return new PullqError('invalid_argument', message, { details: { field, in: where } });
}
