// The training engine's C++ interface. Deliberately free of libtorch and N-API types, so that
// the binding (addon.cc) and the augmentation code (augment.cc) compile quickly and stay small;
// only engine.cc includes libtorch.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fkd {

// One layer of an architecture spec, as converted from its JSON by the binding.
struct LayerSpec {
  std::string type;
  std::map<std::string, double> numbers;
  std::map<std::string, std::string> strings;
  std::vector<LayerSpec> layers;  // residual blocks: the block's body

  double number(const std::string& key, double fallback) const;
  std::string text(const std::string& key, const std::string& fallback) const;
};

struct ModelSpec {
  int64_t inputSize = 96;
  int64_t outputs = 30;
  std::vector<LayerSpec> layers;
};

// Small, portable, serialisable generator (SplitMix64): the same stream on every platform and
// standard library, which std::shuffle and std distributions do not promise.
struct Rng {
  uint64_t state;
  explicit Rng(uint64_t seed) : state(seed) {}
  uint64_t next();
  double uniform();                 // [0, 1)
  double uniform(double lo, double hi);
  uint64_t below(uint64_t bound);   // [0, bound)
};

// Mixes a seed with a stream number (e.g. the epoch) into an independent seed.
uint64_t mixSeed(uint64_t seed, uint64_t stream);

struct AugmentOptions {
  bool flip = false;
  std::vector<int32_t> flipPermutation;  // output point j takes mirrored source point flipPermutation[j]
  double rotationDegrees = 0;            // uniform in ±rotationDegrees
  double scale = 0;                      // zoom factor uniform in 1 ± scale
  double shift = 0;                      // translation uniform in ±shift pixels, per axis
  double brightness = 0;                 // added to [0,1] pixels, uniform in ±brightness
  double contrast = 0;                   // factor about the image mean, uniform in 1 ± contrast

  bool any() const { return flip || rotationDegrees > 0 || scale > 0 || shift > 0 || brightness > 0 || contrast > 0; }
};

struct AugmentParams {
  bool flip = false;
  double angle = 0;  // radians
  double scale = 1;
  double shiftX = 0, shiftY = 0;
  double brightness = 0;
  double contrast = 1;
};

AugmentParams drawAugmentParams(Rng& rng, const AugmentOptions& options);

// Warps one side x side grey face and its keypoints (pixel coordinates, NaN = missing) by the
// same transform. Pixel centres are at integers, so the image centre is ((side-1)/2, (side-1)/2)
// and a flip maps u to side-1-u. Writes [0,1] floats and transformed (and, for a flip, permuted)
// keypoints.
void augmentFace(const uint8_t* image, const float* keypoints, int64_t side, int64_t pointCount, const AugmentParams& params,
                 const std::vector<int32_t>& flipPermutation, float* outImage, float* outKeypoints);

// Faces and keypoints handed to the engine once; batches are gathered from here.
struct Dataset {
  std::vector<uint8_t> images;   // size * side * side
  std::vector<float> keypoints;  // size * pointCount * 2, pixel coordinates, NaN = missing
  int64_t size = 0;
  int64_t pointCount = 0;
  int64_t side = 96;
};

struct OptimizerOptions {
  std::string type = "adam";  // adam | adamw | sgd
  double learningRate = 1e-3;
  double weightDecay = 0;
  double momentum = 0.9;      // sgd
  bool nesterov = false;      // sgd
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adam, adamw
};

struct EpochOptions {
  int64_t epoch = 0;  // selects the epoch's random streams: shuffling, augmentation, dropout
  int64_t batchSize = 64;
  bool shuffle = true;
  double gradClipNorm = 0;  // 0 = no clipping
  AugmentOptions augment;
};

struct EpochResult {
  double sumSquaredError = 0;  // over present coordinates, in pixels squared
  int64_t coordinates = 0;
  int64_t batches = 0;
  int64_t images = 0;
  double seconds = 0;
};

struct TensorData {
  std::string name;
  std::string dtype;  // float32 | int64
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // little-endian, row-major (contiguous)
};

struct ModelOptions {
  uint64_t seed = 1;
  std::string device = "cpu";  // cpu | cuda | cuda:N
  bool channelsLast = false;
};

using BatchCallback = std::function<void(int64_t batch, int64_t batches, double loss)>;

class Model {
 public:
  Model(const ModelSpec& spec, const ModelOptions& options);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  int64_t parameterCount() const;
  void setOptimizer(const OptimizerOptions& options);
  void setLearningRate(double learningRate);
  EpochResult trainEpoch(const Dataset& data, const EpochOptions& options, const BatchCallback& onBatch);
  // Keypoints in pixel coordinates, count * outputs floats.
  std::vector<float> predict(const uint8_t* images, int64_t count, int64_t side, int64_t batchSize);
  std::vector<TensorData> stateTensors();
  void loadStateTensors(const std::vector<TensorData>& tensors);
  std::vector<uint8_t> optimizerState();
  void loadOptimizerState(const std::vector<uint8_t>& bytes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Masked MSE in double precision and its autograd gradient (rows x cols, NaN targets = missing).
double maskedMseGradient(const std::vector<double>& predictions, const std::vector<double>& targets, int64_t rows,
                         std::vector<double>& gradient);

// Intra-op threads for every engine call (0 = all cores). Applied on the thread that runs the
// work, because OpenMP's thread count is per calling thread.
void setThreadCount(int threads);
int threadCount();
void applyThreadCount();

// Replaces libtorch's CPU allocator with one that reuses freed blocks (FKD_CPU_CACHE_MB caps the
// cache, default 4096; 0 keeps libtorch's allocator). Called once when the addon loads.
void installCachingAllocator();

std::string libtorchVersion();
bool cudaAvailable();

// libtorch errors carry a backtrace in what(); this returns the message a user should see.
std::string describeException(const std::exception& error);

}  // namespace fkd
