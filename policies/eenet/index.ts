/**
 * EENet (Ilhan et al., arXiv 2301.07099, WACV 2024) as one policy family in its own folder: the registry entry
 * and policy object (`spec.ts`), the model and its plain-JavaScript inference (`model.ts`), training
 * (`training.ts`: the loss in TensorFlow.js as the specification, which loads nothing until `initBackend()` has
 * run, and the fused plain-JavaScript step of `fused.ts` that trains) and save/load (`serialisation.ts`).
 */
export * from './model.ts';
export * from './serialisation.ts';
export * from './spec.ts';
export * from './training.ts';
export * from './fused.ts';
