/**
 * EENet (Ilhan et al., arXiv 2301.07099, WACV 2024) as one policy family in its own folder: the registry entry
 * and policy object (`spec.ts`), the model and its plain-JavaScript inference (`model.ts`), training in
 * TensorFlow.js (`training.ts`, which loads nothing until `initBackend()` has run) and save/load
 * (`serialisation.ts`).
 */
export * from './model.ts';
export * from './serialisation.ts';
export * from './spec.ts';
export * from './training.ts';
