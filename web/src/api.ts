/** Calls to this page's server. */
import type { ApiErrorResponse, KeypointsResponse, ModelsResponse } from '../../src/serving/api-types.js';

export async function fetchModels(): Promise<ModelsResponse> {
  return (await checked(await fetch('/v1/models'))).json() as Promise<ModelsResponse>;
}

/** Sends the image's bytes as they are (the server sniffs the format and applies EXIF orientation). */
export async function serverKeypoints(image: Blob): Promise<KeypointsResponse> {
  const response = await fetch('/v1/keypoints', {
    method: 'POST',
    headers: { 'content-type': image.type || 'application/octet-stream' },
    body: image,
  });
  return (await checked(response)).json() as Promise<KeypointsResponse>;
}

async function checked(response: Response): Promise<Response> {
  if (response.ok) return response;
  let message = `${response.status} ${response.statusText}`;
  try {
    message = ((await response.json()) as ApiErrorResponse).error.message;
  } catch {
    // Not our JSON error (a proxy's page, a dropped connection): keep the status line.
  }
  throw new Error(message);
}
