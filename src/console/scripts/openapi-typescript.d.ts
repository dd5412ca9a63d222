/**
 * openapi-typescript 6 (the last major that does not need the TypeScript 5 compiler API, which
 * TypeScript 7 no longer has) ships types for its ESM entry only; this is its CJS entry's one call.
 */
declare module 'openapi-typescript' {
  export default function openapiTS(schema: Record<string, unknown>, options?: { exportType?: boolean }): Promise<string>;
}
