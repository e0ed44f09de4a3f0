/** GET /v1/models, /healthz and /openapi.json. */
import type { FastifyInstance } from 'fastify';
import type { InferenceGate } from '../inference-gate.js';
import type { HealthResponse, ModelsResponse } from '../api-types.js';

export function registerInfoRoutes(app: FastifyInstance, deps: { models: ModelsResponse; gate: InferenceGate; openApi: object }): void {
  const started = performance.now();
  app.get('/v1/models', async () => deps.models);
  app.get('/healthz', async (): Promise<HealthResponse> => ({
    status: 'ok',
    model: deps.models.models[0]?.name ?? '',
    uptimeS: Math.round((performance.now() - started) / 100) / 10,
    ...deps.gate.stats,
  }));
  app.get('/openapi.json', async () => deps.openApi);
}
