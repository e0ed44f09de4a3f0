// The libtorch side of the engine: builds networks from specs, trains them with libtorch's
// autograd and optimisers, predicts, and moves weights and optimiser state in and out.
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <cstdlib>

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <torch/torch.h>

#include "engine.h"

namespace fkd {
namespace {

using torch::Tensor;
using Saved = std::map<std::string, Tensor>;
using Step = std::function<Tensor(const Tensor&, Saved&)>;

// Keypoints are learned as (u - centre) / (side / 2), which keeps targets near [-1, 1].
struct CoordinateScale {
  double centre, half;
  explicit CoordinateScale(int64_t side) : centre((side - 1) / 2.0), half(side / 2.0) {}
};

std::atomic<int> requestedThreads{0};

// libtorch's default generator is process-wide: runs that seed it and draw from it take turns.
std::mutex& generatorMutex() {
  static std::mutex mutex;
  return mutex;
}

[[noreturn]] void specError(const std::string& where, const std::string& problem) {
  throw std::invalid_argument("model spec, " + where + ": " + problem);
}

// A sequence of steps; named steps keep their output for later concatenation.
class BlockImpl : public torch::nn::Module {
 public:
  std::vector<Step> steps;
  std::vector<std::string> names;

  Tensor forward(Tensor x, Saved& saved) {
    for (size_t i = 0; i < steps.size(); i++) {
      x = steps[i](x, saved);
      if (!names[i].empty()) saved[names[i]] = x;
    }
    return x;
  }
};
TORCH_MODULE(Block);

void initialise(const Tensor& weight, const Tensor& bias, const std::string& init, const std::string& where) {
  torch::NoGradGuard noGrad;
  if (init == "default") return;  // libtorch's own (PyTorch's) initialisation
  if (init == "lecunNormal") {
    // SELU's self-normalisation assumes weights ~ N(0, 1/fan_in).
    const double fanIn = static_cast<double>(weight.numel() / weight.size(0));
    weight.normal_(0.0, 1.0 / std::sqrt(fanIn));
  } else if (init == "heNormal") {
    torch::nn::init::kaiming_normal_(weight, 0.0, torch::kFanIn, torch::kReLU);
  } else if (init == "xavierUniform") {
    torch::nn::init::xavier_uniform_(weight);
  } else {
    specError(where, "unknown init \"" + init + "\" (known: default, lecunNormal, heNormal, xavierUniform)");
  }
  if (bias.defined()) bias.zero_();
}

Step activationStep(const std::string& name, double slope, double alpha, const std::string& where) {
  if (name == "relu") return [](const Tensor& x, Saved&) { return torch::relu(x); };
  if (name == "elu") return [alpha](const Tensor& x, Saved&) { return torch::elu(x, alpha); };
  if (name == "selu") return [](const Tensor& x, Saved&) { return torch::selu(x); };
  if (name == "leakyRelu") return [slope](const Tensor& x, Saved&) { return torch::leaky_relu(x, slope); };
  if (name == "tanh") return [](const Tensor& x, Saved&) { return torch::tanh(x); };
  if (name == "sigmoid") return [](const Tensor& x, Saved&) { return torch::sigmoid(x); };
  specError(where, "unknown activation \"" + name + "\" (known: relu, elu, selu, leakyRelu, tanh, sigmoid)");
}

bool isActivation(const std::string& type) {
  return type == "relu" || type == "elu" || type == "selu" || type == "leakyRelu" || type == "tanh" || type == "sigmoid";
}

int64_t positive(const LayerSpec& layer, const std::string& key, double fallback, const std::string& where) {
  const double value = layer.number(key, fallback);
  if (!(value >= 1) || value != std::floor(value)) specError(where, "\"" + key + "\" must be a positive integer");
  return static_cast<int64_t>(value);
}

double rate(const LayerSpec& layer, const std::string& where) {
  const double value = layer.number("rate", -1);
  if (!(value >= 0 && value < 1)) specError(where, "\"rate\" must be in [0, 1)");
  return value;
}

std::string shapeText(const Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

// Builds layers into `block`, running a probe tensor through each new step (in eval mode, no
// autograd) to learn the shapes the next layer needs.
Tensor buildBlock(BlockImpl& block, const std::vector<LayerSpec>& layers, Tensor probe, Saved& probeSaved, const std::string& path) {
  for (size_t i = 0; i < layers.size(); i++) {
    const LayerSpec& layer = layers[i];
    const std::string where = path + "layers[" + std::to_string(i) + "] (" + layer.type + ")";
    const std::string moduleName = std::to_string(i) + "_" + layer.type;
    Step step;
    std::vector<Step> tail;  // fused activation after conv/dense

    auto fusedActivation = [&](const std::string& activation) {
      if (activation != "none") tail.push_back(activationStep(activation, layer.number("slope", 0.01), layer.number("alpha", 1.0), where));
    };

    if (layer.type == "conv") {
      if (probe.dim() != 4) specError(where, "needs a 4-D (image) input, got " + shapeText(probe));
      const int64_t kernel = positive(layer, "kernel", 3, where);
      const int64_t dilation = positive(layer, "dilation", 1, where);
      const int64_t stride = positive(layer, "stride", 1, where);
      const std::string paddingMode = layer.text("padding", "");
      const int64_t padding = paddingMode == "same" ? dilation * (kernel - 1) / 2 : static_cast<int64_t>(layer.number("padding", 0));
      if (!paddingMode.empty() && paddingMode != "same") specError(where, "\"padding\" must be a number or \"same\"");
      auto conv = block.register_module(moduleName, torch::nn::Conv2d(torch::nn::Conv2dOptions(probe.size(1), positive(layer, "filters", 0, where), kernel)
                                                                        .stride(stride)
                                                                        .padding(padding)
                                                                        .dilation(dilation)
                                                                        .bias(layer.number("bias", 1) != 0)));
      const std::string activation = layer.text("activation", "none");
      initialise(conv->weight, conv->bias, layer.text("init", activation == "selu" ? "lecunNormal" : "default"), where);
      step = [conv](const Tensor& x, Saved&) { return conv->forward(x); };
      fusedActivation(activation);
    } else if (layer.type == "dense") {
      const int64_t inFeatures = probe.numel() / probe.size(0);
      auto dense = block.register_module(moduleName, torch::nn::Linear(torch::nn::LinearOptions(inFeatures, positive(layer, "units", 0, where))
                                                                          .bias(layer.number("bias", 1) != 0)));
      const std::string activation = layer.text("activation", "none");
      initialise(dense->weight, dense->bias, layer.text("init", activation == "selu" ? "lecunNormal" : "default"), where);
      step = [dense](const Tensor& x, Saved&) { return dense->forward(x.dim() > 2 ? x.flatten(1) : x); };
      fusedActivation(activation);
    } else if (layer.type == "batchnorm") {
      const double momentum = layer.number("momentum", 0.1), eps = layer.number("eps", 1e-5);
      if (probe.dim() == 4) {
        auto norm = block.register_module(moduleName, torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(probe.size(1)).momentum(momentum).eps(eps)));
        step = [norm](const Tensor& x, Saved&) { return norm->forward(x); };
      } else {
        auto norm = block.register_module(moduleName, torch::nn::BatchNorm1d(torch::nn::BatchNorm1dOptions(probe.size(1)).momentum(momentum).eps(eps)));
        step = [norm](const Tensor& x, Saved&) { return norm->forward(x); };
      }
    } else if (isActivation(layer.type)) {
      step = activationStep(layer.type, layer.number("slope", 0.01), layer.number("alpha", 1.0), where);
    } else if (layer.type == "maxpool" || layer.type == "avgpool") {
      if (probe.dim() != 4) specError(where, "needs a 4-D (image) input, got " + shapeText(probe));
      const int64_t size = positive(layer, "size", 2, where);
      const int64_t stride = positive(layer, "stride", static_cast<double>(size), where);
      const int64_t padding = static_cast<int64_t>(layer.number("padding", 0));
      if (layer.type == "maxpool")
        step = [=](const Tensor& x, Saved&) { return torch::max_pool2d(x, {size, size}, {stride, stride}, {padding, padding}); };
      else
        step = [=](const Tensor& x, Saved&) { return torch::avg_pool2d(x, {size, size}, {stride, stride}, {padding, padding}); };
    } else if (layer.type == "globalAvgPool") {
      step = [](const Tensor& x, Saved&) { return x.mean({2, 3}); };
    } else if (layer.type == "globalMaxPool") {
      step = [](const Tensor& x, Saved&) { return x.amax({2, 3}); };
    } else if (layer.type == "dropout" || layer.type == "alphaDropout") {
      const double p = rate(layer, where);
      BlockImpl* owner = &block;
      if (layer.type == "dropout")
        step = [owner, p](const Tensor& x, Saved&) { return torch::dropout(x, p, owner->is_training()); };
      else
        step = [owner, p](const Tensor& x, Saved&) { return torch::alpha_dropout(x, p, owner->is_training()); };
    } else if (layer.type == "standardize") {
      const double mean = layer.number("mean", 0), std = layer.number("std", 1);
      if (!(std > 0)) specError(where, "\"std\" must be positive");
      step = [mean, std](const Tensor& x, Saved&) { return (x - mean) / std; };
    } else if (layer.type == "flatten") {
      step = [](const Tensor& x, Saved&) { return x.flatten(1); };
    } else if (layer.type == "residual") {
      if (layer.layers.empty()) specError(where, "needs a non-empty \"layers\" list");
      auto body = block.register_module(moduleName, Block());
      Saved innerSaved = probeSaved;
      Tensor out = buildBlock(*body, layer.layers, probe, innerSaved, where + ".");
      std::shared_ptr<torch::nn::Conv2dImpl> projection;
      if (out.sizes() != probe.sizes()) {
        // The shortcut must match the body's output: a strided 1x1 convolution does that.
        if (out.dim() != 4 || probe.dim() != 4 || probe.size(2) % out.size(2) != 0)
          specError(where, "body output " + shapeText(out) + " cannot be matched to its input " + shapeText(probe));
        const int64_t stride = probe.size(2) / out.size(2);
        projection = block.register_module(moduleName + "_shortcut",
                                           torch::nn::Conv2d(torch::nn::Conv2dOptions(probe.size(1), out.size(1), 1).stride(stride)));
      }
      step = [body, projection](const Tensor& x, Saved& saved) {
        Saved inner = saved;
        Tensor y = body->forward(x, inner);
        return y + (projection ? projection->forward(x) : x);
      };
      fusedActivation(layer.text("activation", "none"));
    } else if (layer.type == "upsample") {
      const double scale = layer.number("scale", 2);
      const std::string mode = layer.text("mode", "nearest");
      if (mode != "nearest" && mode != "bilinear") specError(where, "\"mode\" must be nearest or bilinear");
      auto options = torch::nn::functional::InterpolateFuncOptions().scale_factor(std::vector<double>{scale, scale});
      if (mode == "nearest")
        options.mode(torch::kNearest);
      else
        options.mode(torch::kBilinear).align_corners(false);
      step = [options](const Tensor& x, Saved&) { return torch::nn::functional::interpolate(x, options); };
    } else if (layer.type == "concat") {
      const std::string with = layer.text("with", "");
      if (!probeSaved.count(with)) specError(where, "\"with\": no earlier layer is named \"" + with + "\"");
      step = [with](const Tensor& x, Saved& saved) { return torch::cat({x, saved.at(with)}, 1); };
    } else if (layer.type == "softArgmax") {
      // Heatmaps (one channel per keypoint) to expected (x, y), in the engine's normalised
      // coordinates: heatmap cell j of width w covers input pixels centred at (j + 0.5) * side / w - 0.5.
      const double beta = layer.number("beta", 1.0);
      step = [beta](const Tensor& x, Saved&) {
        const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
        Tensor p = torch::softmax(x.reshape({n, c, h * w}) * beta, -1).reshape({n, c, h, w});
        // Normalised coordinate of cell j: ((j + 0.5) / w) * 2 - 1 (side cancels out).
        Tensor xs = (torch::arange(w, x.options()) + 0.5) / static_cast<double>(w) * 2 - 1;
        Tensor ys = (torch::arange(h, x.options()) + 0.5) / static_cast<double>(h) * 2 - 1;
        Tensor ex = (p.sum(2) * xs).sum(-1);
        Tensor ey = (p.sum(3) * ys).sum(-1);
        return torch::stack({ex, ey}, -1).reshape({n, 2 * c});
      };
    } else {
      specError(where, "unknown layer type \"" + layer.type + "\"");
    }

    auto full = tail.empty() ? step : [step, tail](const Tensor& x, Saved& saved) {
      Tensor y = step(x, saved);
      for (const auto& t : tail) y = t(y, saved);
      return y;
    };
    block.steps.push_back(full);
    const std::string name = layer.text("name", "");
    block.names.push_back(name);
    block.eval();  // probe without dropout or batch-norm statistic updates
    try {
      probe = full(probe, probeSaved);
    } catch (const c10::Error& error) {
      specError(where, std::string("does not fit its input ") + shapeText(probe) + ": " + error.what_without_backtrace());
    }
    if (!name.empty()) probeSaved[name] = probe;
  }
  return probe;
}

Tensor maskedMse(const Tensor& predictions, const Tensor& targets, Tensor& present) {
  // Missing keypoints are NaN: they get zero error and zero gradient, and the mean is taken
  // over the present coordinates only.
  Tensor mask = targets.isnan().logical_not().to(predictions.scalar_type());
  present = mask.sum();
  Tensor diff = (predictions - targets.nan_to_num(0.0)) * mask;
  return diff.pow(2).sum() / present.clamp_min(1.0);
}

torch::Device parseDevice(const std::string& device) {
  if (device.rfind("cuda", 0) == 0 && !torch::cuda::is_available())
    throw std::invalid_argument("device \"" + device + "\" requested but this libtorch has no usable CUDA device");
  return torch::Device(device);
}

// Keeps freed CPU tensor memory for reuse by the next tensor of the same byte size. Training
// allocates the same activation and gradient shapes every batch; glibc would hand the large
// ones back to the kernel and fault them in again (worst on the pool threads' malloc arenas),
// which cost about a third of the CPU time. Bounded: beyond the limit memory is freed as usual.
class CachingCpuAllocator final : public c10::Allocator {
 public:
  explicit CachingCpuAllocator(size_t limitBytes) : limit_(limitBytes) {}

  c10::DataPtr allocate(size_t bytes) const override {
    void* ptr = nullptr;
    if (bytes > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto found = free_.find(bytes);
      if (found != free_.end() && !found->second.empty()) {
        ptr = found->second.back();
        found->second.pop_back();
        cached_ -= bytes;
      }
    }
    if (!ptr && bytes > 0) ptr = c10::alloc_cpu(bytes);
    if (ptr) {
      std::lock_guard<std::mutex> lock(mutex_);
      sizes_[ptr] = bytes;
    }
    return {ptr, ptr, &release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  static CachingCpuAllocator& instance() {
    static CachingCpuAllocator* allocator = new CachingCpuAllocator(cacheLimit());  // never destroyed: tensors may outlive statics
    return *allocator;
  }

 private:
  static size_t cacheLimit() {
    const char* mb = std::getenv("FKD_CPU_CACHE_MB");
    return (mb ? static_cast<size_t>(std::strtoull(mb, nullptr, 10)) : 4096) << 20;
  }

  static void release(void* ptr) {
    if (ptr) instance().recycle(ptr);
  }

  void recycle(void* ptr) const {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto found = sizes_.find(ptr);
      if (found != sizes_.end()) {
        const size_t bytes = found->second;
        sizes_.erase(found);
        if (cached_ + bytes <= limit_) {
          free_[bytes].push_back(ptr);
          cached_ += bytes;
          return;
        }
      }
    }
    c10::free_cpu(ptr);
  }

  const size_t limit_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<size_t, std::vector<void*>> free_;
  mutable std::unordered_map<void*, size_t> sizes_;
  mutable size_t cached_ = 0;
};

}  // namespace

struct Model::Impl {
  ModelSpec spec;
  ModelOptions options;
  torch::Device device;
  Block net;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::mutex mutex;

  Impl(const ModelSpec& s, const ModelOptions& o) : spec(s), options(o), device(parseDevice(o.device)) {}

  Tensor toInput(Tensor images) const {
    images = images.to(device);
    return options.channelsLast ? images.contiguous(torch::MemoryFormat::ChannelsLast) : images;
  }
};

Model::Model(const ModelSpec& spec, const ModelOptions& options) : impl_(std::make_unique<Impl>(spec, options)) {
  applyThreadCount();
  std::lock_guard<std::mutex> lock(generatorMutex());
  torch::manual_seed(options.seed);
  Saved probeSaved;
  Tensor probe = torch::zeros({2, 1, spec.inputSize, spec.inputSize});
  torch::NoGradGuard noGrad;
  Tensor out = buildBlock(*impl_->net, spec.layers, probe, probeSaved, "");
  if (out.dim() != 2 || out.size(1) != spec.outputs)
    throw std::invalid_argument("model spec: the network's output is " + shapeText(out) + " but " + std::to_string(spec.outputs) +
                                " values per face are expected (2 per keypoint)");
  impl_->net->train();
  impl_->net->to(impl_->device);
  if (options.channelsLast) {
    for (auto& p : impl_->net->parameters())
      if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
  }
}

Model::~Model() = default;

int64_t Model::parameterCount() const {
  int64_t total = 0;
  for (const auto& p : impl_->net->parameters()) total += p.numel();
  return total;
}

void Model::setOptimizer(const OptimizerOptions& o) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  auto params = impl_->net->parameters();
  if (o.type == "adam") {
    impl_->optimizer = std::make_unique<torch::optim::Adam>(
        params, torch::optim::AdamOptions(o.learningRate).betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(o.weightDecay));
  } else if (o.type == "adamw") {
    impl_->optimizer = std::make_unique<torch::optim::AdamW>(
        params, torch::optim::AdamWOptions(o.learningRate).betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(o.weightDecay));
  } else if (o.type == "sgd") {
    impl_->optimizer = std::make_unique<torch::optim::SGD>(
        params, torch::optim::SGDOptions(o.learningRate).momentum(o.momentum).nesterov(o.nesterov).weight_decay(o.weightDecay));
  } else {
    throw std::invalid_argument("unknown optimizer \"" + o.type + "\" (known: adam, adamw, sgd)");
  }
}

void Model::setLearningRate(double learningRate) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (!impl_->optimizer) throw std::logic_error("setLearningRate before setOptimizer");
  for (auto& group : impl_->optimizer->param_groups()) group.options().set_lr(learningRate);
}

EpochResult Model::trainEpoch(const Dataset& data, const EpochOptions& options, const BatchCallback& onBatch) {
  applyThreadCount();
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::lock_guard<std::mutex> generatorLock(generatorMutex());
  if (!impl_->optimizer) throw std::logic_error("trainEpoch before setOptimizer");
  if (data.pointCount * 2 != impl_->spec.outputs)
    throw std::invalid_argument("the data has " + std::to_string(data.pointCount) + " keypoints per face but the model predicts " +
                                std::to_string(impl_->spec.outputs / 2));
  if (data.side != impl_->spec.inputSize)
    throw std::invalid_argument("the data's faces are " + std::to_string(data.side) + " pixels wide but the model takes " +
                                std::to_string(impl_->spec.inputSize));
  if (options.batchSize < 1) throw std::invalid_argument("batch size must be at least 1");
  if (options.augment.flip && static_cast<int64_t>(options.augment.flipPermutation.size()) != data.pointCount)
    throw std::invalid_argument("flip augmentation needs a flip permutation with one entry per keypoint");

  const auto started = std::chrono::steady_clock::now();
  // Every random stream of the epoch derives from (seed, epoch): a resumed run repeats it exactly.
  const uint64_t epochSeed = mixSeed(impl_->options.seed, static_cast<uint64_t>(options.epoch) + 1);
  torch::manual_seed(mixSeed(epochSeed, 1));
  Rng rng(mixSeed(epochSeed, 2));

  std::vector<int64_t> order(static_cast<size_t>(data.size));
  for (int64_t i = 0; i < data.size; i++) order[static_cast<size_t>(i)] = i;
  if (options.shuffle)
    for (int64_t i = data.size - 1; i > 0; i--) std::swap(order[static_cast<size_t>(i)], order[rng.below(static_cast<uint64_t>(i + 1))]);

  const int64_t side = data.side, pixels = side * side, coords = data.pointCount * 2;
  const CoordinateScale scale(side);
  // A final batch of one face is dropped: batch norm cannot train on it.
  int64_t usable = data.size;
  if (usable > 1 && usable % options.batchSize == 1) usable -= 1;
  const int64_t batches = (usable + options.batchSize - 1) / options.batchSize;

  EpochResult result;
  impl_->net->train();
  for (int64_t b = 0; b < batches; b++) {
    const int64_t begin = b * options.batchSize, count = std::min(options.batchSize, usable - begin);
    Tensor images = torch::empty({count, 1, side, side});
    Tensor targets = torch::empty({count, coords});
    std::vector<AugmentParams> params(static_cast<size_t>(count));
    if (options.augment.any())
      for (auto& p : params) p = drawAugmentParams(rng, options.augment);
    float* imageOut = images.data_ptr<float>();
    float* targetOut = targets.data_ptr<float>();
    at::parallel_for(0, count, 4, [&](int64_t from, int64_t to) {
      for (int64_t i = from; i < to; i++) {
        const int64_t face = order[static_cast<size_t>(begin + i)];
        augmentFace(&data.images[static_cast<size_t>(face * pixels)], &data.keypoints[static_cast<size_t>(face * coords)], side,
                    data.pointCount, params[static_cast<size_t>(i)], options.augment.flipPermutation, imageOut + i * pixels, targetOut + i * coords);
      }
    });
    targets.sub_(scale.centre).div_(scale.half);

    impl_->optimizer->zero_grad();
    Tensor present;
    Saved saved;
    Tensor output = impl_->net->forward(impl_->toInput(images), saved);
    Tensor loss = maskedMse(output, targets.to(impl_->device), present);
    loss.backward();
    if (options.gradClipNorm > 0) torch::nn::utils::clip_grad_norm_(impl_->net->parameters(), options.gradClipNorm);
    impl_->optimizer->step();

    const double batchLoss = loss.item<double>();
    const int64_t batchPresent = static_cast<int64_t>(present.item<double>());
    result.sumSquaredError += batchLoss * static_cast<double>(batchPresent) * scale.half * scale.half;
    result.coordinates += batchPresent;
    result.images += count;
    result.batches += 1;
    if (onBatch) onBatch(b + 1, batches, batchLoss);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

std::vector<float> Model::predict(const uint8_t* images, int64_t count, int64_t side, int64_t batchSize) {
  applyThreadCount();
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (side != impl_->spec.inputSize)
    throw std::invalid_argument("the faces are " + std::to_string(side) + " pixels wide but the model takes " + std::to_string(impl_->spec.inputSize));
  if (batchSize < 1) throw std::invalid_argument("batch size must be at least 1");
  torch::NoGradGuard noGrad;
  impl_->net->eval();
  const int64_t pixels = side * side, outputs = impl_->spec.outputs;
  const CoordinateScale scale(side);
  std::vector<float> result(static_cast<size_t>(count * outputs));
  for (int64_t begin = 0; begin < count; begin += batchSize) {
    const int64_t n = std::min(batchSize, count - begin);
    Tensor batch = torch::from_blob(const_cast<uint8_t*>(images + begin * pixels), {n, 1, side, side}, torch::kUInt8).to(torch::kFloat).div_(255.0);
    Saved saved;
    Tensor out = impl_->net->forward(impl_->toInput(batch), saved).to(torch::kCPU).contiguous();
    out.mul_(scale.half).add_(scale.centre);
    std::memcpy(result.data() + begin * outputs, out.data_ptr<float>(), static_cast<size_t>(n * outputs) * sizeof(float));
  }
  impl_->net->train();
  return result;
}

std::vector<TensorData> Model::stateTensors() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::vector<TensorData> out;
  auto add = [&](const std::string& name, const Tensor& t) {
    Tensor cpu = t.detach().to(torch::kCPU).contiguous();
    TensorData data;
    data.name = name;
    if (cpu.scalar_type() == torch::kFloat)
      data.dtype = "float32";
    else if (cpu.scalar_type() == torch::kLong)
      data.dtype = "int64";
    else
      throw std::runtime_error("tensor " + name + " has an unsupported dtype");
    data.shape = cpu.sizes().vec();
    const auto* bytes = static_cast<const uint8_t*>(cpu.data_ptr());
    data.bytes.assign(bytes, bytes + cpu.nbytes());
    out.push_back(std::move(data));
  };
  for (const auto& item : impl_->net->named_parameters(true)) add(item.key(), item.value());
  for (const auto& item : impl_->net->named_buffers(true)) add(item.key(), item.value());
  return out;
}

void Model::loadStateTensors(const std::vector<TensorData>& tensors) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::map<std::string, Tensor> targets;
  for (const auto& item : impl_->net->named_parameters(true)) targets[item.key()] = item.value();
  for (const auto& item : impl_->net->named_buffers(true)) targets[item.key()] = item.value();
  if (tensors.size() != targets.size())
    throw std::invalid_argument("the file holds " + std::to_string(tensors.size()) + " tensors but the model has " + std::to_string(targets.size()));
  // Check everything before changing anything, so a mismatch leaves the model as it was.
  for (const auto& t : tensors) {
    auto found = targets.find(t.name);
    if (found == targets.end()) throw std::invalid_argument("the model has no tensor named " + t.name);
    const std::string expected = found->second.scalar_type() == torch::kLong ? "int64" : "float32";
    if (t.dtype != expected) throw std::invalid_argument("tensor " + t.name + " is " + t.dtype + " but the model expects " + expected);
    if (found->second.sizes().vec() != t.shape) {
      std::ostringstream message;
      message << "tensor " << t.name << " has shape " << c10::IntArrayRef(t.shape) << " but the model expects " << found->second.sizes();
      throw std::invalid_argument(message.str());
    }
    if (t.bytes.size() != found->second.nbytes()) throw std::invalid_argument("tensor " + t.name + " has the wrong byte length");
  }
  torch::NoGradGuard noGrad;
  for (const auto& t : tensors) {
    Tensor& target = targets[t.name];
    Tensor source = torch::from_blob(const_cast<uint8_t*>(t.bytes.data()), t.shape, target.scalar_type() == torch::kLong ? torch::kLong : torch::kFloat);
    target.copy_(source);
  }
}

std::vector<uint8_t> Model::optimizerState() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (!impl_->optimizer) throw std::logic_error("optimizerState before setOptimizer");
  torch::serialize::OutputArchive archive;
  impl_->optimizer->save(archive);
  std::vector<uint8_t> bytes;
  archive.save_to([&](const void* data, size_t size) {
    const auto* p = static_cast<const uint8_t*>(data);
    bytes.insert(bytes.end(), p, p + size);
    return size;
  });
  return bytes;
}

void Model::loadOptimizerState(const std::vector<uint8_t>& bytes) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (!impl_->optimizer) throw std::logic_error("loadOptimizerState before setOptimizer");
  torch::serialize::InputArchive archive;
  archive.load_from(reinterpret_cast<const char*>(bytes.data()), bytes.size(), impl_->device);
  impl_->optimizer->load(archive);
}

double maskedMseGradient(const std::vector<double>& predictions, const std::vector<double>& targets, int64_t rows, std::vector<double>& gradient) {
  if (rows < 1 || predictions.size() != targets.size() || predictions.size() % static_cast<size_t>(rows) != 0)
    throw std::invalid_argument("predictions and targets must both be rows x columns");
  const int64_t cols = static_cast<int64_t>(predictions.size()) / rows;
  auto options = torch::TensorOptions().dtype(torch::kDouble);
  Tensor pred = torch::from_blob(const_cast<double*>(predictions.data()), {rows, cols}, options).clone().requires_grad_(true);
  Tensor target = torch::from_blob(const_cast<double*>(targets.data()), {rows, cols}, options).clone();
  Tensor present;
  Tensor loss = maskedMse(pred, target, present);
  loss.backward();
  Tensor grad = pred.grad().contiguous();
  gradient.assign(grad.data_ptr<double>(), grad.data_ptr<double>() + grad.numel());
  return loss.item<double>();
}

void setThreadCount(int threads) {
  if (threads < 0) throw std::invalid_argument("thread count must be 0 (all cores) or positive");
  requestedThreads = threads;
  applyThreadCount();
}

int threadCount() {
  const int requested = requestedThreads;
  if (requested > 0) return requested;
  const unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? static_cast<int>(cores) : 1;
}

void applyThreadCount() {
  const int threads = threadCount();
  if (at::get_num_threads() != threads) at::set_num_threads(threads);
}

void installCachingAllocator() {
  const char* setting = std::getenv("FKD_CPU_CACHE_MB");
  if (setting && std::string(setting) == "0") return;
  c10::SetCPUAllocator(&CachingCpuAllocator::instance(), /*priority=*/1);
}

std::string libtorchVersion() { return TORCH_VERSION; }

bool cudaAvailable() { return torch::cuda::is_available(); }

std::string describeException(const std::exception& error) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&error)) return c10->what_without_backtrace();
  return error.what();
}

}  // namespace fkd
