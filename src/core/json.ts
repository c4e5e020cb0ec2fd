// Shape checks for parsed JSON/YAML, which is data from elsewhere until validated.

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
