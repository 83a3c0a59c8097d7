/**
 * The `lambda` section of the configuration: memory, reserved concurrency and source maps of
 * the task functions (infra/functions.ts applies them). Validated like the rest of
 * infra/config.ts: every problem is reported as "key: why".
 *
 * Reserved concurrency: the directory tasks (those that bind over LDAPS: TaskNeeds 'directory';
 * not the polling tasks, which hold their function while they wait: infra/functions.ts
 * reservedAsDirectoryTask) get 20 each by default. A burst of launches (an Auto Scaling group of hundreds) then opens at
 * most 20 LDAPS connections per task kind to the DCs at once — a pair of AWS Managed AD DCs
 * serves that easily — and the rest wait in Step Functions' throttling retry
 * (workflows/common.ts LambdaThrottleRetry). The other tasks call AWS APIs that have their own
 * throttling (and the SDK's adaptive retries): no reservation (null), they share the account's
 * unreserved pool. Lambda keeps at least 100 of an account's concurrency unreserved: in an
 * account with a low concurrency quota set `reservedConcurrency.directory` lower or to null.
 */

export interface LambdaConfigInput {
  /** MB for every task function (128–10240). Default 256. */
  memorySize?: number;
  /** Reserved concurrency per function: directory tasks / the others; null = none. */
  reservedConcurrency?: { directory?: number | null; other?: number | null };
  /** Ship source maps in the assets and run with NODE_OPTIONS=--enable-source-maps. Default false. */
  sourceMaps?: boolean;
}

export interface LambdaConfig {
  memorySize: number;
  reservedConcurrency: { directory?: number; other?: number };
  sourceMaps: boolean;
}

export const LambdaDefaults = {
  memorySize: 256,
  reservedConcurrency: { directory: 20 },
  sourceMaps: false,
} as const;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Resolves `raw` (the value of the `lambda` key, possibly undefined); problems go to `bad`. */
export function resolveLambdaConfig(raw: unknown, bad: (key: string, why: string) => void): LambdaConfig {
  const out: LambdaConfig = { memorySize: LambdaDefaults.memorySize, reservedConcurrency: { ...LambdaDefaults.reservedConcurrency }, sourceMaps: LambdaDefaults.sourceMaps };
  if (raw === undefined) return out;
  if (!isObj(raw)) {
    bad('lambda', 'must be an object');
    return out;
  }
  for (const k of Object.keys(raw)) if (!['memorySize', 'reservedConcurrency', 'sourceMaps'].includes(k)) bad(`lambda.${k}`, 'unknown key');
  const whole = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
  if (raw.memorySize !== undefined) {
    if (whole(raw.memorySize, 128, 10240)) out.memorySize = raw.memorySize;
    else bad('lambda.memorySize', 'must be a whole number of MB from 128 to 10240');
  }
  if (raw.sourceMaps !== undefined) {
    if (typeof raw.sourceMaps === 'boolean') out.sourceMaps = raw.sourceMaps;
    else bad('lambda.sourceMaps', 'must be true or false');
  }
  const rc = raw.reservedConcurrency;
  if (rc !== undefined) {
    if (!isObj(rc)) bad('lambda.reservedConcurrency', 'must be an object {directory, other}');
    else {
      for (const k of Object.keys(rc)) if (k !== 'directory' && k !== 'other') bad(`lambda.reservedConcurrency.${k}`, 'unknown key');
      for (const k of ['directory', 'other'] as const) {
        const v = rc[k];
        if (v === undefined) continue;
        if (v === null) delete out.reservedConcurrency[k];
        else if (whole(v, 1, 1000)) out.reservedConcurrency[k] = v;
        else bad(`lambda.reservedConcurrency.${k}`, 'must be a whole number from 1 to 1000, or null for none');
      }
    }
  }
  return out;
}
