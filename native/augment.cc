// Plain C++ parts of the engine (no libtorch): random streams, spec accessors and the
// geometric/photometric augmentation of faces with their keypoints.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine.h"

namespace fkd {

double LayerSpec::number(const std::string& key, double fallback) const {
  auto found = numbers.find(key);
  return found == numbers.end() ? fallback : found->second;
}

std::string LayerSpec::text(const std::string& key, const std::string& fallback) const {
  auto found = strings.find(key);
  return found == strings.end() ? fallback : found->second;
}

uint64_t Rng::next() {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double Rng::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

uint64_t Rng::below(uint64_t bound) {
  // Rejection sampling keeps the draw unbiased.
  const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % bound;
  uint64_t value;
  do value = next();
  while (value >= limit);
  return value % bound;
}

uint64_t mixSeed(uint64_t seed, uint64_t stream) {
  Rng rng(seed ^ (stream * 0xD1B54A32D192ED03ULL + 0x8CB92BA72F3D8DD7ULL));
  rng.next();
  return rng.next();
}

AugmentParams drawAugmentParams(Rng& rng, const AugmentOptions& options) {
  // Every draw is made whether or not its augmentation is on, so that toggling one
  // augmentation does not change the random values the others get.
  AugmentParams params;
  const double flipDraw = rng.uniform();
  const double angleDraw = rng.uniform(-1, 1);
  const double scaleDraw = rng.uniform(-1, 1);
  const double shiftXDraw = rng.uniform(-1, 1);
  const double shiftYDraw = rng.uniform(-1, 1);
  const double brightnessDraw = rng.uniform(-1, 1);
  const double contrastDraw = rng.uniform(-1, 1);
  params.flip = options.flip && flipDraw < 0.5;
  params.angle = angleDraw * options.rotationDegrees * M_PI / 180.0;
  params.scale = 1.0 + scaleDraw * options.scale;
  params.shiftX = shiftXDraw * options.shift;
  params.shiftY = shiftYDraw * options.shift;
  params.brightness = brightnessDraw * options.brightness;
  params.contrast = 1.0 + contrastDraw * options.contrast;
  return params;
}

namespace {

// The forward map A(p) = c + scale * R(angle) * (F(p) - c) + shift, F = optional mirror about c.
struct Affine {
  double centre, cosA, sinA, scale, shiftX, shiftY;
  bool flip;

  void forward(double x, double y, double& outX, double& outY) const {
    if (flip) x = 2 * centre - x;
    const double dx = x - centre, dy = y - centre;
    outX = centre + scale * (cosA * dx - sinA * dy) + shiftX;
    outY = centre + scale * (sinA * dx + cosA * dy) + shiftY;
  }

  void inverse(double x, double y, double& outX, double& outY) const {
    const double dx = (x - shiftX - centre) / scale, dy = (y - shiftY - centre) / scale;
    outX = centre + cosA * dx + sinA * dy;
    outY = centre - sinA * dx + cosA * dy;
    if (flip) outX = 2 * centre - outX;
  }
};

// Bilinear sample with zeros outside the image (as the protocol's crops are zero outside).
float sampleBilinear(const uint8_t* image, int64_t side, double x, double y) {
  const double fx = std::floor(x), fy = std::floor(y);
  const int64_t x0 = static_cast<int64_t>(fx), y0 = static_cast<int64_t>(fy);
  const double ax = x - fx, ay = y - fy;
  auto at = [&](int64_t px, int64_t py) -> double {
    return (px < 0 || py < 0 || px >= side || py >= side) ? 0.0 : static_cast<double>(image[py * side + px]);
  };
  const double top = at(x0, y0) * (1 - ax) + at(x0 + 1, y0) * ax;
  const double bottom = at(x0, y0 + 1) * (1 - ax) + at(x0 + 1, y0 + 1) * ax;
  return static_cast<float>((top * (1 - ay) + bottom * ay) / 255.0);
}

}  // namespace

void augmentFace(const uint8_t* image, const float* keypoints, int64_t side, int64_t pointCount, const AugmentParams& params,
                 const std::vector<int32_t>& flipPermutation, float* outImage, float* outKeypoints) {
  const Affine affine{(side - 1) / 2.0, std::cos(params.angle), std::sin(params.angle), params.scale, params.shiftX, params.shiftY,
                      params.flip};
  const int64_t pixels = side * side;
  const bool identityGeometry = !params.flip && params.angle == 0 && params.scale == 1 && params.shiftX == 0 && params.shiftY == 0;
  if (identityGeometry) {
    for (int64_t i = 0; i < pixels; i++) outImage[i] = image[i] / 255.0f;
  } else {
    for (int64_t y = 0; y < side; y++) {
      for (int64_t x = 0; x < side; x++) {
        double sx, sy;
        affine.inverse(static_cast<double>(x), static_cast<double>(y), sx, sy);
        outImage[y * side + x] = sampleBilinear(image, side, sx, sy);
      }
    }
  }
  if (params.brightness != 0 || params.contrast != 1) {
    double mean = 0;
    for (int64_t i = 0; i < pixels; i++) mean += outImage[i];
    mean /= static_cast<double>(pixels);
    for (int64_t i = 0; i < pixels; i++) {
      const double value = (outImage[i] - mean) * params.contrast + mean + params.brightness;
      outImage[i] = static_cast<float>(std::clamp(value, 0.0, 1.0));
    }
  }
  for (int64_t j = 0; j < pointCount; j++) {
    const int64_t source = params.flip ? flipPermutation.at(static_cast<size_t>(j)) : j;
    const float x = keypoints[2 * source], y = keypoints[2 * source + 1];
    if (std::isnan(x) || std::isnan(y)) {
      outKeypoints[2 * j] = outKeypoints[2 * j + 1] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    double tx, ty;
    affine.forward(x, y, tx, ty);
    outKeypoints[2 * j] = static_cast<float>(tx);
    outKeypoints[2 * j + 1] = static_cast<float>(ty);
  }
}

}  // namespace fkd
