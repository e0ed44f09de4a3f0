export { FaceDetector, ModelLoadError, LANDMARK_ORDER, type DetectedFace, type FaceDetectorOptions, type FaceLandmarks, type Point } from './face-detector.js';
export { BLAZEFACE_MODELS, type BlazeFaceVariant } from './blazeface-model.js';
export { FITTED_BOX_MAPPINGS, mapToProtocolBox, type BoxMapping } from './box-mapping.js';
export { DETECTION_IOU, squareIou, boxErrors, bestMatch } from './protocol-match.js';
