/**
 * What a reliability test observed, attached to its vitest task so the JSON report carries it:
 * docs/RELIABILITY.md is written from these, never from what a test only expected.
 */
export type Observation = Record<string, string | number | boolean>;

declare module "vitest" {
  interface TaskMeta {
    observed?: Observation;
  }
}
