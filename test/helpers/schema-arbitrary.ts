/**
 * fast-check arbitraries from the OpenAPI document's JSON Schemas (which zod-openapi rendered
 * from the zod schemas the relay validates with): values the schema allows, for the subset of
 * JSON Schema the document uses ($ref, anyOf/oneOf, const, enum, string with pattern or
 * lengths, integer and number with bounds, boolean, null, object, array, record, `{}`).
 * Sizes are kept small (arrays of at most 4, strings of at most 40) so a fuzz run stays fast.
 */
import fc from "fast-check";

/** A JSON Schema as read from the document. */
export type JsonSchema = { [key: string]: unknown };

const MAX_ITEMS = 4;
const MAX_STRING = 40;
/** How deep `{}` (any JSON) may nest. */
const JSON_DEPTH = 3;

/** The arbitrary of `schema`; `$ref`s resolve in `components.schemas` of `doc`. */
export function arbitraryOf(schema: JsonSchema, doc: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  if (depth > 12) return fc.constant(null); // a cycle: no schema here nests this deep
  const next = (s: unknown) => arbitraryOf(s as JsonSchema, doc, depth + 1);
  const ref = schema.$ref;
  if (typeof ref === "string") return next(resolve(ref, doc));
  const union = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (union) return fc.oneof(...union.map(next));
  if ("const" in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  switch (schema.type) {
    case "string":
      return stringOf(schema);
    case "integer":
      return fc.integer({ min: bound(schema.minimum, -1e6), max: bound(schema.maximum, 1e6) });
    case "number":
      return fc.double({ min: bound(schema.minimum, -1e6), max: bound(schema.maximum, 1e6), noNaN: true });
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return fc.array(schema.items ? next(schema.items) : fc.jsonValue({ maxDepth: JSON_DEPTH }), {
        minLength: (schema.minItems as number | undefined) ?? 0,
        maxLength: Math.min((schema.maxItems as number | undefined) ?? MAX_ITEMS, MAX_ITEMS),
      });
    case "object":
      return objectOf(schema, next);
    default:
      return fc.jsonValue({ maxDepth: JSON_DEPTH });
  }
}

function resolve(ref: string, doc: JsonSchema): JsonSchema {
  const name = ref.replace(/^#\/components\/schemas\//, "");
  const found = ((doc.components as JsonSchema | undefined)?.schemas as JsonSchema | undefined)?.[name];
  if (!found) throw new Error(`no schema ${ref} in the document`);
  return found as JsonSchema;
}

const bound = (value: unknown, fallback: number) =>
  typeof value === "number"
    ? Math.max(Math.min(value, Number.MAX_SAFE_INTEGER), -Number.MAX_SAFE_INTEGER)
    : fallback;

function stringOf(schema: JsonSchema): fc.Arbitrary<string> {
  if (typeof schema.pattern === "string") {
    // stringMatching reads the whole pattern; the document's patterns are anchored (^…$).
    return fc.stringMatching(new RegExp(schema.pattern));
  }
  const minLength = (schema.minLength as number | undefined) ?? 0;
  const maxLength = Math.max(
    minLength,
    Math.min((schema.maxLength as number | undefined) ?? MAX_STRING, MAX_STRING),
  );
  return fc.string({ minLength, maxLength, unit: "grapheme" });
}

function objectOf(schema: JsonSchema, next: (s: unknown) => fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  const properties = (schema.properties ?? {}) as Record<string, unknown>;
  const names = Object.keys(properties);
  if (names.length === 0) {
    // A record: string keys, values of `additionalProperties` (or any JSON).
    const values = schema.additionalProperties;
    return fc.dictionary(
      fc.string({ maxLength: 8 }),
      typeof values === "object" && values !== null ? next(values) : fc.jsonValue({ maxDepth: JSON_DEPTH }),
      { maxKeys: MAX_ITEMS },
    );
  }
  const required = (schema.required ?? []) as string[];
  return fc.record(Object.fromEntries(names.map((name) => [name, next(properties[name])])), {
    requiredKeys: required,
  });
}
