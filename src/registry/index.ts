export * from './registry.js';
export * from './provenance.js';
