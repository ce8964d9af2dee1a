// The emulator's scheduler (blocks in order, a block's threads as cooperative fibers) and host shims of
// the few CUDA runtime calls our kernel wrappers make (memcpy / memset / synchronize / launch errors).
#include "emu.h"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define EMU_ASAN 1
#else
#define EMU_ASAN 0
#endif

namespace emu {

uint3 t_idx, b_idx;
dim3 g_dim, b_dim;

namespace {

#if EMU_ASAN
constexpr size_t kStack = 512 * 1024;
#else
constexpr size_t kStack = 128 * 1024;
#endif

struct Bar {
  int arrived = 0;
  uint64_t gen = 0;
  const char* file = nullptr;
  unsigned line = 0;
};
struct Fiber {
  ucontext_t ctx;
  char* stack = nullptr;
  bool done = false;
  const uint64_t* wait_gen = nullptr;  // waiting until *wait_gen != wait_val
  uint64_t wait_val = 0;
  void* fake_stack = nullptr;
};
struct Warp {
  Bar bar;
  int lanes = 0, live = 0;
  uint64_t slot[32];
};
struct Block {
  std::vector<Fiber> fibers;
  std::vector<Warp> warps;
  Bar bar;
  int live = 0, cur = -1;
  uint64_t progress = 0;
  ucontext_t sched;
  void (*thunk)(void*) = nullptr;
  void* ctx = nullptr;
  std::string error;
  const void* main_bottom = nullptr;
  size_t main_size = 0;
};
Block S;
std::vector<char> stacks;
std::vector<std::pair<void*, size_t>> shared_vars;
std::vector<unsigned char> dyn;
std::map<const void*, int> max_dyn_smem;
cudaError_t last_error = cudaSuccess;

std::string where(const char* file, unsigned line) {
  std::string f = file;
  const size_t s = f.rfind('/');
  return (s == std::string::npos ? f : f.substr(s + 1)) + ":" + std::to_string(line);
}

std::string who() {
  char buf[160];
  std::snprintf(buf, sizeof buf, "block (%u,%u,%u) thread (%u,%u,%u)", b_idx.x, b_idx.y, b_idx.z, t_idx.x, t_idx.y,
                t_idx.z);
  return buf;
}

int linear_tid() { return static_cast<int>(t_idx.x + b_dim.x * (t_idx.y + b_dim.y * t_idx.z)); }

void switch_to_scheduler() {
  Fiber& f = S.fibers[S.cur];
#if EMU_ASAN
  __sanitizer_start_switch_fiber(&f.fake_stack, S.main_bottom, S.main_size);
#endif
  swapcontext(&f.ctx, &S.sched);
#if EMU_ASAN
  __sanitizer_finish_switch_fiber(f.fake_stack, nullptr, nullptr);
#endif
}

void release(Bar& b) {
  b.arrived = 0;
  ++b.gen;
  ++S.progress;
}

void wait(Bar& b, int expected, const char* file, unsigned line, const char* kind) {
  if (b.arrived == 0) {
    b.file = file;
    b.line = line;
  } else if (b.line != line || std::strcmp(b.file, file) != 0) {
    fail_at((std::string("divergent ") + kind + ": " + who() + " is at " + where(file, line) + " while " +
             std::to_string(b.arrived) + " other thread(s) wait at " + where(b.file, b.line))
                .c_str(),
            file, line);
  }
  const uint64_t g = b.gen;
  if (++b.arrived >= expected) {
    release(b);
    return;
  }
  Fiber& f = S.fibers[S.cur];
  f.wait_gen = &b.gen;
  f.wait_val = g;
  switch_to_scheduler();
  f.wait_gen = nullptr;
}

Warp& my_warp(unsigned mask, const char* file, unsigned line, const char* op) {
  Warp& w = S.warps[linear_tid() / 32];
  if (mask != 0xffffffffu)
    fail_at((std::string(op) + " with a partial mask is not emulated (" + where(file, line) + ")").c_str(), file, line);
  if (w.lanes != 32 || w.live != 32)
    fail_at((std::string(op) + " with a full mask but only " + std::to_string(w.live) + " of 32 lanes present (" +
             who() + ", " + where(file, line) + ")")
                .c_str(),
            file, line);
  return w;
}

void entry() {
  Fiber& f = S.fibers[S.cur];
#if EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &S.main_bottom, &S.main_size);
#endif
  try {
    S.thunk(S.ctx);
  } catch (const std::exception& e) {
    if (S.error.empty()) S.error = e.what();
  }
  f.done = true;
  ++S.progress;
  --S.live;
  Warp& w = S.warps[linear_tid() / 32];
  --w.live;
  if (w.bar.arrived > 0 && S.error.empty())
    S.error = "a thread exited while its warp waits in a warp operation at " + where(w.bar.file, w.bar.line) + " (" +
              who() + ")";
  if (S.bar.arrived > 0 && S.bar.arrived >= S.live) release(S.bar);  // exited threads no longer count
#if EMU_ASAN
  __sanitizer_start_switch_fiber(nullptr, S.main_bottom, S.main_size);
#endif
  // returning resumes uc_link (the scheduler)
}

// EMU_SEED: 0 runs runnable threads in order every round; any other value picks a lagging warp per block.
const uint64_t seed = [] {
  const char* e = std::getenv("EMU_SEED");
  return e ? std::strtoull(e, nullptr, 10) : 1ull;
}();
uint64_t rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
uint64_t next_random() {  // splitmix64
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void poison_shared() {
  std::memset(dyn.data(), 0xff, dyn.size());
  for (auto& [p, n] : shared_vars) std::memset(p, 0xff, n);
}

void run_block(int nthreads) {
  S.bar = Bar{};
  S.live = nthreads;
  S.progress = 0;
  S.error.clear();
  S.fibers.assign(nthreads, Fiber{});
  S.warps.assign((nthreads + 31) / 32, Warp{});
  for (int i = 0; i < nthreads; ++i) {
    Fiber& f = S.fibers[i];
    S.warps[i / 32].lanes++;
    S.warps[i / 32].live++;
    f.stack = stacks.data() + size_t(i) * kStack;
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = f.stack;
    f.ctx.uc_stack.ss_size = kStack;
    f.ctx.uc_link = &S.sched;
    makecontext(&f.ctx, entry, 0);
  }
  poison_shared();
  std::vector<char> started(nthreads, 0);
  // EMU_SEED != 0: one random warp of the block (one random thread if the block is a single warp) lags:
  // it runs only when no other thread can, so the others race ahead to their next barrier as fast
  // warps do on hardware, and a missing barrier before shared memory is reused shows in the results.
  const int warps = (nthreads + 31) / 32;
  const int lag = seed == 0 ? -1 : static_cast<int>(next_random() % uint64_t(warps > 1 ? warps : nthreads));
  auto lagging = [&](int i) { return warps > 1 ? i / 32 == lag : i == lag; };
  for (;;) {
    const uint64_t before = S.progress;
    bool any = false;
    for (int pass = 0; pass < 2; ++pass) {
      if (pass == 1 && (lag < 0 || S.progress != before)) break;  // the laggard waits while others move
      for (int i = 0; i < nthreads; ++i) {
        Fiber& f = S.fibers[i];
        if (f.done) continue;
        any = true;
        if (f.wait_gen && *f.wait_gen == f.wait_val) continue;  // still blocked
        if (lag >= 0 && lagging(i) != (pass == 1)) continue;
        if (!started[i]) {
          started[i] = 1;
          ++S.progress;
        }
        S.cur = i;
        t_idx = {static_cast<unsigned>(i % b_dim.x), static_cast<unsigned>(i / b_dim.x % b_dim.y),
                 static_cast<unsigned>(i / (b_dim.x * b_dim.y))};
#if EMU_ASAN
        void* fake = nullptr;
        __sanitizer_start_switch_fiber(&fake, f.stack, kStack);
#endif
        swapcontext(&S.sched, &f.ctx);
#if EMU_ASAN
        __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
        if (!S.error.empty()) throw std::runtime_error(S.error);
      }
    }
    if (!any) break;
    if (S.progress == before) {
      std::string msg = "deadlock: no thread can move;";
      int shown = 0;
      for (int i = 0; i < nthreads && shown < 4; ++i)
        if (!S.fibers[i].done) {
          ++shown;
          const Bar* b = S.fibers[i].wait_gen == &S.bar.gen ? &S.bar : &S.warps[i / 32].bar;
          msg += " thread " + std::to_string(i) + " waits at " + where(b->file ? b->file : "?", b->line) + ";";
        }
      throw std::runtime_error(msg);
    }
  }
}

}  // namespace

[[noreturn]] void fail_at(const char* what, const char* file, unsigned line) {
  throw std::runtime_error(std::string("[emu] ") + what + " (" + where(file, line) + ")");
}
[[noreturn]] void fail(const char* what, const std::source_location& loc) {
  fail_at((std::string(what) + " in " + who()).c_str(), loc.file_name(), loc.line());
}

void register_shared(void* p, size_t bytes) {
  for (auto& v : shared_vars)
    if (v.first == p) return;
  shared_vars.emplace_back(p, bytes);
  std::memset(p, 0xff, bytes);  // first sight, before any thread of this block used it
}

// 128-byte aligned, as `extern __shared__ __align__(128)` asks (wmma needs 32).
void* dynamic_smem() {
  const uintptr_t a = reinterpret_cast<uintptr_t>(dyn.data());
  return dyn.data() + (128 - a % 128) % 128;
}

int lane_id() { return linear_tid() % 32; }

void sync_block(const char* file, unsigned line) { wait(S.bar, S.live, file, line, "__syncthreads"); }

void sync_warp(unsigned mask, const char* file, unsigned line) {
  Warp& w = my_warp(mask, file, line, "__syncwarp");
  wait(w.bar, w.live, file, line, "__syncwarp");
}

uint64_t warp_exchange(unsigned mask, uint64_t mine, int src_lane, const char* file, unsigned line) {
  Warp& w = my_warp(mask, file, line, "warp shuffle");
  const int lane = lane_id();
  w.slot[lane] = mine;
  wait(w.bar, w.live, file, line, "warp shuffle");
  const uint64_t r = w.slot[src_lane];
  wait(w.bar, w.live, file, line, "warp shuffle");
  return r;
}

void warp_gather(unsigned mask, uint64_t mine, uint64_t (&all)[32], const char* file, unsigned line) {
  Warp& w = my_warp(mask, file, line, "warp vote");
  w.slot[lane_id()] = mine;
  wait(w.bar, w.live, file, line, "warp vote");
  std::memcpy(all, w.slot, sizeof all);
  wait(w.bar, w.live, file, line, "warp vote");
}

uint64_t launches = 0, blocks_run = 0;

void run_launch(const LaunchConfig& c, void (*thunk)(void*), void* ctx) {
  const uint64_t threads = uint64_t(c.block.x) * c.block.y * c.block.z;
  // Kernels are reached through a lambda, so the raised limit is the largest any kernel asked for.
  size_t limit = 48 * 1024;
  for (auto& [k, v] : max_dyn_smem) limit = std::max(limit, size_t(v));
  if (threads == 0 || threads > 1024 || c.block.z > 64 || c.grid.x == 0 || c.grid.y == 0 || c.grid.z == 0 ||
      c.grid.x > 2147483647u || c.grid.y > 65535 || c.grid.z > 65535) {
    std::fprintf(stderr, "[emu] bad launch grid (%u,%u,%u) block (%u,%u,%u)\n", c.grid.x, c.grid.y, c.grid.z,
                 c.block.x, c.block.y, c.block.z);
    last_error = cudaErrorInvalidConfiguration;
    return;
  }
  if (c.smem > limit || c.smem > 227 * 1024) {
    std::fprintf(stderr, "[emu] %zu bytes of dynamic shared memory over the kernel's limit %zu\n", c.smem, limit);
    last_error = cudaErrorInvalidValue;
    return;
  }
  ++launches;
  if (stacks.size() < threads * kStack) stacks.assign(threads * kStack, 0);
  dyn.assign(c.smem + 128, 0xff);
  g_dim = c.grid;
  b_dim = c.block;
  S.thunk = thunk;
  S.ctx = ctx;
  for (unsigned z = 0; z < c.grid.z; ++z)
    for (unsigned y = 0; y < c.grid.y; ++y)
      for (unsigned x = 0; x < c.grid.x; ++x) {
        b_idx = {x, y, z};
        ++blocks_run;
        run_block(static_cast<int>(threads));
      }
}

}  // namespace emu

// ---- CUDA runtime shims: device memory is host memory, the stream is the calling thread.
extern "C" {
cudaError_t cudaGetLastError(void) {
  const cudaError_t e = emu::last_error;
  emu::last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError(void) { return emu::last_error; }
const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument (emulator)";
    case cudaErrorInvalidValue: return "invalid argument (emulator)";
    default: return "error (emulator)";
  }
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind, cudaStream_t) {
  if (n) std::memmove(dst, src, n);
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind) {
  if (n) std::memmove(dst, src, n);
  return cudaSuccess;
}
cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                              cudaMemcpyKind, cudaStream_t) {
  if (width > dpitch || width > spitch) return cudaErrorInvalidPitchValue;  // as CUDA does
  for (size_t r = 0; r < height; ++r)
    std::memmove(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* dst, int v, size_t n, cudaStream_t) {
  if (n) std::memset(dst, v, n);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* dst, int v, size_t n) {
  if (n) std::memset(dst, v, n);
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
cudaError_t cudaFuncSetAttribute(const void* f, cudaFuncAttribute attr, int value) {
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value > 227 * 1024) return cudaErrorInvalidValue;
    emu::max_dyn_smem[f] = value;
  }
  return cudaSuccess;
}
}
