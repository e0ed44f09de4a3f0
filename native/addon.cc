// N-API binding of the engine: converts JS values to engine structs and back, runs long calls
// (training epochs, inference) on the libuv pool and turns C++ exceptions into JS errors.
#include <napi.h>

#include <atomic>
#include <cmath>
#include <cstring>

#include "engine.h"

namespace {

using fkd::describeException;

std::string typeName(const Napi::Value& value) {
  if (value.IsNull()) return "null";
  if (value.IsArray()) return "array";
  switch (value.Type()) {
    case napi_undefined: return "undefined";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    default: return "object";
  }
}

// JSON-like spec object to LayerSpec: numbers and booleans become numbers, strings stay, and a
// "layers" array becomes nested layers.
fkd::LayerSpec toLayerSpec(const Napi::Object& object, const std::string& where, bool isRoot = false) {
  fkd::LayerSpec layer;
  Napi::Array keys = object.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); i++) {
    const std::string key = keys.Get(i).As<Napi::String>().Utf8Value();
    Napi::Value value = object.Get(key);
    if (key == "type") {
      if (!value.IsString()) throw std::invalid_argument(where + ": \"type\" must be a string");
      layer.type = value.As<Napi::String>().Utf8Value();
    } else if (key == "layers") {
      if (!value.IsArray()) throw std::invalid_argument(where + ": \"layers\" must be an array");
      Napi::Array list = value.As<Napi::Array>();
      for (uint32_t j = 0; j < list.Length(); j++) {
        Napi::Value item = list.Get(j);
        const std::string inner = where + ".layers[" + std::to_string(j) + "]";
        if (!item.IsObject() || item.IsArray()) throw std::invalid_argument(inner + " must be an object");
        layer.layers.push_back(toLayerSpec(item.As<Napi::Object>(), inner));
      }
    } else if (value.IsNumber()) {
      layer.numbers[key] = value.As<Napi::Number>().DoubleValue();
    } else if (value.IsBoolean()) {
      layer.numbers[key] = value.As<Napi::Boolean>().Value() ? 1 : 0;
    } else if (value.IsString()) {
      layer.strings[key] = value.As<Napi::String>().Utf8Value();
    } else {
      throw std::invalid_argument(where + ": \"" + key + "\" cannot be " + typeName(value));
    }
  }
  if (layer.type.empty() && !isRoot) throw std::invalid_argument(where + ": a layer needs a \"type\"");
  return layer;
}

fkd::ModelSpec toModelSpec(const Napi::Object& object) {
  fkd::ModelSpec spec;
  fkd::LayerSpec root = toLayerSpec(object, "model spec", true);
  spec.inputSize = static_cast<int64_t>(root.number("inputSize", 96));
  spec.outputs = static_cast<int64_t>(root.number("outputs", 30));
  spec.layers = std::move(root.layers);
  if (spec.layers.empty()) throw std::invalid_argument("model spec: \"layers\" must be a non-empty array");
  return spec;
}

double numberOr(const Napi::Object& object, const char* key, double fallback) {
  Napi::Value value = object.Get(key);
  if (value.IsUndefined()) return fallback;
  if (!value.IsNumber()) throw std::invalid_argument(std::string("\"") + key + "\" must be a number");
  return value.As<Napi::Number>().DoubleValue();
}

bool boolOr(const Napi::Object& object, const char* key, bool fallback) {
  Napi::Value value = object.Get(key);
  if (value.IsUndefined()) return fallback;
  if (!value.IsBoolean()) throw std::invalid_argument(std::string("\"") + key + "\" must be a boolean");
  return value.As<Napi::Boolean>().Value();
}

std::string stringOr(const Napi::Object& object, const char* key, const std::string& fallback) {
  Napi::Value value = object.Get(key);
  if (value.IsUndefined()) return fallback;
  if (!value.IsString()) throw std::invalid_argument(std::string("\"") + key + "\" must be a string");
  return value.As<Napi::String>().Utf8Value();
}

Napi::Object objectArg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  if (info.Length() <= index || !info[index].IsObject()) throw std::invalid_argument(std::string(what) + " must be an object");
  return info[index].As<Napi::Object>();
}

void requireType(const Napi::CallbackInfo& info, size_t index, napi_typedarray_type type, const char* what) {
  if (info.Length() <= index || !info[index].IsTypedArray() || info[index].As<Napi::TypedArray>().TypedArrayType() != type)
    throw std::invalid_argument(std::string(what) + " has the wrong typed-array type");
}

int64_t integerArg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  if (info.Length() <= index || !info[index].IsNumber()) throw std::invalid_argument(std::string(what) + " must be a number");
  const double value = info[index].As<Napi::Number>().DoubleValue();
  if (value < 0 || value != std::floor(value)) throw std::invalid_argument(std::string(what) + " must be a non-negative integer");
  return static_cast<int64_t>(value);
}

fkd::AugmentOptions toAugmentOptions(const Napi::Object& object) {
  fkd::AugmentOptions options;
  options.flip = boolOr(object, "flip", false);
  options.rotationDegrees = numberOr(object, "rotation", 0);
  options.scale = numberOr(object, "scale", 0);
  options.shift = numberOr(object, "shift", 0);
  options.brightness = numberOr(object, "brightness", 0);
  options.contrast = numberOr(object, "contrast", 0);
  Napi::Value permutation = object.Get("flipPermutation");
  if (permutation.IsArray()) {
    Napi::Array list = permutation.As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); i++) options.flipPermutation.push_back(list.Get(i).As<Napi::Number>().Int32Value());
  }
  return options;
}

Napi::Object epochResultToJs(Napi::Env env, const fkd::EpochResult& result) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("sumSquaredError", result.sumSquaredError);
  out.Set("coordinates", static_cast<double>(result.coordinates));
  out.Set("batches", static_cast<double>(result.batches));
  out.Set("images", static_cast<double>(result.images));
  out.Set("seconds", result.seconds);
  return out;
}

// Wraps a call in try/catch so that every C++ exception becomes a JS exception.
template <typename F>
Napi::Value guarded(Napi::Env env, F&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& error) {
    throw Napi::Error::New(env, describeException(error));
  }
}

// A promise-returning worker: Run() executes on the libuv pool, Result() back on the JS thread.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  virtual void Run() = 0;
  virtual Napi::Value Result(Napi::Env env) = 0;

  void Execute() override {
    try {
      Run();
    } catch (const std::exception& error) {
      SetError(describeException(error));
    }
  }
  void OnOK() override { deferred_.Resolve(Result(Env())); }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
};

class DatasetWrap : public Napi::ObjectWrap<DatasetWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeDataset", {InstanceAccessor<&DatasetWrap::Size>("size"), InstanceAccessor<&DatasetWrap::PointCount>("pointCount")});
  }

  // new NativeDataset(images: Uint8Array, keypoints: Float32Array, size, pointCount, side)
  explicit DatasetWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DatasetWrap>(info) {
    guarded(info.Env(), [&]() -> Napi::Value {
      requireType(info, 0, napi_uint8_array, "images");
      requireType(info, 1, napi_float32_array, "keypoints");
      auto images = info[0].As<Napi::Uint8Array>();
      auto keypoints = info[1].As<Napi::Float32Array>();
      auto data = std::make_shared<fkd::Dataset>();
      data->size = integerArg(info, 2, "size");
      data->pointCount = integerArg(info, 3, "pointCount");
      data->side = integerArg(info, 4, "side");
      if (static_cast<int64_t>(images.ElementLength()) != data->size * data->side * data->side)
        throw std::invalid_argument("images must hold size * side * side values");
      if (static_cast<int64_t>(keypoints.ElementLength()) != data->size * data->pointCount * 2)
        throw std::invalid_argument("keypoints must hold size * pointCount * 2 values");
      // The one copy the engine makes: later batches are gathered from this memory.
      data->images.assign(images.Data(), images.Data() + images.ElementLength());
      data->keypoints.assign(keypoints.Data(), keypoints.Data() + keypoints.ElementLength());
      data_ = data;
      return info.Env().Undefined();
    });
  }

  std::shared_ptr<const fkd::Dataset> data() const { return data_; }

 private:
  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(data_->size)); }
  Napi::Value PointCount(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(data_->pointCount)); }
  std::shared_ptr<const fkd::Dataset> data_;
};

Napi::FunctionReference* datasetConstructor = nullptr;

struct BatchReport {
  int64_t batch, batches;
  double loss;
};

class TrainEpochWorker : public Napi::AsyncProgressQueueWorker<BatchReport> {
 public:
  TrainEpochWorker(Napi::Env env, Napi::Function onBatch, std::shared_ptr<fkd::Model> model, std::shared_ptr<const fkd::Dataset> data,
                   fkd::EpochOptions options)
      : Napi::AsyncProgressQueueWorker<BatchReport>(onBatch),
        deferred_(Napi::Promise::Deferred::New(env)),
        model_(std::move(model)),
        data_(std::move(data)),
        options_(std::move(options)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute(const ExecutionProgress& progress) override {
    try {
      result_ = model_->trainEpoch(*data_, options_, [&](int64_t batch, int64_t batches, double loss) {
        if (callbackFailed_) throw std::runtime_error("training stopped: the batch callback threw");
        BatchReport report{batch, batches, loss};
        progress.Send(&report, 1);
      });
    } catch (const std::exception& error) {
      SetError(describeException(error));
    }
  }
  void OnProgress(const BatchReport* reports, size_t count) override {
    Napi::HandleScope scope(Env());
    for (size_t i = 0; i < count && !callbackFailed_; i++) {
      try {
        Callback().Call({Napi::Number::New(Env(), static_cast<double>(reports[i].batch)), Napi::Number::New(Env(), static_cast<double>(reports[i].batches)),
                         Napi::Number::New(Env(), reports[i].loss)});
      } catch (const Napi::Error& error) {
        // The epoch stops at its next batch and its promise rejects with the callback's error.
        callbackError_ = Napi::Persistent(error.Value());
        callbackFailed_ = true;
      }
    }
  }
  void OnOK() override {
    if (callbackFailed_)
      deferred_.Reject(callbackError_.Value());
    else
      deferred_.Resolve(epochResultToJs(Env(), result_));
  }
  void OnError(const Napi::Error& error) override { deferred_.Reject(callbackFailed_ ? callbackError_.Value() : error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::atomic<bool> callbackFailed_{false};
  Napi::ObjectReference callbackError_;
  std::shared_ptr<fkd::Model> model_;
  std::shared_ptr<const fkd::Dataset> data_;
  fkd::EpochOptions options_;
  fkd::EpochResult result_;
};

class PredictWorker : public PromiseWorker {
 public:
  PredictWorker(Napi::Env env, std::shared_ptr<fkd::Model> model, Napi::Uint8Array images, int64_t count, int64_t side, int64_t batchSize)
      : PromiseWorker(env), model_(std::move(model)), images_(Napi::Persistent(images)), pixels_(images.Data()), count_(count), side_(side), batchSize_(batchSize) {}

 protected:
  // The JS array stays referenced (images_) while the pool thread reads it.
  void Run() override { output_ = model_->predict(pixels_, count_, side_, batchSize_); }
  Napi::Value Result(Napi::Env env) override {
    auto out = Napi::Float32Array::New(env, output_.size());
    std::memcpy(out.Data(), output_.data(), output_.size() * sizeof(float));
    return out;
  }

 private:
  std::shared_ptr<fkd::Model> model_;
  Napi::Reference<Napi::Uint8Array> images_;
  const uint8_t* pixels_;
  int64_t count_, side_, batchSize_;
  std::vector<float> output_;
};

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeModel",
                       {InstanceMethod<&ModelWrap::ParameterCount>("parameterCount"), InstanceMethod<&ModelWrap::SetOptimizer>("setOptimizer"),
                        InstanceMethod<&ModelWrap::SetLearningRate>("setLearningRate"), InstanceMethod<&ModelWrap::TrainEpoch>("trainEpoch"),
                        InstanceMethod<&ModelWrap::Predict>("predict"), InstanceMethod<&ModelWrap::GetState>("getState"),
                        InstanceMethod<&ModelWrap::SetState>("setState"), InstanceMethod<&ModelWrap::GetOptimizerState>("getOptimizerState"),
                        InstanceMethod<&ModelWrap::SetOptimizerState>("setOptimizerState")});
  }

  // new NativeModel(spec, { seed, device, channelsLast })
  explicit ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
    guarded(info.Env(), [&]() -> Napi::Value {
      fkd::ModelSpec spec = toModelSpec(objectArg(info, 0, "spec"));
      Napi::Object options = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(info.Env());
      fkd::ModelOptions modelOptions;
      modelOptions.seed = static_cast<uint64_t>(numberOr(options, "seed", 1));
      modelOptions.device = stringOr(options, "device", "cpu");
      modelOptions.channelsLast = boolOr(options, "channelsLast", false);
      model_ = std::make_shared<fkd::Model>(spec, modelOptions);
      return info.Env().Undefined();
    });
  }

 private:
  Napi::Value ParameterCount(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(model_->parameterCount())); }

  Napi::Value SetOptimizer(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      Napi::Object o = objectArg(info, 0, "optimizer options");
      fkd::OptimizerOptions options;
      options.type = stringOr(o, "type", "adam");
      options.learningRate = numberOr(o, "learningRate", 1e-3);
      options.weightDecay = numberOr(o, "weightDecay", 0);
      options.momentum = numberOr(o, "momentum", 0.9);
      options.nesterov = boolOr(o, "nesterov", false);
      options.beta1 = numberOr(o, "beta1", 0.9);
      options.beta2 = numberOr(o, "beta2", 0.999);
      options.eps = numberOr(o, "eps", 1e-8);
      model_->setOptimizer(options);
      return info.Env().Undefined();
    });
  }

  Napi::Value SetLearningRate(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      if (info.Length() < 1 || !info[0].IsNumber()) throw std::invalid_argument("learning rate must be a number");
      model_->setLearningRate(info[0].As<Napi::Number>().DoubleValue());
      return info.Env().Undefined();
    });
  }

  // trainEpoch(dataset, { epoch, batchSize, shuffle, gradClipNorm, augment }, onBatch?) → Promise<EpochResult>
  Napi::Value TrainEpoch(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      if (info.Length() < 1 || !info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(datasetConstructor->Value()))
        throw std::invalid_argument("trainEpoch needs a NativeDataset");
      auto data = DatasetWrap::Unwrap(info[0].As<Napi::Object>())->data();
      Napi::Object o = objectArg(info, 1, "epoch options");
      fkd::EpochOptions options;
      options.epoch = static_cast<int64_t>(numberOr(o, "epoch", 0));
      options.batchSize = static_cast<int64_t>(numberOr(o, "batchSize", 64));
      options.shuffle = boolOr(o, "shuffle", true);
      options.gradClipNorm = numberOr(o, "gradClipNorm", 0);
      Napi::Value augment = o.Get("augment");
      if (augment.IsObject()) options.augment = toAugmentOptions(augment.As<Napi::Object>());
      Napi::Function onBatch = info.Length() > 2 && info[2].IsFunction() ? info[2].As<Napi::Function>()
                                                                          : Napi::Function::New(env, [](const Napi::CallbackInfo&) {});
      auto* worker = new TrainEpochWorker(env, onBatch, model_, data, options);
      Napi::Promise promise = worker->Promise();
      worker->Queue();
      return promise;
    });
  }

  // predict(images: Uint8Array, count, side, batchSize) → Promise<Float32Array> (pixel coordinates)
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      requireType(info, 0, napi_uint8_array, "images");
      auto images = info[0].As<Napi::Uint8Array>();
      const int64_t count = integerArg(info, 1, "count"), side = integerArg(info, 2, "side"), batchSize = integerArg(info, 3, "batchSize");
      if (static_cast<int64_t>(images.ElementLength()) != count * side * side) throw std::invalid_argument("images must hold count * side * side values");
      auto* worker = new PredictWorker(info.Env(), model_, images, count, side, batchSize);
      Napi::Promise promise = worker->Promise();
      worker->Queue();
      return promise;
    });
  }

  // getState() → [{ name, dtype, shape, data: Uint8Array }]: parameters, then buffers.
  Napi::Value GetState(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      auto tensors = model_->stateTensors();
      Napi::Array out = Napi::Array::New(env, tensors.size());
      for (size_t i = 0; i < tensors.size(); i++) {
        Napi::Object t = Napi::Object::New(env);
        t.Set("name", tensors[i].name);
        t.Set("dtype", tensors[i].dtype);
        Napi::Array shape = Napi::Array::New(env, tensors[i].shape.size());
        for (size_t d = 0; d < tensors[i].shape.size(); d++) shape.Set(static_cast<uint32_t>(d), static_cast<double>(tensors[i].shape[d]));
        t.Set("shape", shape);
        auto bytes = Napi::Uint8Array::New(env, tensors[i].bytes.size());
        std::memcpy(bytes.Data(), tensors[i].bytes.data(), tensors[i].bytes.size());
        t.Set("data", bytes);
        out.Set(static_cast<uint32_t>(i), t);
      }
      return out;
    });
  }

  Napi::Value SetState(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      if (info.Length() < 1 || !info[0].IsArray()) throw std::invalid_argument("setState needs an array of tensors");
      Napi::Array list = info[0].As<Napi::Array>();
      std::vector<fkd::TensorData> tensors;
      for (uint32_t i = 0; i < list.Length(); i++) {
        Napi::Object t = list.Get(i).As<Napi::Object>();
        fkd::TensorData data;
        data.name = stringOr(t, "name", "");
        data.dtype = stringOr(t, "dtype", "float32");
        Napi::Array shape = t.Get("shape").As<Napi::Array>();
        for (uint32_t d = 0; d < shape.Length(); d++) data.shape.push_back(shape.Get(d).As<Napi::Number>().Int64Value());
        Napi::Value bytesValue = t.Get("data");
        if (!bytesValue.IsTypedArray() || bytesValue.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
          throw std::invalid_argument("tensor " + data.name + ": data must be a Uint8Array");
        auto bytes = bytesValue.As<Napi::Uint8Array>();
        data.bytes.assign(bytes.Data(), bytes.Data() + bytes.ByteLength());
        tensors.push_back(std::move(data));
      }
      model_->loadStateTensors(tensors);
      return info.Env().Undefined();
    });
  }

  Napi::Value GetOptimizerState(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      auto bytes = model_->optimizerState();
      auto out = Napi::Uint8Array::New(info.Env(), bytes.size());
      std::memcpy(out.Data(), bytes.data(), bytes.size());
      return out;
    });
  }

  Napi::Value SetOptimizerState(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      requireType(info, 0, napi_uint8_array, "optimizer state");
      auto bytes = info[0].As<Napi::Uint8Array>();
      model_->loadOptimizerState(std::vector<uint8_t>(bytes.Data(), bytes.Data() + bytes.ByteLength()));
      return info.Env().Undefined();
    });
  }

  std::shared_ptr<fkd::Model> model_;
};

// maskedMseGradient(predictions: Float64Array, targets: Float64Array, rows) → { loss, gradient }
Napi::Value MaskedMseGradient(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    requireType(info, 0, napi_float64_array, "predictions");
    requireType(info, 1, napi_float64_array, "targets");
    auto pred = info[0].As<Napi::Float64Array>();
    auto target = info[1].As<Napi::Float64Array>();
    std::vector<double> gradient;
    const double loss = fkd::maskedMseGradient(std::vector<double>(pred.Data(), pred.Data() + pred.ElementLength()),
                                               std::vector<double>(target.Data(), target.Data() + target.ElementLength()), integerArg(info, 2, "rows"),
                                               gradient);
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("loss", loss);
    auto grad = Napi::Float64Array::New(info.Env(), gradient.size());
    std::memcpy(grad.Data(), gradient.data(), gradient.size() * sizeof(double));
    out.Set("gradient", grad);
    return out;
  });
}

// augmentFaces(images: Uint8Array, keypoints: Float32Array, count, pointCount, side, options, seed)
//   → { images: Float32Array ([0,1]), keypoints: Float32Array }: the training code path, exposed for tests.
Napi::Value AugmentFaces(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    requireType(info, 0, napi_uint8_array, "images");
    requireType(info, 1, napi_float32_array, "keypoints");
    auto images = info[0].As<Napi::Uint8Array>();
    auto keypoints = info[1].As<Napi::Float32Array>();
    const int64_t count = integerArg(info, 2, "count"), points = integerArg(info, 3, "pointCount"), side = integerArg(info, 4, "side");
    fkd::AugmentOptions options = toAugmentOptions(objectArg(info, 5, "augment options"));
    const uint64_t seed = static_cast<uint64_t>(integerArg(info, 6, "seed"));
    if (static_cast<int64_t>(images.ElementLength()) != count * side * side || static_cast<int64_t>(keypoints.ElementLength()) != count * points * 2)
      throw std::invalid_argument("images / keypoints do not match count, pointCount and side");
    if (options.flip && static_cast<int64_t>(options.flipPermutation.size()) != points)
      throw std::invalid_argument("flip needs a flip permutation with one entry per keypoint");
    auto outImages = Napi::Float32Array::New(info.Env(), images.ElementLength());
    auto outKeypoints = Napi::Float32Array::New(info.Env(), keypoints.ElementLength());
    fkd::Rng rng(seed);
    for (int64_t i = 0; i < count; i++) {
      const fkd::AugmentParams params = fkd::drawAugmentParams(rng, options);
      fkd::augmentFace(images.Data() + i * side * side, keypoints.Data() + i * points * 2, side, points, params, options.flipPermutation,
                       outImages.Data() + i * side * side, outKeypoints.Data() + i * points * 2);
    }
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("images", outImages);
    out.Set("keypoints", outKeypoints);
    return out;
  });
}

Napi::Value SetThreadCount(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    fkd::setThreadCount(static_cast<int>(integerArg(info, 0, "threads")));
    return info.Env().Undefined();
  });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  fkd::installCachingAllocator();
  Napi::Function dataset = DatasetWrap::Define(env);
  datasetConstructor = new Napi::FunctionReference(Napi::Persistent(dataset));
  exports.Set("NativeDataset", dataset);
  exports.Set("NativeModel", ModelWrap::Define(env));
  exports.Set("maskedMseGradient", Napi::Function::New(env, MaskedMseGradient));
  exports.Set("augmentFaces", Napi::Function::New(env, AugmentFaces));
  exports.Set("setThreadCount", Napi::Function::New(env, SetThreadCount));
  exports.Set("threadCount", Napi::Function::New(env, [](const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fkd::threadCount()); }));
  exports.Set("libtorchVersion", Napi::Function::New(env, [](const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), fkd::libtorchVersion()); }));
  exports.Set("cudaAvailable", Napi::Function::New(env, [](const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), fkd::cudaAvailable()); }));
  return exports;
}

}  // namespace

NODE_API_MODULE(fkd_native, Init)
