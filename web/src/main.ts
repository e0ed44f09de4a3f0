/**
 * The page: pick or drop a photo, or run the webcam, and see the keypoints drawn on the face;
 * inference on the server (POST /v1/keypoints) or in this browser (onnxruntime-web, the same
 * ONNX models). State for tests: body[data-state] (loading, ready, busy, done, error),
 * body[data-engine], #overlay[data-points], and window.fkd.last (the last result shown).
 */
import type { KeypointsResponse, ModelsResponse } from '../../src/serving/api-types.js';
import { fetchModels, serverKeypoints } from './api.js';
import type { BrowserPipeline } from './browser-pipeline.js';
import { drawFrame, frameJpeg, type Frame } from './frame.js';
import { KeypointOverlay } from './overlay.js';

type Engine = 'server' | 'browser';

declare global {
  interface Window {
    fkd: { last?: { engine: Engine; result: KeypointsResponse }; frames: number };
  }
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const elements = {
  fileInput: $<HTMLInputElement>('file-input'),
  webcamButton: $<HTMLButtonElement>('webcam-button'),
  status: $<HTMLParagraphElement>('status'),
  dropZone: $<HTMLElement>('drop-zone'),
  stage: $<HTMLDivElement>('stage'),
  hint: $<HTMLParagraphElement>('hint'),
  photo: $<HTMLCanvasElement>('photo'),
  overlay: $<HTMLCanvasElement>('overlay'),
  tooltip: $<HTMLDivElement>('tooltip'),
  video: $<HTMLVideoElement>('webcam'),
  modelName: $<HTMLSpanElement>('model-name'),
};

const overlay = new KeypointOverlay(elements.overlay);
window.fkd = { frames: 0 };
let models: ModelsResponse;
let browserPipeline: Promise<BrowserPipeline> | undefined;
/** Bumped for every new picture: answers for an older one are dropped. */
let generation = 0;
let webcam: MediaStream | undefined;

function setState(state: 'loading' | 'ready' | 'busy' | 'done' | 'error', message: string): void {
  document.body.dataset.state = state;
  elements.status.textContent = message;
}

function engine(): Engine {
  const checked = document.querySelector<HTMLInputElement>('input[name="engine"]:checked');
  return checked?.value === 'browser' ? 'browser' : 'server';
}

/** onnxruntime-web and the models load on first use of in-browser inference (~50 MB). */
function loadBrowserPipeline(): Promise<BrowserPipeline> {
  browserPipeline ??= import('./browser-pipeline.js').then(({ BrowserPipeline }) => BrowserPipeline.load(models));
  browserPipeline.catch(() => (browserPipeline = undefined));
  return browserPipeline;
}

async function infer(frame: Frame, original: Blob | undefined, which: Engine): Promise<KeypointsResponse> {
  if (which === 'server') return serverKeypoints(original ?? (await frameJpeg(frame)));
  return (await loadBrowserPipeline()).run(frame);
}

function show(frame: Frame, result: KeypointsResponse, which: Engine): void {
  overlay.draw(frame.width, frame.height, result.faces, models.models[0].colours);
  window.fkd.last = { engine: which, result };
  document.body.dataset.engine = which;
  const t = result.timings;
  const where = which === 'server' ? 'server' : 'browser';
  const faces = result.faces.length === 1 ? '1 face' : `${result.faces.length} faces`;
  setState('done', `${faces} · ${where} · ${Math.round(t.totalMs)} ms (detect ${Math.round(t.detectMs)}, keypoints ${Math.round(t.keypointsMs)})`);
}

async function showPhoto(file: File): Promise<void> {
  stopWebcam();
  const mine = ++generation;
  const which = engine();
  setState('busy', `Reading ${file.name}…`);
  try {
    // EXIF orientation applied, as the server does.
    const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
    const frame = drawFrame(elements.photo, bitmap, bitmap.width, bitmap.height);
    bitmap.close();
    elements.stage.hidden = false;
    elements.hint.hidden = true;
    overlay.clear();
    setState('busy', which === 'server' ? 'Asking the server…' : 'Running in the browser…');
    const result = await infer(frame, file, which);
    if (mine === generation) show(frame, result, which);
  } catch (err) {
    if (mine === generation) setState('error', `Could not process ${file.name}: ${(err as Error).message}`);
  }
}

async function startWebcam(): Promise<void> {
  const mine = ++generation;
  try {
    webcam = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (err) {
    setState('error', `No webcam: ${(err as Error).message}`);
    return;
  }
  elements.video.srcObject = webcam;
  await elements.video.play();
  elements.webcamButton.textContent = 'Stop webcam';
  elements.webcamButton.classList.add('active');
  elements.stage.hidden = false;
  elements.hint.hidden = true;
  setState('busy', 'Webcam on');
  // One frame in flight at a time: the overlay follows as fast as inference allows.
  while (webcam && mine === generation) {
    // Yield until the camera has a new frame: in-browser inference settles in microtasks, and a
    // loop that never waits for a task would starve rendering and input.
    await nextVideoFrame(elements.video);
    if (!webcam || mine !== generation) break;
    const { videoWidth: width, videoHeight: height } = elements.video;
    if (width === 0 || height === 0) continue;
    const frame = drawFrame(elements.photo, elements.video, width, height);
    const which = engine();
    try {
      const result = await infer(frame, undefined, which);
      if (mine !== generation) break;
      show(frame, result, which);
      window.fkd.frames++;
    } catch (err) {
      setState('error', `Webcam frame failed: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** Resolves when the video presents its next frame (or at the next paint where that callback is missing). */
function nextVideoFrame(video: HTMLVideoElement): Promise<void> {
  return new Promise((resolve) => {
    if ('requestVideoFrameCallback' in video) video.requestVideoFrameCallback(() => resolve());
    else requestAnimationFrame(() => resolve());
  });
}

function stopWebcam(): void {
  if (!webcam) return;
  for (const track of webcam.getTracks()) track.stop();
  webcam = undefined;
  elements.video.srcObject = null;
  elements.webcamButton.textContent = 'Start webcam';
  elements.webcamButton.classList.remove('active');
}

function wireControls(): void {
  elements.fileInput.addEventListener('change', () => {
    const file = elements.fileInput.files?.[0];
    if (file) void showPhoto(file);
    elements.fileInput.value = '';
  });
  elements.webcamButton.addEventListener('click', () => {
    if (webcam) {
      generation++;
      stopWebcam();
      setState('ready', 'Webcam stopped');
    } else {
      void startWebcam();
    }
  });
  const zone = elements.dropZone;
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('dragging');
    const file = event.dataTransfer?.files[0];
    if (file) void showPhoto(file);
  });
  elements.overlay.addEventListener('mousemove', (event) => {
    const point = overlay.pointAt(event.offsetX, event.offsetY);
    const tip = elements.tooltip;
    if (!point) {
      tip.hidden = true;
      return;
    }
    const { left, top } = overlay.cssPosition(point);
    const severalFaces = overlay.points.some((p) => p.face !== point.face);
    tip.textContent = severalFaces ? `${point.name} (face ${point.face + 1})` : point.name;
    tip.style.left = `${left}px`;
    tip.style.top = `${top}px`;
    tip.hidden = false;
  });
  elements.overlay.addEventListener('mouseleave', () => (elements.tooltip.hidden = true));
  for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="engine"]')) {
    radio.addEventListener('change', () => {
      if (engine() === 'browser') {
        setState('busy', 'Loading the models into the browser…');
        loadBrowserPipeline().then(
          () => setState('ready', 'In-browser inference ready'),
          (err: Error) => setState('error', `In-browser inference unavailable: ${err.message}`),
        );
      }
    });
  }
}

async function start(): Promise<void> {
  wireControls();
  try {
    models = await fetchModels();
  } catch (err) {
    setState('error', `Cannot reach the server: ${(err as Error).message}`);
    return;
  }
  const model = models.models[0];
  elements.modelName.textContent = `model ${model.name} ${model.version} · ${model.points.length} ${model.schema} points`;
  if (!model.url) {
    const browserChoice = document.querySelector<HTMLInputElement>('input[name="engine"][value="browser"]')!;
    browserChoice.disabled = true;
    browserChoice.parentElement!.title = 'This server does not offer its model for in-browser inference';
  }
  setState('ready', 'Drop a photo, choose one, or start the webcam.');
}

void start();
