/**
 * Real early exit on a trained multi-exit TF.js model: the functional model (output k = exit k's softmax head,
 * in depth order, as experiments/fixtures/models.ts builds them) is split at load time into K *segments*, each
 * the layers first needed by exit k — the backbone block k plus head k. Serving a request runs segment 0, reads
 * exit 0's probabilities, lets the policy decide, and runs segment 1 only if it continues, so the compute after
 * the chosen exit is never spent.
 *
 * Segment k's layers: ancestors(output k) minus ancestors(outputs 0..k−1). Its *trunk* (the backbone layers,
 * whose output the next segment needs) are those that are also ancestors of output k+1; the rest is the head.
 * The layers are applied eagerly to concrete tensors (a Layer called on a Tensor runs its `call`), so the
 * trained weights are shared, nothing is copied, and every intermediate tensor is disposed by `tf.tidy`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../lib/errors.ts';
// TensorFlow.js directly (as the fixture builder does); callers await lib/tensor.ts initBackend() first, which
// picks the backend on this same module instance.
import * as tf from '@tensorflow/tfjs';

type Layer = tf.layers.Layer;

/** One segment: the layers run to reach exit k from exit k−1's trunk output. */
interface Segment {
  /** Backbone layers of block k in execution order (a chain); empty for a head hanging off the previous trunk. */
  readonly trunk: readonly Layer[];
  /** Head layers of exit k in execution order (a chain), ending with the softmax layer. */
  readonly head: readonly Layer[];
}

/** The only inbound layer of `layer` (the models here are chains per segment), or undefined for the input. */
function parentOf(layer: Layer, source: string): Layer | undefined {
  const nodes = layer.inboundNodes;
  if (nodes.length !== 1) throw new InputError(source, `layer ${layer.name}`, 'a layer used once in the graph', `${nodes.length} uses`);
  const inbound = nodes[0].inboundLayers;
  if (inbound.length > 1) throw new InputError(source, `layer ${layer.name}`, 'a layer with one input (block and head chains)', `${inbound.length} inputs`);
  const p = inbound[0];
  return p === undefined || p.getClassName() === 'InputLayer' ? undefined : p;
}

/** The chain of layers from (excluding) any layer in `stop` down to `last`, in execution order. */
function chainTo(last: Layer, stop: ReadonlySet<Layer>, source: string): Layer[] {
  const out: Layer[] = [];
  for (let l: Layer | undefined = last; l !== undefined && !stop.has(l); l = parentOf(l, source)) out.unshift(l);
  return out;
}

/**
 * A multi-exit model split into per-exit segments.
 *
 * Shapes: `run` takes one input of the model's input shape without the batch axis (e.g. 28·28·1 floats for the
 * Fashion-MNIST CNN, 122 for the NSL-KDD MLP) and evaluates a batch of one.
 */
export class BlockModel {
  /** Number of exits K. */
  readonly nExits: number;
  /** Number of classes C. */
  readonly nClasses: number;
  /** Input shape without the batch axis. */
  readonly inputShape: readonly number[];
  /** Floats per input (product of `inputShape`). */
  readonly inputSize: number;
  readonly #model: tf.LayersModel;
  readonly #segments: readonly Segment[];
  /** Per exit: the head ends in logits (a linear layer, as fixtures stored as logits are built), so the step applies the softmax. */
  readonly #logits: readonly boolean[];

  /**
   * @param model a functional model whose K ≥ 2 outputs are the exits' heads in depth order: softmax layers, or
   *   linear layers giving logits (the softmax is then applied here, so `step` always returns probabilities).
   * @param source where it came from, for error messages.
   */
  constructor(model: tf.LayersModel, source = 'BlockModel') {
    const K = model.outputs.length;
    if (K < 2) throw new InputError(source, 'outputs', 'at least 2 exits', String(K));
    if (model.inputs.length !== 1) throw new InputError(source, 'inputs', 'one input', String(model.inputs.length));
    const outLayers = model.outputs.map((t) => t.sourceLayer as Layer);
    const ancestors = outLayers.map((l) => {
      const set = new Set<Layer>();
      const visit = (x: Layer): void => {
        if (set.has(x)) return;
        set.add(x);
        for (const node of x.inboundNodes) for (const p of node.inboundLayers) visit(p);
      };
      visit(l);
      return set;
    });
    const segments: Segment[] = [];
    const done = new Set<Layer>();
    for (let k = 0; k < K; k++) {
      const own = [...ancestors[k]].filter((l) => !done.has(l) && l.getClassName() !== 'InputLayer');
      const next = k + 1 < K ? ancestors[k + 1] : undefined;
      // The trunk ends at the last own layer the next exit also needs; the head is the chain from there to the
      // output. For the last exit everything is head (nothing after it needs a trunk output).
      const trunkSet = new Set(next ? own.filter((l) => next.has(l)) : []);
      const headChain = chainTo(outLayers[k], new Set([...trunkSet, ...done]), source);
      let trunk: Layer[] = [];
      if (trunkSet.size > 0) {
        const first = headChain.length > 0 ? parentOf(headChain[0], source) : undefined;
        if (first === undefined || !trunkSet.has(first)) throw new InputError(source, `exit ${k}`, 'a head that branches off the end of its block', 'another topology');
        trunk = chainTo(first, done, source);
        if (trunk.length !== trunkSet.size) throw new InputError(source, `block ${k}`, 'a chain of layers', 'a branching block');
      }
      if (headChain.length + trunk.length !== own.length) throw new InputError(source, `exit ${k}`, 'block and head chains covering the exit\'s layers', `${own.length} layers, ${headChain.length + trunk.length} in chains`);
      for (const l of own) done.add(l);
      segments.push({ trunk, head: headChain });
    }
    this.#model = model;
    this.#segments = segments;
    this.#logits = outLayers.map((l) => ((l.getConfig() as { activation?: string }).activation ?? 'linear') !== 'softmax');
    this.nExits = K;
    this.nClasses = model.outputs[0].shape[1] as number;
    this.inputShape = (model.inputs[0].shape as (number | null)[]).slice(1) as number[];
    this.inputSize = this.inputShape.reduce((a, b) => a * b, 1);
  }

  /**
   * Start one request: returns a runner whose `step()` runs the next segment and returns that exit's class
   * probabilities (length C, read back synchronously, so its time is part of the step). `dispose()` frees the
   * trunk activation kept between steps; call it when the request leaves (also after the last exit).
   * @param input one input, length `inputSize`, laid out as `inputShape` row-major.
   */
  start(input: Float32Array): ExitRunner {
    if (input.length !== this.inputSize) throw new InputError('BlockModel.start', 'input', `${this.inputSize} floats (shape ${this.inputShape.join('×')})`, `${input.length}`);
    let carry: tf.Tensor | undefined = tf.tensor(input, [1, ...this.inputShape]);
    let k = 0;
    const segs = this.#segments;
    const logits = this.#logits;
    return {
      get next(): number {
        return k;
      },
      step: (): Float32Array => {
        if (k >= segs.length || carry === undefined) throw new Error(`BlockModel: step() after the last exit`);
        const seg = segs[k];
        const x = carry;
        const [trunkOut, probs] = tf.tidy(() => {
          let h = x;
          for (const l of seg.trunk) h = l.apply(h) as tf.Tensor;
          let o = h;
          for (const l of seg.head) o = l.apply(o) as tf.Tensor;
          if (logits[k]) o = tf.softmax(o);
          // Keep the trunk output for the next segment (tidy would dispose it otherwise).
          return [seg.trunk.length > 0 ? tf.keep(h) : undefined, o] as const;
        }) as unknown as [tf.Tensor | undefined, tf.Tensor];
        const p = probs.dataSync() as Float32Array;
        probs.dispose();
        if (seg.trunk.length > 0) {
          x.dispose();
          carry = trunkOut;
        }
        k++;
        return p;
      },
      dispose: (): void => {
        carry?.dispose();
        carry = undefined;
      },
    };
  }

  /** Free the model's weights. */
  dispose(): void {
    this.#model.dispose();
  }
}

/** One request's pass through a `BlockModel`. */
export interface ExitRunner {
  /** The exit the next `step()` will reach (0-based); K after the last. */
  readonly next: number;
  /** Run the next segment; its exit's softmax probabilities, length C. */
  step(): Float32Array;
  /** Free the tensors kept between steps. Idempotent. */
  dispose(): void;
}

/**
 * Load `model.json` + its weight shards from a fixture folder (without tfjs-node's file handler) and split it.
 * @throws InputError naming the file when it is missing or malformed.
 */
export async function loadBlockModel(dir: string): Promise<BlockModel> {
  const path = join(dir, 'model.json');
  let json: { modelTopology?: object; weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] };
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InputError(path, 'file', 'a readable TF.js layers-model JSON', (err as Error).message);
  }
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) throw new InputError(path, 'modelTopology/weightsManifest', 'a TF.js layers-model JSON', 'missing fields');
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const buffers = json.weightsManifest.flatMap((g) =>
    g.paths.map((p) => {
      let b: Buffer;
      try {
        b = readFileSync(join(dir, p));
      } catch (err) {
        throw new InputError(join(dir, p), 'file', 'the weight shard listed in model.json', (err as NodeJS.ErrnoException).code ?? String(err));
      }
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    }),
  );
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData: tf.io.CompositeArrayBuffer.join(buffers) }));
  return new BlockModel(model, path);
}
