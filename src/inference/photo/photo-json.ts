/**
 * The JSON document written for one photo (`fkd predict photo.jpg --out DIR`): the photo's
 * size, the model, and per face its box, score, crop box and named keypoints in photo pixels.
 * Pixel values are rounded to 0.01 px and scores to 1e-4, which is far below the model's error
 * and keeps the files readable; timings are left out so that the same photo and model always
 * give the same file.
 */
import type { FaceKeypoints, PhotoResult } from '../pipeline.js';
import type { PipelineModelInfo } from './model-info.js';

export interface PhotoJson {
  file: string;
  width: number;
  height: number;
  model: { name: string; version: string; schema: string };
  faces: FaceKeypoints[];
}

const px = (v: number): number => Math.round(v * 100) / 100;

export function photoJson(file: string, result: PhotoResult, model: Pick<PipelineModelInfo, 'name' | 'version' | 'schema'>): PhotoJson {
  return {
    file,
    width: result.width,
    height: result.height,
    model: { name: model.name, version: model.version, schema: model.schema },
    faces: result.faces.map((face) => ({
      box: { x: px(face.box.x), y: px(face.box.y), width: px(face.box.width), height: px(face.box.height) },
      score: Math.round(face.score * 1e4) / 1e4,
      cropBox: { cx: px(face.cropBox.cx), cy: px(face.cropBox.cy), s: px(face.cropBox.s) },
      keypoints: face.keypoints.map((k) => ({ name: k.name, x: px(k.x), y: px(k.y) })),
    })),
  };
}
