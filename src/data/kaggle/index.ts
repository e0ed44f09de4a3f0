export * from './columns.js';
export * from './read.js';
export * from './write.js';
export * from './submission.js';
