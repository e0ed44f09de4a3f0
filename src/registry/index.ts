export * from './registry.js';
export * from './provenance.js';
export * from './record.js';
