/** What the face detector answers for one face. */
import type { FaceBox } from '../../data/crop.js';

/** A point in image pixels (0-based, pixel centres at integers). */
export interface Point {
  readonly x: number;
  readonly y: number;
}

/** BlazeFace's six keypoints; left and right are the subject's (the subject's right eye is on the image's left). */
export interface FaceLandmarks {
  readonly rightEye: Point;
  readonly leftEye: Point;
  readonly noseTip: Point;
  readonly mouthCentre: Point;
  readonly rightEarTragion: Point;
  readonly leftEarTragion: Point;
}

/** The order of BlazeFace's keypoints in its output. */
export const LANDMARK_ORDER = ['rightEye', 'leftEye', 'noseTip', 'mouthCentre', 'rightEarTragion', 'leftEarTragion'] as const satisfies readonly (keyof FaceLandmarks)[];

export interface DetectedFace {
  /** The detector's own box: top-left corner and size, in image pixels (pixel centres at integers). */
  readonly box: { readonly x: number; readonly y: number; readonly width: number; readonly height: number };
  /** Confidence in [0, 1]. */
  readonly score: number;
  readonly landmarks: FaceLandmarks;
  /** The YTF-15 protocol's face square predicted from box and landmarks (what the keypoint models crop). */
  readonly protocolBox: FaceBox;
}
