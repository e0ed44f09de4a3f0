export { FaceDetector, DEFAULT_VARIANTS, type FaceDetectorOptions } from './face-detector.js';
export { ModelLoadError } from './blazeface-network.js';
export { LANDMARK_ORDER, type DetectedFace, type FaceLandmarks, type Point } from './detected-face.js';
export { BLAZEFACE_MODELS, type BlazeFaceVariant } from './blazeface-model.js';
export { FITTED_BOX_MAPPINGS, mapToProtocolBox, type BoxMapping } from './box-mapping.js';
export { DETECTION_IOU, squareIou, boxErrors, bestMatch } from './protocol-match.js';
