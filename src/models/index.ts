export * from './spec.js';
export * from './file.js';
export * from './torch-model.js';
