export * from './config.js';
export * from './schedule.js';
export * from './metrics.js';
export * from './curve.js';
export * from './run-directory.js';
export * from './trainer.js';
