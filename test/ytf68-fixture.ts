import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';

/** One image of the fixture: where its 68 points are (undefined = unlabelled). */
export interface FixtureImage {
  folder: 'training' | 'test';
  name: string;
  points?: Float64Array;
}

/** 68 points spread over a face-like oval inside a 160x140 image, varied per index. */
export function fixturePoints(index: number): Float64Array {
  const points = new Float64Array(136);
  for (let p = 0; p < 68; p++) {
    const angle = (p / 68) * 2 * Math.PI;
    points[2 * p] = Math.round(80 + (25 + (p % 5)) * Math.cos(angle) + index);
    points[2 * p + 1] = Math.round(70 + (30 + (p % 3)) * Math.sin(angle) - index);
  }
  return points;
}

/**
 * A tiny ytf68-shaped folder: identity Ann in train (3 labelled, one of them kaggle_sparse,
 * plus 1 unlabelled), Bob in dev (1 labelled), Cid in test (1 labelled).
 */
export async function makeYtf68Fixture(dir: string): Promise<FixtureImage[]> {
  const images: FixtureImage[] = [
    { folder: 'training', name: 'Ann_00.jpg', points: fixturePoints(0) },
    { folder: 'training', name: 'Ann_01.jpg', points: fixturePoints(1) },
    { folder: 'test', name: 'Ann_02.jpg', points: fixturePoints(2) },
    { folder: 'test', name: 'Ann_03.jpg' },
    { folder: 'training', name: 'Bob_00.jpg', points: fixturePoints(3) },
    { folder: 'test', name: 'Cid_00.jpg', points: fixturePoints(4) },
  ];
  await mkdir(join(dir, 'training'), { recursive: true });
  await mkdir(join(dir, 'test'), { recursive: true });
  for (const [i, image] of images.entries()) {
    const pixels = Buffer.alloc(160 * 140 * 3);
    for (let k = 0; k < pixels.length; k++) pixels[k] = (k * (i + 3) * 31) % 251;
    await sharp(pixels, { raw: { width: 160, height: 140, channels: 3 } }).jpeg().toFile(join(dir, image.folder, image.name));
  }
  const header = ',' + Array.from({ length: 136 }, (_, i) => i).join(',');
  for (const folder of ['training', 'test'] as const) {
    const rows = images.filter((im) => im.folder === folder && im.points).map((im) => [im.name, ...Array.from(im.points!)].join(','));
    await writeFile(join(dir, `${folder}_frames_keypoints.csv`), [header, ...rows].join('\n') + '\n');
  }
  const split = {
    about: 'test fixture',
    seed: 1,
    identities: { train: ['Ann'], dev: ['Bob'], test: ['Cid'] },
    counts: {
      train: { identities: 1, labelled_images: 3, unlabelled_images: 1 },
      dev: { identities: 1, labelled_images: 1, unlabelled_images: 0 },
      test: { identities: 1, labelled_images: 1, unlabelled_images: 0 },
    },
    kaggle_sparse: ['training/Ann_01.jpg'],
  };
  await writeFile(join(dir, 'split.json'), JSON.stringify(split));
  return images;
}
