#!/usr/bin/env node
// Prints build settings for binding.gyp: which libtorch to compile and link against.
// FKD_LIBTORCH=<root> selects another libtorch (root/include, root/lib), e.g. a CUDA build
// or the one inside a pip torch package (…/site-packages/torch); default is Debian's libtorch-dev.
// FKD_TORCH_CXX11_ABI=0|1 overrides the detected C++ ABI of that libtorch.
'use strict';
const { existsSync } = require('node:fs');
const { join, resolve } = require('node:path');
const { execFileSync } = require('node:child_process');

function debianLibDir() {
  const candidates = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'];
  const found = candidates.find((dir) => existsSync(join(dir, 'libtorch_cpu.so')));
  if (!found) fail(`no libtorch_cpu.so in ${candidates.join(', ')}; install libtorch-dev or set FKD_LIBTORCH`);
  return found;
}

function fail(message) {
  process.stderr.write(`fkd native build: ${message}\n`);
  process.exit(1);
}

function settings() {
  const root = process.env.FKD_LIBTORCH;
  if (root) {
    const base = resolve(root);
    const include = [join(base, 'include'), join(base, 'include', 'torch', 'csrc', 'api', 'include')];
    const lib = join(base, 'lib');
    if (!existsSync(join(include[1], 'torch', 'torch.h'))) fail(`FKD_LIBTORCH=${root}: no include/torch/csrc/api/include/torch/torch.h`);
    if (!existsSync(join(lib, 'libtorch_cpu.so'))) fail(`FKD_LIBTORCH=${root}: no lib/libtorch_cpu.so`);
    return { include, lib };
  }
  if (!existsSync('/usr/include/torch/csrc/api/include/torch/torch.h')) fail('libtorch headers not found; install libtorch-dev or set FKD_LIBTORCH');
  return { include: ['/usr/include/torch/csrc/api/include'], lib: debianLibDir() };
}

// pip wheels of older torch were built with the pre-C++11 std::string ABI; the addon must match.
function cxx11Abi(lib) {
  if (process.env.FKD_TORCH_CXX11_ABI === '0' || process.env.FKD_TORCH_CXX11_ABI === '1') return process.env.FKD_TORCH_CXX11_ABI;
  try {
    const symbols = execFileSync('nm', ['-D', '--defined-only', join(lib, 'libc10.so')], { encoding: 'utf8', maxBuffer: 256 << 20 });
    return symbols.includes('__cxx11') ? '1' : '0';
  } catch {
    return '1';
  }
}

const { include, lib } = settings();
const what = process.argv[2];
if (what === 'include') {
  console.log(include.join(' '));
} else if (what === 'libdir') {
  console.log(lib);
} else if (what === 'libs') {
  const libs = [`-L${lib}`, `-Wl,-rpath,${lib}`, '-Wl,--no-as-needed'];
  // CUDA builds keep their kernels in libtorch_cuda; linking it registers the CUDA backend.
  for (const extra of ['torch_cuda', 'c10_cuda']) if (existsSync(join(lib, `lib${extra}.so`))) libs.push(`-l${extra}`);
  libs.push('-ltorch', '-ltorch_cpu', '-lc10', '-Wl,--as-needed');
  console.log(libs.join(' '));
} else if (what === 'defines') {
  console.log(`_GLIBCXX_USE_CXX11_ABI=${cxx11Abi(lib)}`);
} else {
  fail('usage: libtorch-config.cjs include|libdir|libs|defines');
}
