export { KeypointModel, type KeypointModelOptions, type PredictOptions } from './keypoint-model.js';
export { exportOnnx, ExportError, ONNX_OPSET, type ExportOptions } from './onnx/export.js';
export { inspectOnnx } from './onnx/inspect.js';
export { FKD_FORMAT, FKD_FORMAT_KEY, INPUT_NAME, OUTPUT_NAME, type FkdOnnxInfo } from './onnx/metadata.js';
export {
  KeypointPipeline,
  detectKeypoints,
  closeCachedPipelines,
  DEFAULT_MODEL_FILE,
  PHOTO_MAX_PIXELS,
  type FaceKeypoints,
  type PhotoResult,
  type PipelineOptions,
  type PhotoDetectOptions,
  type PipelineModelInfo,
} from './pipeline.js';
