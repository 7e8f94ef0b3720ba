import { z } from 'zod';
import { apiViews, type ApiViewName } from './views/index.js';

/** The pieces the OpenAPI document is written with: one operation is one call of `op`. */

type Param = { name: string; in: 'path' | 'query'; required?: boolean; schema: object; description?: string };

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const json = (schema: object) => ({ content: { 'application/json': { schema } } });

/** A request body: a component's name, or an inline JSON schema. */
export const body = (schema: string | object, required = true) => ({
  ...(required ? { required: true } : {}),
  ...json(typeof schema === 'string' ? ref(schema) : schema),
});

export const pathParam = (name: string, type = 'string'): Param => ({
  name,
  in: 'path',
  required: true,
  schema: { type },
});
export const query = (name: string, type = 'string', description?: string): Param => ({
  name,
  in: 'query',
  schema: { type },
  ...(description ? { description } : {}),
});

/**
 * `[description, view]` by status: every answer names its view (see views/index.ts), or the views
 * it may be (one of them).
 */
type Answer = readonly [string, ApiViewName | readonly ApiViewName[]];
type Answers = Partial<Record<200 | 201, Answer>>;

export interface Operation {
  summary: string;
  parameters?: Param[];
  requestBody?: object;
  answers: Answers;
  /** No 4XX answer to document: a read that takes no parameters (so none to get wrong). */
  noErrors?: boolean;
}

/** One operation of the document, its answers referring to their views in components.schemas. */
export function op(o: Operation): object {
  const responses: Record<string, object> = {};
  for (const [code, [description, view]] of Object.entries(o.answers)) {
    const schema = typeof view === 'string' ? ref(view) : { oneOf: view.map(ref) };
    responses[code] = { description, ...json(schema) };
  }
  if (!o.noErrors) responses['4XX'] = { description: 'Bad input or conflict', ...json(ref('Error')) };
  return {
    summary: o.summary,
    ...(o.parameters ? { parameters: o.parameters } : {}),
    ...(o.requestBody ? { requestBody: o.requestBody } : {}),
    responses,
  };
}

/** A read (200): a list, or one thing by its path parameter; 4XX only where it takes parameters. */
export const read = (summary: string, answer: Answer, parameters?: Param[]): object =>
  op({ summary, parameters, answers: { 200: answer }, noErrors: !parameters });

/** A creation (201) from a request body. */
export const create = (summary: string, requestBody: object, answer: Answer, parameters?: Param[]): object =>
  op({ summary, parameters, requestBody, answers: { 201: answer } });

/** A removal by its path parameter: `{deleted}` unless said otherwise. */
export const remove = (summary: string, param: Param, answer: Answer = ['Removed', 'Deleted']): object =>
  op({ summary, parameters: [param], answers: { 200: answer } });

/** An input schema as JSON Schema (what a request may send). */
export const inputSchema = (s: z.ZodType): object =>
  z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });

/** Every view as JSON Schema, by name; a view inside another is a $ref to it. */
export function viewSchemas(): Record<string, object> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(apiViews)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    io: 'output',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  });
  // Components are parts of one document: no schema dialect or id of their own.
  return Object.fromEntries(
    Object.entries(schemas).map(([id, s]) => {
      const rest: Record<string, unknown> = { ...s };
      delete rest.$schema;
      delete rest.$id;
      return [id, rest];
    }),
  );
}
