export * from './schema/index.js';
export * from './data/dataset.js';
export * from './data/errors.js';
export * from './data/kaggle/index.js';
export * from './engine/index.js';
export * from './models/index.js';
export * from './training/index.js';
