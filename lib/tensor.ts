/**
 * The one place that chooses the TensorFlow.js backend and loads TensorFlow.js. Everything that trains or runs a
 * model awaits `initBackend()` first, so every run uses (and records) the same backend.
 *
 * TensorFlow.js is loaded lazily, by the first `initBackend()` (a dynamic import), never when this module or
 * `exitlab/policies` is imported: importing it costs about a third of a second. Code that trains takes the
 * loaded module from `loadedTfjs()`. No TF.js type appears in this module's exports, so exitlab's published
 * declarations type-check without TensorFlow.js's types.
 *
 * Preference order: the native `tensorflow` backend when `@tensorflow/tfjs-node` loads (it is an optional
 * dependency: its install downloads libtensorflow, which fails on machines that cannot reach that host), else
 * `wasm` (`@tensorflow/tfjs-backend-wasm`, which ships its .wasm in the package; measured 4.5× faster than cpu
 * for a small MLP fit here), else the pure-JS `cpu` backend. `EXITLAB_BACKEND=tensorflow|wasm|cpu` forces one;
 * a forced backend that cannot load is an error, never a silent fallback, so a benchmark labelled "wasm" really
 * ran on wasm.
 */
import type * as TF from '@tensorflow/tfjs';

let tfModule: typeof TF | undefined;

/**
 * The TensorFlow.js module (the `tfjs` package) once `initBackend()` has loaded it, else undefined. Typed
 * `unknown` on purpose (see the module comment): cast it to the type of that package's module namespace.
 */
export function loadedTfjs(): unknown {
  return tfModule;
}

/** Backends exitlab knows how to load, in preference order. */
export const BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;

/** A TensorFlow.js backend name. */
export type BackendName = (typeof BACKENDS)[number];

/** What was chosen, recorded with every run's results. */
export interface BackendInfo {
  /** The active backend. */
  readonly name: BackendName;
  /** Whether it was forced with EXITLAB_BACKEND. */
  readonly forced: boolean;
  /** Why preferred backends were skipped, e.g. "tensorflow: Cannot find module …/tfjs-node". */
  readonly skipped: readonly string[];
  /** TensorFlow.js version. */
  readonly tfjsVersion: string;
}

let active: Promise<BackendInfo> | undefined;

async function tryLoad(name: BackendName): Promise<void> {
  const tf = (tfModule ??= await import('@tensorflow/tfjs'));
  if (name === 'tensorflow') {
    // The native binding registers the 'tensorflow' backend as a side effect of import.
    await import('@tensorflow/tfjs-node' as string);
  } else if (name === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
  }
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tf.setBackend('${name}') returned false`);
  await tf.ready();
}

/**
 * Pick and initialise the backend (once per process; later calls return the same promise).
 * @param override a backend name, defaulting to the EXITLAB_BACKEND environment variable.
 * @throws Error if the override names an unknown backend or one that fails to load.
 */
export function initBackend(override: string | undefined = process.env.EXITLAB_BACKEND): Promise<BackendInfo> {
  active ??= (async () => {
    const wanted = override?.trim() || undefined;
    if (wanted !== undefined) {
      if (!(BACKENDS as readonly string[]).includes(wanted)) {
        throw new Error(`EXITLAB_BACKEND: expected one of ${BACKENDS.join(', ')}, got ${JSON.stringify(wanted)}`);
      }
      try {
        await tryLoad(wanted as BackendName);
      } catch (err) {
        throw new Error(`EXITLAB_BACKEND=${wanted}: the backend failed to load: ${(err as Error).message}`);
      }
      return { name: wanted as BackendName, forced: true, skipped: [], tfjsVersion: tfModule!.version.tfjs };
    }
    const skipped: string[] = [];
    for (const name of BACKENDS) {
      try {
        await tryLoad(name);
        return { name, forced: false, skipped, tfjsVersion: tfModule!.version.tfjs };
      } catch (err) {
        skipped.push(`${name}: ${((err as Error).message ?? String(err)).split('\n')[0]}`);
      }
    }
    throw new Error(`no TensorFlow.js backend could be loaded: ${skipped.join('; ')}`);
  })();
  return active;
}
